"""Deploy-time checks baked into the o3v images and run by the preflight Jobs in manifests/base/preflight.yaml.

    python /opt/o3v/preflight.py storage   # Workload Identity -> GCS: write, read back, delete one object
    python /opt/o3v/preflight.py gpu       # CUDA visible, bf16 matmul runs, flash-attn and DeepSpeed import

Each check prints one line per fact and exits non-zero on the first failure, so `kubectl logs job/...` reads like a
checklist and the Job's status is the verdict. Standard library + what the image already installs; no o3v import
(the point is to test the platform under the package, not the package).
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid


class PreflightError(RuntimeError):
    """A platform fact the pipeline relies on does not hold; the message says which and what to fix."""


def _env(name: str) -> str:
    """Value of a required environment variable (set from ConfigMap o3v-platform), or a clear error."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise PreflightError(f"environment variable {name} is empty; it comes from ConfigMap o3v-platform")
    return value


def check_storage(bucket: str, project: str, client=None) -> list[str]:
    """Round-trip one object through `bucket` with the pod's ambient credentials (Workload Identity on GKE).

    `client` is injectable for tests (a google.cloud.storage.Client against the emulator).
    """
    if client is None:
        from google.cloud import storage  # imported here: the gpu check must not need it

        client = storage.Client(project=project)
    blob = client.bucket(bucket).blob(f"preflight/{uuid.uuid4().hex}.txt")
    payload = f"o3v preflight {uuid.uuid4().hex}"
    try:
        blob.upload_from_string(payload)
    except Exception as err:  # any failure here means the same thing to the operator
        raise PreflightError(
            f"cannot write gs://{bucket}/{blob.name}: {err!r}. Check the Workload Identity binding of the "
            "Kubernetes service account and roles/storage.objectAdmin on the bucket (docs/deploy.md §4)."
        ) from err
    got = blob.download_as_text()
    blob.delete()
    if got != payload:
        raise PreflightError(f"gs://{bucket}/{blob.name} read back {got!r}, wrote {payload!r}")
    return [f"gcs: wrote, read back and deleted gs://{bucket}/{blob.name}"]


def check_teacher_secret(env_names: list[str]) -> list[str]:
    """Report (never print) whether the teacher API key variables are present; absence is allowed."""
    lines = []
    for name in env_names:
        state = "present" if os.environ.get(name) else "absent (only the openai teacher backend needs it)"
        lines.append(f"secret env {name}: {state}")
    return lines


def check_gpu(min_devices: int = 1) -> list[str]:
    """CUDA devices visible to torch, a bf16 matmul on each, and the GPU-only packages import."""
    import torch

    if not torch.cuda.is_available():
        raise PreflightError(
            f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no GPU. Needs an NVIDIA driver that "
            "supports this CUDA version on the node (GKE: --gpu-driver-version=latest) and a nvidia.com/gpu limit."
        )
    count = torch.cuda.device_count()
    if count < min_devices:
        raise PreflightError(f"{count} CUDA device(s) visible, expected at least {min_devices}")
    lines = [f"torch {torch.__version__}, CUDA {torch.version.cuda}, NCCL {torch.cuda.nccl.version()}"]
    for index in range(count):
        a = torch.randn(256, 256, device=f"cuda:{index}", dtype=torch.bfloat16)
        value = float((a @ a.T).float().trace())
        if value != value:  # NaN: a broken device or driver, not a numerics question
            raise PreflightError(f"cuda:{index} returned NaN for a bf16 matmul")
        lines.append(f"cuda:{index} {torch.cuda.get_device_name(index)}: bf16 matmul ok")
    import deepspeed
    import flash_attn

    lines.append(f"flash-attn {flash_attn.__version__}, deepspeed {deepspeed.__version__}")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Run one check; print its lines; return the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("check", choices=["storage", "gpu"])
    parser.add_argument("--min-devices", type=int, default=1, help="gpu: fail with fewer visible devices")
    args = parser.parse_args(argv)
    try:
        if args.check == "storage":
            lines = check_storage(_env("O3V_BUCKET"), _env("O3V_GCP_PROJECT"))
            lines += check_teacher_secret(["OPENAI_API_KEY"])
        else:
            lines = check_gpu(args.min_devices)
    except PreflightError as err:
        sys.stderr.write(f"preflight {args.check}: FAILED: {err}\n")
        return 1
    # stdout, not logging: this is the Job's whole output and `kubectl logs` shows it verbatim
    sys.stdout.write("".join(f"{line}\n" for line in [*lines, f"preflight {args.check}: ok"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
