"""Prompt encoding and generation for any Qwen-VL checkpoint (re-exported by `o3v.model`).

`encode` turns `o3v.prompts.build_messages` conversations plus their frames into processor tensors;
`generate` returns only the new text, decoded with special tokens skipped and o3v's tags kept.
Used by evaluation, `o3v infer`, the `local` teacher backend and the training collators.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any, Literal

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
    processor: Any,
    messages: list[dict] | list[list[dict]],
    images: Images | Sequence[Images] | None,
    *,
    add_generation_prompt: bool = True,
    padding_side: Literal["left", "right"] = "left",
) -> Any:
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
    model: Any, processor: Any, *, max_new_tokens: int, temperature: float, top_p: float, num_return_sequences: int
) -> Any:
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
    model: Any,
    processor: Any,
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
