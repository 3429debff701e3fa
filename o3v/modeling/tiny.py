"""Build the tiny, randomly initialised Qwen2.5-VL / Qwen3-VL checkpoint that CPU runs and tests use.

The folder it writes is an ordinary `save_pretrained` checkpoint (safetensors, config, processor,
tokenizer, chat template) plus `o3v_tiny.json` saying how it was built, so `o3v.model.load_model`
loads it through exactly the code path used for `Qwen/Qwen2.5-VL-7B-Instruct`.

    o3v model tiny --out out/tiny-qwen2_5_vl [--arch qwen2_5_vl|qwen3_vl] [--seed 0]
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from o3v import __version__
from o3v.modeling.configs import (
    ARCHS,
    TINY_MAX_TOKENS,
    TINY_MIN_TOKENS,
    TINY_POS_EMBED_STD,
    VISION_GEOMETRY,
    Arch,
    tiny_config,
)
from o3v.modeling.tokenizer import (
    BPE_VOCAB_SIZE,
    CORPUS_SIZE,
    PROJECT_TAGS,
    QWEN_SPECIAL_TOKENS,
    corpus_digest,
    train_tokenizer,
)

log = logging.getLogger(__name__)
MANIFEST = "o3v_tiny.json"


def _frame_size(arch: str) -> dict[str, int]:
    """Per-image pixel budget: TINY_MIN_TOKENS..TINY_MAX_TOKENS merged patches."""
    patch, merge = VISION_GEOMETRY[arch]
    unit = (patch * merge) ** 2
    return {"shortest_edge": TINY_MIN_TOKENS * unit, "longest_edge": TINY_MAX_TOKENS * unit}


def build_processor(arch: Arch, tokenizer: Any) -> Any:
    """The real processor classes with a small pixel budget (a real checkpoint keeps its own settings)."""
    from transformers import Qwen2VLImageProcessor

    size = _frame_size(arch)
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLProcessor, Qwen2VLVideoProcessor

        # cap_pixels_per_frame is set explicitly: left unset, the video processor warns on every call.
        video = Qwen2VLVideoProcessor(size=size, cap_pixels_per_frame=False)
        return Qwen2_5_VLProcessor(
            Qwen2VLImageProcessor(size=size), tokenizer, video, chat_template=tokenizer.chat_template
        )
    if arch == "qwen3_vl":
        from transformers import Qwen3VLProcessor, Qwen3VLVideoProcessor

        half = [0.5, 0.5, 0.5]  # Qwen3-VL normalises with mean = std = 0.5, unlike Qwen2.5-VL's CLIP constants
        image = Qwen2VLImageProcessor(patch_size=16, size=size, image_mean=half, image_std=half)
        # Qwen3-VL's video `size` is a budget for the whole clip (T*H*W): 16 frames at the image budget.
        clip = {"shortest_edge": size["shortest_edge"], "longest_edge": 16 * size["longest_edge"]}
        video = Qwen3VLVideoProcessor(size=clip, cap_pixels_per_frame=False, image_mean=half, image_std=half)
        return Qwen3VLProcessor(image, tokenizer, video, chat_template=tokenizer.chat_template)
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


def count_params(model: Any) -> dict[str, int]:
    """Total / vision / language parameter counts (works on meta-device models too)."""
    total = sum(p.numel() for p in model.parameters())
    vision = sum(p.numel() for p in model.model.visual.parameters())
    return {"total": total, "vision": vision, "language": total - vision}


def build_tiny(
    out_dir: str | Path,
    arch: Arch = "qwen2_5_vl",
    seed: int = 0,
    size: str = "xs",
    pos_embed_std: float | None = None,
) -> Path:
    """Write a tiny random-init checkpoint of the real architecture into `out_dir`; returns the folder.

    `pos_embed_std` (Qwen3-VL only): the init std of the ViT's learned absolute position embedding; None takes
    `TINY_POS_EMBED_STD` (0.2) for qwen3_vl. At 0.2 the single-square stills warm-up localises within 600 steps
    for every init seed tried (issue 10 note, session 7); at the config's `initializer_range` (0.02, pass it to
    get the plain init) it took 800-2,000+. Qwen2.5-VL has no such table, so a value there is an error.

    `size` picks the widths (`o3v.modeling.configs.TINY_SIZES`). Deterministic per (arch, seed, size): the
    tokenizer is trained on a fixed corpus and the weights are
    drawn from a forked torch RNG seeded with `seed`, so the caller's RNG state is left untouched.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")
    if pos_embed_std is not None and arch != "qwen3_vl":
        raise ValueError(f"pos_embed_std needs a learned position embedding (qwen3_vl), not {arch!r}")
    if arch == "qwen3_vl" and pos_embed_std is None:
        pos_embed_std = TINY_POS_EMBED_STD
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"tiny model output {out} exists and is not a directory")
    start = time.perf_counter()

    from o3v.torchvision_cpu import install

    install()  # the processors import torchvision.transforms.v2
    import torch
    import transformers
    from transformers import AutoModelForImageTextToText

    tok = train_tokenizer()
    token_ids = dict(
        zip(
            ["<|endoftext|>", *QWEN_SPECIAL_TOKENS], tok.convert_tokens_to_ids(["<|endoftext|>", *QWEN_SPECIAL_TOKENS])
        )
    )
    config = tiny_config(arch, token_ids, len(tok), size)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(config, dtype=torch.float32)
        if pos_embed_std is not None:
            torch.nn.init.normal_(model.model.visual.pos_embed.weight, std=pos_embed_std)
    gen = model.generation_config
    gen.eos_token_id = [token_ids["<|im_end|>"], token_ids["<|endoftext|>"]]
    gen.pad_token_id = token_ids["<|endoftext|>"]
    gen.bos_token_id = token_ids["<|endoftext|>"]
    processor = build_processor(arch, tok)

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    params = count_params(model)
    manifest = {
        "what": "tiny randomly initialised o3v test model (not trained, outputs are noise)",
        "o3v_version": __version__,
        "arch": arch,
        "size": size,
        "model_class": type(model).__name__,
        "processor_class": type(processor).__name__,
        "seed": seed,
        "pos_embed_std": pos_embed_std,
        "params": params,
        "tokenizer": {
            "len": len(tok),
            "bpe_vocab_target": BPE_VOCAB_SIZE,
            "model_vocab": config.text_config.vocab_size,
            "project_tags": list(PROJECT_TAGS),
            "corpus_size": CORPUS_SIZE,
            "corpus_sha256": corpus_digest(),
        },
        # Both archs use the Qwen2.5-VL Instruct template; the real Qwen3-VL template renders image parts the
        # same way but differs elsewhere (no default system prompt, tool calls), so a real checkpoint keeps its own.
        "chat_template": "Qwen2-VL/Qwen2.5-VL Instruct",
        "image_size": {
            **_frame_size(arch),
            "patch_size": VISION_GEOMETRY[arch][0],
            "merge_size": VISION_GEOMETRY[arch][1],
        },
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    log.info(
        "built tiny %s (seed %d): %d params (vision %d) in %.2f s -> %s",
        arch,
        seed,
        params["total"],
        params["vision"],
        time.perf_counter() - start,
        out,
    )
    return out
