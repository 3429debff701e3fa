#!/usr/bin/env bash
# Install kubectl from an apt package registry when it is missing or too old (called by `make install`).
#
#   bash scripts/install-kubectl.sh            # use an apt repository that is already configured
#   O3V_ADD_K8S_APT_REPO=1 bash scripts/install-kubectl.sh   # first add the Kubernetes project's apt repository
#
# o3v needs kubectl for `make deploy` and for the manifest tests (`kubectl kustomize`, whose embedded kustomize must
# know `components` and `replacements`: kubectl >= 1.24). What is known about the registries (docs/deploy.md §0):
#   - Debian bookworm's `kubernetes-client` is kubectl 1.20.2; its kustomize rejects our overlays
#     ("json: unknown field components"), so this script does not install it.
#   - The `kubectl` package of the Kubernetes apt repository (pkgs.k8s.io) or of the Google Cloud SDK apt
#     repository (packages.cloud.google.com/apt) is current; `apt-get install kubectl` works once either is configured.
#   - PyPI and npm have no official kubectl: the PyPI `kustomize` package is an unrelated Python rewrite and the npm
#     packages named kubectl are third-party re-uploads, so neither is used.
# Exit status 0 when a usable kubectl is on PATH afterwards, 1 otherwise (the Makefile carries on: tests then skip
# the kustomize checks and say why).
set -euo pipefail

min_minor=24
k8s_minor=${O3V_K8S_APT_MINOR:-1.32}   # repository line of pkgs.k8s.io to add (matches GKE's regular channel)

usable() {
    command -v kubectl >/dev/null 2>&1 || return 1
    local minor
    minor=$(kubectl version --client -o json 2>/dev/null \
        | python3 -c 'import json, sys; print(int("".join(c for c in json.load(sys.stdin)["clientVersion"]["minor"] if c.isdigit())))' \
        2>/dev/null) || return 1
    [[ $minor -ge $min_minor ]]
}

if usable; then
    echo "kubectl: $(command -v kubectl) is usable"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "kubectl: missing or older than 1.$min_minor, and no apt-get here; install it from your OS package manager" >&2
    echo "         (e.g. 'brew install kubectl' or 'gcloud components install kubectl')" >&2
    exit 1
fi

sudo=""
if [[ $EUID -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo="sudo -n"
    else
        echo "kubectl: missing; installing it with apt needs root (re-run as root or with passwordless sudo)" >&2
        exit 1
    fi
fi

if [[ ${O3V_ADD_K8S_APT_REPO:-0} == 1 ]]; then
    # The Kubernetes project's own apt repository, as documented on kubernetes.io ("Install using native package
    # management"): its signing key and its packages both come from pkgs.k8s.io.
    $sudo install -m 0755 -d /etc/apt/keyrings
    curl -fsSL "https://pkgs.k8s.io/core:/stable:/v${k8s_minor}/deb/Release.key" \
        | $sudo gpg --dearmor --yes -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
    echo "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v${k8s_minor}/deb/ /" \
        | $sudo tee /etc/apt/sources.list.d/kubernetes.list >/dev/null
fi

$sudo apt-get update -qq || echo "kubectl: apt-get update failed; using the package lists already on disk" >&2
candidate=$(apt-cache policy kubectl 2>/dev/null | awk '/Candidate:/ {print $2}')
if [[ -n $candidate && $candidate != "(none)" ]]; then
    $sudo apt-get install -y -qq kubectl
fi

if usable; then
    echo "kubectl: installed $(kubectl version --client 2>/dev/null | head -n 1)"
    exit 0
fi
cat >&2 <<'MSG'
kubectl: no apt repository here offers a kubectl >= 1.24 (Debian's kubernetes-client 1.20 is too old for our overlays).
Add the Kubernetes apt repository and retry:   O3V_ADD_K8S_APT_REPO=1 bash scripts/install-kubectl.sh
or install the Google Cloud CLI's kubectl:       sudo apt-get install kubectl   (with packages.cloud.google.com/apt)
MSG
exit 1
