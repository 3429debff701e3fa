# syntax=docker/dockerfile:1
# o3v CUDA image: SFT, GSPO and evaluation on NVIDIA GPUs (torch on CUDA 13.0, DeepSpeed, flash-attn; vLLM optional).
#
#   make images REGISTRY=us-docker.pkg.dev/PROJECT/o3v                  # without vLLM
#   WITH_VLLM=1 make images REGISTRY=us-docker.pkg.dev/PROJECT/o3v      # + pyproject extra `vllm`
#
# Dependencies come only from pyproject.toml (`.[all,gpu]`, `[gpu-build]` for the compile step) plus torch, pinned to
# the same version as the `train` extra (TORCH_VERSION; tests/deploy/test_images.py keeps the two equal). torch
# 2.13.0 from PyPI is built for CUDA 13.0 and ships its CUDA libraries as wheels, so the runtime base only needs the
# driver hooks of nvidia/cuda:*-base; nodes need an NVIDIA driver new enough for CUDA 13 (R580+).

# nvidia/cuda 13.0.1 on Ubuntu 24.04 (multi-arch index digests; provenance in docs/deploy.md §5).
ARG CUDA_DEVEL_IMAGE=nvidia/cuda:13.0.1-devel-ubuntu24.04@sha256:7d2f6a8c2071d911524f95061a0db363e24d27aa51ec831fcccf9e76eb72bc92
ARG CUDA_BASE_IMAGE=nvidia/cuda:13.0.1-base-ubuntu24.04@sha256:f8ef28f579ea42a44b415d2c5d46f788e6a9b395c6c83f2929416e1fc192c143

# ---- builder: nvcc is needed to compile flash-attn and DeepSpeed's fused optimizers ---------------------------------
FROM ${CUDA_DEVEL_IMAGE} AS builder
ARG TORCH_VERSION=2.13.0
ARG WITH_VLLM=0
# A100/L4 (sm_80 cubins run on sm_86/sm_89) and H100 (sm_90); each extra arch adds build time.
ARG FLASH_ATTN_CUDA_ARCHS="80;90"
# flash-attn needs about 9 GB RAM per parallel compile job.
ARG MAX_JOBS=4
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY o3v ./o3v
# 1. torch alone first: flash-attn and DeepSpeed compile against the torch that is already installed.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install "torch==${TORCH_VERSION}"
# 2. build tools for the no-isolation compile below (setuptools, wheel, ninja, packaging, psutil).
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ".[gpu-build]"
# 3. everything else. --no-build-isolation so flash-attn's setup.py sees the torch above; FORCE_BUILD compiles from
#    the PyPI sdist instead of fetching a prebuilt wheel from GitHub; DS_BUILD_* compiles DeepSpeed's fused Adam
#    (GPU) and CPU Adam (ZeRO offload) now, because the runtime image has no nvcc for DeepSpeed's JIT path.
RUN --mount=type=cache,target=/root/.cache/pip \
    extras="all,gpu"; if [ "$WITH_VLLM" = "1" ]; then extras="$extras,vllm"; fi \
    && MAX_JOBS="$MAX_JOBS" FLASH_ATTN_CUDA_ARCHS="$FLASH_ATTN_CUDA_ARCHS" FLASH_ATTENTION_FORCE_BUILD=TRUE \
       DS_BUILD_FUSED_ADAM=1 DS_BUILD_CPU_ADAM=1 \
       pip install --no-build-isolation ".[${extras}]" \
    && pip check \
    && python -c "import torch; assert torch.__version__.split('+')[0] == '${TORCH_VERSION}', torch.__version__"

# ---- runtime -----------------------------------------------------------------------------------------------------------
# nvidia/cuda:*-base rather than a plain Python image: it declares the NVIDIA container-runtime variables and puts
# /usr/local/nvidia/lib64 (where GKE mounts the node's driver) on LD_LIBRARY_PATH; torch brings the CUDA libraries.
FROM ${CUDA_BASE_IMAGE} AS runtime
ARG O3V_VERSION=unknown
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="o3v-cuda" \
      org.opencontainers.image.description="o3v SFT, GSPO and eval stages (KFP lightweight components)" \
      org.opencontainers.image.version="${O3V_VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.licenses="Apache-2.0"
# python3 = the builder's interpreter (same Ubuntu release), which the copied venv links to. gcc + headers: Triton
# (torch.compile, vLLM kernels) builds a small C launcher the first time it runs.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 gcc libc6-dev python3-dev \
    && rm -rf /var/lib/apt/lists/*
# Non-root; /gcs, /minio, /s3 pre-created for the KFP v2 launcher (see cpu.Dockerfile).
RUN groupadd --gid 10001 o3v \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/o3v --shell /usr/sbin/nologin o3v \
    && mkdir -p /gcs /minio /s3 /opt/o3v \
    && chown 10001:10001 /gcs /minio /s3
COPY --from=builder /opt/venv /opt/venv
COPY images/preflight.py /opt/o3v/preflight.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/home/o3v \
    HF_HOME=/home/o3v/.cache/huggingface \
    TRITON_CACHE_DIR=/home/o3v/.cache/triton
USER 10001:10001
WORKDIR /home/o3v
# No ENTRYPOINT: KFP gives every step its own command (python3 -m kfp.dsl.executor_main ...).
