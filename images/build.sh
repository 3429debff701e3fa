#!/usr/bin/env bash
# Build or push the o3v images; the Makefile's `images` and `push` targets call this.
#
#   bash images/build.sh build REGISTRY      # docker build both images, tagged REGISTRY/o3v-{cpu,cuda}:<version>
#   bash images/build.sh push  REGISTRY      # push them; refuses to overwrite a tag that already exists
#
# Environment:
#   ONLY=cpu|cuda         build/push one image
#   WITH_VLLM=1           add the `vllm` extra to the CUDA image
#   MAX_JOBS=N            parallel flash-attn compile jobs (about 9 GB RAM each; default 4)
#   O3V_ALLOW_OVERWRITE=1 push even if the tag exists (breaks the "a tag is immutable" policy; think twice)
#   DRY_RUN=1             print the docker commands instead of running them (used by tests/deploy)
#
# The tag is the `version` in pyproject.toml, the same value components/_image.py uses, so `make compile` after
# `make push` names exactly these images. Needs Docker with BuildKit (Docker 23+ or `docker buildx`).
set -euo pipefail

usage() {
    echo "usage: $0 build|push REGISTRY   (e.g. us-docker.pkg.dev/my-project/o3v)" >&2
    exit 2
}

[[ $# -eq 2 ]] || usage
action=$1
registry=${2%/}
[[ $action == build || $action == push ]] || usage
[[ -n $registry ]] || usage

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

# The version line of [project] in pyproject.toml; tomllib when available, else the first `version = "..."`.
version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])' \
    2>/dev/null || sed -n 's/^version *= *"\([^"]*\)".*/\1/p' pyproject.toml | head -n 1)
[[ -n $version ]] || { echo "error: cannot read the version from pyproject.toml" >&2; exit 1; }
git_sha=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

case ${ONLY:-all} in
    all) names=(cpu cuda) ;;
    cpu | cuda) names=("$ONLY") ;;
    *) echo "error: ONLY must be cpu or cuda, got '$ONLY'" >&2; exit 2 ;;
esac

# The compiled pipeline takes its registry from O3V_REGISTRY (components/_image.py); a mismatch means the pipeline
# would pull images that this command did not build.
if [[ -n ${O3V_REGISTRY:-} && ${O3V_REGISTRY%/} != "$registry" ]]; then
    echo "warning: REGISTRY=$registry but O3V_REGISTRY=$O3V_REGISTRY; \`make compile\` will name the latter" >&2
fi

run() {
    if [[ ${DRY_RUN:-0} == 1 ]]; then
        printf '%q ' "$@"
        printf '\n'
    else
        "$@"
    fi
}

for name in "${names[@]}"; do
    image="$registry/o3v-$name:$version"
    if [[ $action == build ]]; then
        build_args=(--build-arg "O3V_VERSION=$version" --build-arg "GIT_SHA=$git_sha")
        if [[ $name == cuda ]]; then
            build_args+=(--build-arg "WITH_VLLM=${WITH_VLLM:-0}" --build-arg "MAX_JOBS=${MAX_JOBS:-4}")
        fi
        run env DOCKER_BUILDKIT=1 docker build --platform linux/amd64 -f "images/$name.Dockerfile" \
            "${build_args[@]}" -t "$image" .
    else
        # A published tag is immutable: compiled pipelines and recurring runs refer to it by name.
        if [[ ${DRY_RUN:-0} != 1 && ${O3V_ALLOW_OVERWRITE:-0} != 1 ]] \
            && docker manifest inspect "$image" >/dev/null 2>&1; then
            echo "error: $image already exists in the registry; bump the version in pyproject.toml" >&2
            exit 1
        fi
        run docker push "$image"
    fi
done
