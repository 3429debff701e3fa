"""The one image reference every component uses; its tag follows the o3v package version."""

import os
from importlib.metadata import version

REGISTRY = os.environ.get("O3V_REGISTRY", "us-docker.pkg.dev/o3v-project/o3v")
TAG = version("o3v")
O3V_IMAGE = f"{REGISTRY}/o3v-cpu:{TAG}"
O3V_GPU_IMAGE = f"{REGISTRY}/o3v-cuda:{TAG}"
