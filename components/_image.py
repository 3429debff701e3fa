"""The one image reference every component uses; its tag follows the o3v package version.

Tag policy: an image tag is the `version` in pyproject.toml, nothing else (no `latest`, no git SHA). A released tag
is never pushed twice (`images/build.sh push` refuses to overwrite one), so a compiled pipeline that names
`o3v-cuda:0.1.0` always runs the same bits. To ship a change, bump the version, `make images push`, `make compile`.
`tests/deploy/` checks that this tag, pyproject.toml, the kustomize overlays and the compiled pipeline agree.

The registry comes from `O3V_REGISTRY` (set per overlay in manifests/overlays/<overlay>/platform.env).
"""

import os
from importlib.metadata import PackageNotFoundError, version

REGISTRY = os.environ.get("O3V_REGISTRY", "us-docker.pkg.dev/o3v-project/o3v")
try:
    TAG = version("o3v")
except PackageNotFoundError as err:  # components are compiled from a checkout with o3v installed (make install)
    raise RuntimeError("o3v is not installed in this environment; run `make install`") from err
CPU_IMAGE_NAME = "o3v-cpu"  # data + report stages (images/cpu.Dockerfile)
GPU_IMAGE_NAME = "o3v-cuda"  # SFT, GSPO, eval (images/cuda.Dockerfile)
O3V_IMAGE = f"{REGISTRY}/{CPU_IMAGE_NAME}:{TAG}"
O3V_GPU_IMAGE = f"{REGISTRY}/{GPU_IMAGE_NAME}:{TAG}"
