"""Cluster names the pipeline shares with `manifests/`: bucket, pipeline root, service account, secrets, node pools.

One place for every name that must agree between the compiled pipeline and the Kubernetes manifests
(`tests/deploy/test_crosscheck.py` compiles the pipeline and compares). kfp + stdlib only, like all of `components/`.

Per-deployment values come from the environment so the same code compiles for each overlay:

    set -a && . manifests/overlays/gke-prod/platform.env && set +a && make compile

The defaults equal `manifests/overlays/gke-prod/platform.env` (a test keeps them equal).
"""

import os

# --- per deployment (overridden by manifests/overlays/<overlay>/platform.env) ---
GCP_PROJECT = os.environ.get("O3V_GCP_PROJECT", "o3v-project")
BUCKET = os.environ.get("O3V_BUCKET", "o3v-project-o3v")
# KFP writes intermediate artifacts here (ConfigMap kfp-launcher `defaultPipelineRoot` in the manifests says the same);
# o3v's own versioned store (datasets, checkpoints, lineage manifests) lives next to it in the same bucket.
PIPELINE_ROOT = f"gs://{BUCKET}/pipeline-root"
ARTIFACT_STORE = f"gs://{BUCKET}/artifacts"
# GKE node label value of the GPU node pool the GPU steps go to (dev: nvidia-l4, gke-prod: nvidia-h100-80gb).
GPU_ACCELERATOR = os.environ.get("O3V_GPU_ACCELERATOR", "nvidia-h100-80gb")

# --- fixed names (same in every overlay) ---
# KFP standalone runs every workflow in its own namespace (single-user mode), so o3v's objects live there too.
NAMESPACE = "kubeflow"
# Kubernetes service account the runs use (`service_account=` on create_run / create_recurring_run); Workload
# Identity maps it to a Google service account with access to BUCKET.
SERVICE_ACCOUNT = "o3v-pipeline-runner"
# Every o3v step pod carries these labels (kfp.kubernetes.add_pod_label); the egress NetworkPolicy selects on them.
POD_LABELS = {"app.kubernetes.io/part-of": "o3v"}
# Teacher API keys: a Secret created by hand from a secret manager, never stored in Git (docs/deploy.md §Secrets).
# Keys of that Secret become environment variables of the annotate step (kfp.kubernetes.use_secret_as_env).
TEACHER_SECRET = "o3v-teacher-api"
TEACHER_SECRET_ENV = {"OPENAI_API_KEY": "OPENAI_API_KEY"}  # secret key -> env var (o3v.curate config api_key_env)
# GPU steps: GKE labels GPU nodes with the accelerator type and taints them nvidia.com/gpu=present:NoSchedule.
GPU_NODE_LABEL = "cloud.google.com/gke-accelerator"
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
# PriorityClass for training pods that the cluster lets us set (Trainer jobs, preflight); KFP 2.17 has no setter.
TRAINING_PRIORITY_CLASS = "o3v-training"
