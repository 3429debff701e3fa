# syntax=docker/dockerfile:1
# o3v CPU image: the data stages (synth, annotate, filter, check, GX gates) and the report.
#
#   make images REGISTRY=us-docker.pkg.dev/PROJECT/o3v      # = bash images/build.sh build REGISTRY
#
# Dependencies come only from pyproject.toml (`.[curate,eval,kfp]`); nothing is pip-installed by name.
# The tag is the package version (components/_image.py); tests/deploy/test_images.py checks this file statically.

# python:3.11.10-slim-bookworm (multi-arch index digest; provenance in docs/deploy.md §5). 3.11 = the dev machines.
ARG PYTHON_IMAGE=python:3.11.10-slim-bookworm@sha256:5148c0e4bbb64271bca1d3322360ebf4bfb7564507ae32dd639322e4952a6b16

# ---- builder: resolve and install into a venv that the runtime stage copies whole ----------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY o3v ./o3v
# A regular (non-editable) install: the runtime stage gets site-packages, never the source tree.
# The cache mount keeps wheels between builds without putting them in a layer.
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install ".[curate,eval,kfp]" \
    && pip check

# ---- runtime -----------------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ARG O3V_VERSION=unknown
ARG GIT_SHA=unknown
LABEL org.opencontainers.image.title="o3v-cpu" \
      org.opencontainers.image.description="o3v data and report stages (KFP lightweight components)" \
      org.opencontainers.image.version="${O3V_VERSION}" \
      org.opencontainers.image.revision="${GIT_SHA}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Non-root. The KFP v2 launcher stages artifacts under /gcs, /minio and /s3 (a fixed contract of the SDK), which a
# non-root user cannot create at run time (kubeflow/pipelines#5673), so they exist and belong to the user already.
RUN groupadd --gid 10001 o3v \
    && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/o3v --shell /usr/sbin/nologin o3v \
    && mkdir -p /gcs /minio /s3 /opt/o3v \
    && chown 10001:10001 /gcs /minio /s3
COPY --from=builder /opt/venv /opt/venv
COPY images/preflight.py /opt/o3v/preflight.py
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/home/o3v \
    HF_HOME=/home/o3v/.cache/huggingface
USER 10001:10001
WORKDIR /home/o3v
# No ENTRYPOINT: KFP gives every step its own command (python3 -m kfp.dsl.executor_main ...).
