"""Model configs: the tiny CPU shapes, and the real 7B/8B shapes written out for offline checks.

The tiny configs keep every structural feature of the real ones (GQA, MRoPE sections summing to
head_dim/2, window + full attention blocks in the Qwen2.5-VL ViT, DeepStack and learned position
embeddings in the Qwen3-VL ViT, untied embeddings) at widths of 32-64, so wiring bugs show on CPU.
The real configs carry the values of the published `config.json` of Qwen/Qwen2.5-VL-7B-Instruct and
Qwen/Qwen3-VL-8B-Instruct (transcribed here so a meta-device test can check parameter counts
without network access).
"""

from __future__ import annotations

from typing import Any, Literal

Arch = Literal["qwen2_5_vl", "qwen3_vl"]
ARCHS: tuple[str, ...] = ("qwen2_5_vl", "qwen3_vl")
REAL_MODELS: dict[str, str] = {
    "qwen2.5-vl-7b": "Qwen/Qwen2.5-VL-7B-Instruct",
    "qwen3-vl-8b": "Qwen/Qwen3-VL-8B-Instruct",
}

# Vision geometry of each architecture: (patch size, spatial merge size). Frames are resized to
# multiples of patch*merge pixels; one merged patch is one visual token.
VISION_GEOMETRY: dict[str, tuple[int, int]] = {"qwen2_5_vl": (14, 2), "qwen3_vl": (16, 2)}
# Tiny default frame budget: 4..16 visual tokens per image (a 224x224 frame becomes 112x112 on
# Qwen2.5-VL, 128x128 on Qwen3-VL, i.e. 16 tokens). Real checkpoints keep their own settings.
TINY_MIN_TOKENS, TINY_MAX_TOKENS = 4, 16
# Init std of the tiny Qwen3-VL ViT's learned absolute position embedding (`model.visual.pos_embed`), 10x the
# config's initializer_range (0.02). On a grey background an empty patch embeds near zero, so *where* a patch is
# must grow out of this table: at 0.02 the 600-step stills warm-up localised for no init seed (held-out box IoU
# 0.12-0.28 at step 600, constant 0.124); at 0.2 it did for every seed tried (0.53-0.70). Issue 10, session 7.
TINY_POS_EMBED_STD = 0.2


def _pad_vocab(n: int, multiple: int = 64) -> int:
    return -(-n // multiple) * multiple


# Tiny widths: "xs" is the smallest wiring check (~0.25M params); "s" is wide enough to bind a named object to
# its box and span on the learnable synthetic world (tiny-learning.md: the 64-wide text model cannot bind).
TINY_SIZES: dict[str, dict[str, int]] = {
    "xs": {"text": 64, "text_ffn": 128, "layers": 2, "heads": 4, "kv_heads": 2, "head_dim": 16, "vision": 32},
    "s": {"text": 128, "text_ffn": 384, "layers": 3, "heads": 4, "kv_heads": 2, "head_dim": 32, "vision": 64},
    "m": {"text": 256, "text_ffn": 512, "layers": 4, "heads": 8, "kv_heads": 4, "head_dim": 32, "vision": 64},
}


def _mrope_section(head_dim: int) -> list[int]:
    """MRoPE (t, h, w) sections summing to head_dim / 2, in the real models' 2:3:3 proportion."""
    half = head_dim // 2
    t = round(half / 4)
    h = (half - t) // 2
    return [t, h, half - t - h]


def tiny_config(arch: Arch, token_ids: dict[str, int], vocab_len: int, size: str = "xs") -> Any:
    """A tiny config of the real architecture (width `size`, a key of `TINY_SIZES`), wired to the tiny tokenizer."""
    if size not in TINY_SIZES:
        raise ValueError(f"unknown tiny size {size!r}; expected one of {sorted(TINY_SIZES)}")
    dims = TINY_SIZES[size]
    ids = {
        "image_token_id": token_ids["<|image_pad|>"],
        "video_token_id": token_ids["<|video_pad|>"],
        "vision_start_token_id": token_ids["<|vision_start|>"],
        "vision_end_token_id": token_ids["<|vision_end|>"],
    }
    text = {
        "vocab_size": _pad_vocab(vocab_len),
        "hidden_size": dims["text"],
        "intermediate_size": dims["text_ffn"],
        "num_hidden_layers": dims["layers"],
        "num_attention_heads": dims["heads"],
        "num_key_value_heads": dims["kv_heads"],
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "pad_token_id": token_ids["<|endoftext|>"],
    }
    if arch == "qwen2_5_vl":
        from transformers import Qwen2_5_VLConfig

        text |= {
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 1e6,
                "mrope_section": _mrope_section(dims["text"] // dims["heads"]),
            },
            "bos_token_id": token_ids["<|endoftext|>"],
            "eos_token_id": token_ids["<|im_end|>"],
        }
        vision = {
            "depth": 2,
            "hidden_size": dims["vision"],
            "intermediate_size": 2 * dims["vision"],
            "num_heads": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [1],
            "out_hidden_size": dims["text"],
            "tokens_per_second": 2,  # the 7B value; the class default (4) is not what ships
        }
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)
    if arch == "qwen3_vl":
        from transformers import Qwen3VLConfig

        text |= {
            "head_dim": dims["head_dim"],
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5e6,
                "mrope_section": _mrope_section(dims["head_dim"]),
                "mrope_interleaved": True,
            },
        }
        vision = {
            "depth": 2,
            "hidden_size": dims["vision"],
            "intermediate_size": 2 * dims["vision"],
            "num_heads": 2,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "out_hidden_size": dims["text"],
            "num_position_embeddings": 256,  # must be a square (a 16x16 grid of learned positions)
            "deepstack_visual_indexes": [0],
        }
        return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **ids)
    raise ValueError(f"unknown arch {arch!r}; expected one of {ARCHS}")


def real_config(name: Literal["qwen2.5-vl-7b", "qwen3-vl-8b"]) -> Any:
    """The published real-size config, built offline (values from the checkpoints' config.json)."""
    qwen_ids = {
        "image_token_id": 151655,
        "video_token_id": 151656,
        "vision_start_token_id": 151652,
        "vision_end_token_id": 151653,
    }
    if name == "qwen2.5-vl-7b":
        from transformers import Qwen2_5_VLConfig

        text = {
            "vocab_size": 152064,
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
            "max_position_embeddings": 128000,
            "rms_norm_eps": 1e-6,
            "rope_parameters": {"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]},
            "sliding_window": 32768,
            "max_window_layers": 28,
            "bos_token_id": 151643,
            "eos_token_id": 151645,
        }
        vision = {
            "depth": 32,
            "hidden_size": 1280,
            "intermediate_size": 3420,
            "num_heads": 16,
            "hidden_act": "silu",
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [7, 15, 23, 31],
            "out_hidden_size": 3584,
            "tokens_per_second": 2,
        }
        return Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **qwen_ids)
    if name == "qwen3-vl-8b":
        from transformers import Qwen3VLConfig

        text = {
            "vocab_size": 151936,
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "max_position_embeddings": 262144,
            "rms_norm_eps": 1e-6,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5e6,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
        }
        vision = {
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "hidden_act": "gelu_pytorch_tanh",
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "out_hidden_size": 4096,
            "num_position_embeddings": 2304,
            "deepstack_visual_indexes": [8, 16, 24],
        }
        return Qwen3VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=False, **qwen_ids)
    raise ValueError(f"unknown real model {name!r}; expected one of {sorted(REAL_MODELS)}")
