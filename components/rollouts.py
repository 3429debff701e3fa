"""GSPO rollout server: a vLLM server pod for `rollouts: vllm_server` (GPU image; stages.train.serve_model)."""

from kfp import dsl
from kfp.dsl import Input, Model

from components._image import O3V_GPU_IMAGE


@dsl.component(base_image=O3V_GPU_IMAGE, install_kfp_package=False)
def vllm_server(model: Input[Model], rollout_root: str, gpus: int, hardware: dict) -> dict:
    """Serve `model` with vLLM until this run's GSPO step releases it (readiness and shutdown in the library).

    `hardware` is not used by the body: passing it makes KFP 2.17 route the accelerator parameters into the
    condition group around this step (see pipelines/end_to_end.py hardware_of).
    """
    from o3v.artifacts.stages.train import serve_model

    return serve_model(model, rollout_root, gpus=gpus)
