"""Helpers for the deploy checks: repository paths, overlay platform.env files, kustomize builds, lookups.

`kubectl kustomize` runs offline (platform.md §6); when kubectl is missing the tests that need it skip and say how
to install it (scripts/install-kubectl.sh).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[2]
OVERLAYS = ("dev", "gke-prod")
PLATFORM_KEYS = {"O3V_GCP_PROJECT", "O3V_BUCKET", "O3V_REGISTRY", "O3V_GSA", "O3V_GPU_ACCELERATOR"}


def project_version() -> str:
    """`version` of [project] in pyproject.toml: the source of every image tag."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def read_platform_env(overlay: str) -> dict[str, str]:
    """KEY=value lines of manifests/overlays/<overlay>/platform.env (comments and blanks skipped)."""
    path = ROOT / "manifests" / "overlays" / overlay / "platform.env"
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier() or any(c in value for c in " \"'$`"):
            raise ValueError(f"{path}:{number}: not a plain KEY=value line (shell and kustomize both read it)")
        values[key] = value
    return values


def kustomize_build(path: Path) -> list[dict]:
    """`kubectl kustomize <path>` parsed into documents; skips the test when kubectl is absent."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed (bash scripts/install-kubectl.sh); kustomize builds not checked")
    proc = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"kubectl kustomize {path} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def find(docs: list[dict], kind: str, name_prefix: str) -> dict:
    """The one document of `kind` whose name starts with `name_prefix` (generated names carry a hash suffix)."""
    hits = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix)]
    assert len(hits) == 1, f"expected one {kind} {name_prefix}*, found {[d['metadata']['name'] for d in hits]}"
    return hits[0]
