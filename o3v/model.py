"""The one model-loading path, prompt encoding and generation, for the tiny model and real checkpoints alike.

`load_model("Qwen/Qwen2.5-VL-7B-Instruct")` and `load_model("out/tiny")` run the same code: the
torchvision shim, `AutoModelForImageTextToText` + `AutoProcessor`, an attention backend chosen from
what the machine has. Only the name differs, so CPU tests exercise the GPU code path.

Video goes to the model as a sequence of images, each after its `Frame i at T s:` line (the reference's
format, open-o3-video.md §6; messages come from `o3v.prompts.build_messages`). Boxes in grounded text
are pixels of the *resized* frame the model sees: `model_input_size` gives that size.

`encode`/`generate` (o3v.modeling.generation), the tiny checkpoint builder (`build_tiny`, `o3v model
tiny`) and the real-size configs (`real_config`) live in `o3v.modeling` and are re-exported here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path
from typing import Any, Literal

from o3v.geometry import smart_resize
from o3v.modeling.configs import REAL_MODELS, real_config
from o3v.modeling.generation import encode, generate, generation_config
from o3v.modeling.tiny import build_tiny, count_params

__all__ = [
    "ModelLoadError",
    "REAL_MODELS",
    "build_tiny",
    "count_params",
    "encode",
    "generate",
    "generation_config",
    "load_model",
    "model_input_size",
    "real_config",
]

log = logging.getLogger(__name__)
DTYPES = ("auto", "float32", "bfloat16")


class ModelLoadError(OSError):
    """A model or processor could not be loaded; the message names the path or hub id."""


def _resolve_source(name_or_path: str | os.PathLike) -> str:
    """A local checkpoint folder (checked) or a hub id; a missing local-looking path is an error, not a hub lookup."""
    name = os.fspath(name_or_path)
    if not name.strip():
        raise ModelLoadError("model name or path is empty")
    if "://" in name:
        raise ModelLoadError(
            f"model {name!r} is a URI: fetch it to a local folder first (o3v.artifacts), then load that"
        )
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"model path {path} is a file; expected a save_pretrained folder")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder {path} has no config.json: not a save_pretrained checkpoint")
        return str(path)
    # Hub ids are `name` or `namespace/name`; anything else that does not exist is a missing folder.
    if name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep in name.replace("/", ""):
        raise ModelLoadError(f"model folder {path} does not exist")
    return name


def resolve_device(device: str | None) -> str:
    """`device` as given, else this process's GPU (LOCAL_RANK under torchrun) when CUDA is present, else CPU."""
    import torch

    if device is not None:
        return str(device)
    if torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return "cpu"


def resolve_dtype(dtype: str, device: str) -> Any:
    """`auto` is bfloat16 on GPU and float32 on CPU (CPU bf16 matmuls are slow and lose precision)."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def resolve_attention(attn_implementation: str | None, device: str, dtype: Any) -> str:
    """flash_attention_2 only with CUDA, the flash_attn package and a 16-bit dtype; otherwise sdpa."""
    import torch

    has_flash = importlib.util.find_spec("flash_attn") is not None
    flash_ok = device.startswith("cuda") and has_flash and dtype in (torch.bfloat16, torch.float16)
    if attn_implementation is None:
        return "flash_attention_2" if flash_ok else "sdpa"
    if attn_implementation == "flash_attention_2" and not flash_ok:
        raise ValueError(
            f"attn_implementation='flash_attention_2' needs CUDA, the flash_attn package and bf16/fp16 "
            f"(device={device}, dtype={dtype}, flash_attn installed={has_flash})"
        )
    return attn_implementation


def set_pixel_budget(processor: Any, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
    """Override the per-image pixel range (frames are images in o3v's input format)."""
    if min_pixels is None and max_pixels is None:
        return
    ip = processor.image_processor
    size = {"shortest_edge": ip.size["shortest_edge"], "longest_edge": ip.size["longest_edge"]}
    if min_pixels is not None:
        size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        size["longest_edge"] = int(max_pixels)
    if not 0 < size["shortest_edge"] <= size["longest_edge"]:
        raise ValueError(f"need 0 < min_pixels <= max_pixels, got {size['shortest_edge']} and {size['longest_edge']}")
    ip.size = size


def _zero3_enabled() -> bool:
    """True inside a transformers Trainer run configured with DeepSpeed ZeRO-3."""
    try:
        from transformers.integrations import is_deepspeed_zero3_enabled
    except ImportError:  # pragma: no cover - transformers always has it in the pinned versions
        return False
    return bool(is_deepspeed_zero3_enabled())


def load_model(
    name_or_path: str | os.PathLike,
    *,
    dtype: Literal["auto", "float32", "bfloat16"] = "auto",
    device: str | None = None,
    attn_implementation: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    revision: str | None = None,
) -> tuple[Any, Any]:
    """Load (model, processor) from a local save_pretrained folder or a hub id, in eval mode.

    `dtype="auto"` is bf16 on GPU, fp32 on CPU; `device=None` is this process's GPU, else CPU;
    `attn_implementation=None` picks flash_attention_2 when possible, else sdpa (logged);
    `min_pixels`/`max_pixels` override the per-image pixel budget; `revision` pins a hub commit/tag.
    Raises `ModelLoadError` naming the path/id when it cannot be loaded (missing folder, offline and
    not cached, broken files).
    """
    from o3v.torchvision_cpu import install

    install()  # before transformers imports torchvision (Qwen processors need transforms.v2)
    from transformers import AutoModelForImageTextToText, AutoProcessor

    source = _resolve_source(name_or_path)
    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    attn = resolve_attention(attn_implementation, device, torch_dtype)
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")
    if Path(source).is_dir():
        where = "local folder"
    else:  # say both places that were tried: `out/tiny` is a hub-shaped id *and* maybe a mistyped folder
        cache = " in the local cache only (HF_HUB_OFFLINE=1)" if offline else ""
        where = f"hub id{cache}; no local folder {Path(source).resolve()}"
    log.info("loading %s (%s) on %s, dtype %s, attention %s", source, where, device, torch_dtype, attn)
    try:
        processor = AutoProcessor.from_pretrained(source, revision=revision)
        model = AutoModelForImageTextToText.from_pretrained(
            source,
            revision=revision,
            dtype=torch_dtype,
            attn_implementation=attn,
            # ZeRO-3 partitions weights at load time and refuses a device_map; the trainer places them.
            device_map={"": device} if device.startswith("cuda") and not _zero3_enabled() else None,
        )
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load model {source!r} ({where}): {exc}") from exc
    if not device.startswith("cuda"):
        model.to(device)
    model.eval()
    set_pixel_budget(processor, min_pixels, max_pixels)
    params = count_params(model)
    log.info("loaded %s: %s, %d params (vision %d)", source, type(model).__name__, params["total"], params["vision"])
    return model, processor


def model_input_size(processor: Any, width: int, height: int) -> tuple[int, int]:
    """(W, H) of a `width`x`height` image after the processor's resize: the pixel space of grounded boxes."""
    ip = processor.image_processor
    factor = ip.patch_size * ip.merge_size
    h, w = smart_resize(
        int(height), int(width), factor=factor, min_pixels=ip.size["shortest_edge"], max_pixels=ip.size["longest_edge"]
    )
    return w, h
