"""The one model-loading path, prompt encoding and generation, for the tiny model and real checkpoints alike.

`load_model("Qwen/Qwen2.5-VL-7B-Instruct")` and `load_model("out/tiny")` run the same code: the
torchvision shim, `AutoModelForImageTextToText` + `AutoProcessor`, an attention backend chosen from
what the machine has. Only the name differs, so CPU tests exercise the GPU code path.

Video goes to the model as a sequence of images, each after its `Frame i at T s:` line (the reference's
format, open-o3-video.md §6; messages come from `o3v.prompts.build_messages`). Boxes in grounded text
are pixels of the *resized* frame the model sees: `model_input_size` gives that size.

The tiny checkpoint builder (`build_tiny`, `o3v model tiny`) and the real-size configs (`real_config`)
live in `o3v.modeling` and are re-exported here.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from o3v.geometry import smart_resize
from o3v.modeling.configs import REAL_MODELS, real_config
from o3v.modeling.tiny import build_tiny, count_params

__all__ = [
    "ModelLoadError",
    "REAL_MODELS",
    "build_tiny",
    "count_params",
    "encode",
    "generate",
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


def resolve_dtype(dtype: str, device: str):
    """`auto` is bfloat16 on GPU and float32 on CPU (CPU bf16 matmuls are slow and lose precision)."""
    import torch

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def resolve_attention(attn_implementation: str | None, device: str, dtype) -> str:
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


def set_pixel_budget(processor, min_pixels: int | None = None, max_pixels: int | None = None) -> None:
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


def load_model(
    name_or_path: str | os.PathLike,
    *,
    dtype: Literal["auto", "float32", "bfloat16"] = "auto",
    device: str | None = None,
    attn_implementation: str | None = None,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
) -> tuple[Any, Any]:
    """Load (model, processor) from a local save_pretrained folder or a hub id, in eval mode.

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
        processor = AutoProcessor.from_pretrained(source)
        model = AutoModelForImageTextToText.from_pretrained(
            source,
            dtype=torch_dtype,
            attn_implementation=attn,
            device_map={"": device} if device.startswith("cuda") else None,
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


def model_input_size(processor, width: int, height: int) -> tuple[int, int]:
    """(W, H) of a `width`x`height` image after the processor's resize: the pixel space of grounded boxes."""
    ip = processor.image_processor
    factor = ip.patch_size * ip.merge_size
    h, w = smart_resize(
        int(height), int(width), factor=factor, min_pixels=ip.size["shortest_edge"], max_pixels=ip.size["longest_edge"]
    )
    return w, h


# ----------------------------------------------------------------------------- encoding and generation

Images = Sequence[Any]


def _clean_messages(messages: list[dict]) -> list[dict]:
    """Drop None-valued keys from content parts: HF datasets adds them, and the Qwen template's
    `'video' in content` test then counts a text part as a video (ml-stack.md key fact 8)."""
    out = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or "role" not in msg or "content" not in msg:
            raise ValueError(f"message {i} must be a dict with 'role' and 'content', got {msg!r:.120}")
        content = msg["content"]
        if isinstance(content, list):
            if not all(isinstance(part, dict) for part in content):
                raise ValueError(f"message {i} ({msg['role']}): every content part must be a dict")
            content = [{k: v for k, v in part.items() if v is not None} for part in content]
        out.append({**msg, "content": content})
    return out


def _image_slots(messages: list[dict], index: int) -> int:
    """Image placeholders the chat template will emit (it tests the same keys); video parts are refused."""
    slots = 0
    for msg in messages:
        for part in msg["content"] if isinstance(msg["content"], list) else ():
            if part.get("type") == "image" or "image" in part or "image_url" in part:
                slots += 1
            elif part.get("type") == "video" or "video" in part:
                raise ValueError(
                    f"conversation {index} has a video part: o3v feeds video as a sequence of images "
                    "(o3v.prompts.build_messages), one {'type': 'image'} per frame"
                )
    return slots


def _as_image_list(images: Any) -> list[Any]:
    """A (T,H,W,3) array becomes T images; a single image becomes a list of one."""
    import numpy as np

    if images is None:
        return []
    if isinstance(images, np.ndarray):
        if images.ndim == 4:
            return list(images)
        if images.ndim == 3:
            return [images]
        raise ValueError(f"image array must be (H,W,3) or (T,H,W,3), got shape {images.shape}")
    if hasattr(images, "size") and hasattr(images, "mode"):  # one PIL image
        return [images]
    return list(images)


def _is_batch(messages: Sequence) -> bool:
    return bool(messages) and isinstance(messages[0], (list, tuple))


def encode(
    processor,
    messages: list[dict] | list[list[dict]],
    images: Images | Sequence[Images] | None,
    *,
    add_generation_prompt: bool = True,
    padding_side: Literal["left", "right"] = "left",
):
    """Chat-template `messages` and run the processor on `images` in order; returns a `BatchFeature` (pt).

    One conversation with its images, or a batch: a list of conversations and a list of image lists.
    Each conversation must have exactly as many `{"type": "image"}` parts as it has images. Left
    padding is the default because generation continues from the last position of every row.
    """
    if _is_batch(messages):
        convs = [list(c) for c in messages]
        if images is None:
            image_lists = [[] for _ in convs]
        else:
            image_lists = [_as_image_list(x) for x in images]
        if len(image_lists) != len(convs):
            raise ValueError(f"got {len(convs)} conversations but {len(image_lists)} image lists")
    else:
        convs, image_lists = [list(messages)], [_as_image_list(images)]
    texts = []
    for i, (conv, imgs) in enumerate(zip(convs, image_lists)):
        conv = _clean_messages(conv)
        slots = _image_slots(conv, i)
        if slots != len(imgs):
            raise ValueError(f"conversation {i} has {slots} image placeholders but {len(imgs)} images were given")
        texts.append(processor.apply_chat_template(conv, tokenize=False, add_generation_prompt=add_generation_prompt))
    flat = [img for imgs in image_lists for img in imgs]
    return processor(text=texts, images=flat or None, padding=True, padding_side=padding_side, return_tensors="pt")


@contextlib.contextmanager
def _seeded(seed: int | None, device) -> Iterator[None]:
    """Seed torch inside a forked RNG so sampling is reproducible without touching the caller's RNG."""
    import torch

    if seed is None:
        yield
        return
    devices = [device] if getattr(device, "type", str(device)).startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def generation_config(
    model, processor, *, max_new_tokens: int, temperature: float, top_p: float, num_return_sequences: int
):
    """Every sampling knob set explicitly: checkpoints ship their own defaults (Qwen2.5-VL: temperature 0.1,
    top_k 1, repetition_penalty 1.05), which `generate` would otherwise merge in silently."""
    from transformers import GenerationConfig

    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    if num_return_sequences < 1:
        raise ValueError(f"num_return_sequences must be >= 1, got {num_return_sequences}")
    if temperature == 0 and num_return_sequences > 1:
        raise ValueError("num_return_sequences > 1 needs temperature > 0: greedy decoding would return copies")
    tok = processor.tokenizer
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tok.eos_token_id
    if eos is None:
        raise ValueError("neither the model's generation_config nor the tokenizer defines an eos token")
    pad = tok.pad_token_id if tok.pad_token_id is not None else (eos[0] if isinstance(eos, list) else eos)
    sample = temperature > 0
    return GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=sample,
        temperature=temperature if sample else 1.0,
        top_p=top_p if sample else 1.0,
        # top_k=0 turns top-k off when sampling; 50 is HF's neutral default, ignored by greedy decoding.
        top_k=0 if sample else 50,
        repetition_penalty=1.0,
        num_beams=1,
        num_return_sequences=num_return_sequences,
        eos_token_id=eos,
        pad_token_id=pad,
        use_cache=True,
    )


def generate(
    model,
    processor,
    messages: list[dict] | list[list[dict]],
    images: Images | Sequence[Images] | None,
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    num_return_sequences: int = 1,
    seed: int | None = None,
    top_p: float = 1.0,
) -> list[str]:
    """Generate continuations; returns only the new text, special tokens removed, o3v's tags kept.

    For one conversation: `num_return_sequences` strings. For a batch of B conversations: B *
    `num_return_sequences` strings, grouped by prompt (all samples of prompt 0 first). `temperature=0`
    is greedy; `seed` makes sampling reproducible.
    """
    import torch

    config = generation_config(
        model,
        processor,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        num_return_sequences=num_return_sequences,
    )
    inputs = encode(processor, messages, images, add_generation_prompt=True, padding_side="left")
    # Pixel values follow the model's dtype (bf16 on GPU); ids and grids stay integer.
    inputs = inputs.to(model.device)
    for key in ("pixel_values", "pixel_values_videos"):
        if key in inputs:
            inputs[key] = inputs[key].to(model.dtype)
    with torch.inference_mode(), _seeded(seed, model.device):
        out = model.generate(**inputs, generation_config=config)
    new_tokens = out[:, inputs["input_ids"].shape[1] :]
    return processor.batch_decode(new_tokens, skip_special_tokens=True, clean_up_tokenization_spaces=False)
