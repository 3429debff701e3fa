"""Two CPU fast paths for training Qwen-VL models: the same functions as the stock ones, computed faster.

1. **The patch embedding as a matmul.** Qwen2.5-VL and Qwen3-VL embed each (channels x 2 x 16 x 16) patch with a
   `Conv3d` whose kernel equals its stride and that has no padding: a linear map of the flattened patch. oneDNN's
   3-D convolution is slow on CPUs, its weight gradient most of all. Measured on the tiny default (batch of 8
   video rows, 3,072 patches, one thread): 48 -> 13 ms per forward and backward.
2. **Causal attention without a padding mask.** trl's vision collator right-pads every row (`flush_left`), and
   transformers then hands SDPA a 4-D mask, so the kernel computes the whole L x L score matrix. When that mask is
   exactly "causal, padding on the right", `is_causal` gives every real token the same output and skips the
   blocks above the diagonal. Padded positions differ, but they carry no label and come after every real token,
   so nothing they compute reaches the loss or a gradient. Any other mask (left padding in GSPO prompts, a
   decoding step, a float mask) goes to stock SDPA unchanged.

Together, on the tiny default's SFT step (one process, batch 8 video rows): 307 -> 223 ms. Loss and gradients
agree with the stock paths to float rounding (tests/o3v/train/test_cpu_kernels.py). `cpu_kernels: false` in a
training config turns both off; GPU runs never use them.
"""

from __future__ import annotations

import logging
import types
from typing import Any

log = logging.getLogger(__name__)

CAUSAL_SDPA = "o3v_causal_sdpa"  # the name registered with transformers' AttentionInterface


def right_padded_causal(mask: Any) -> bool:
    """True when a 4-D boolean attention mask [batch, 1, L, L] is causal on every real token and the padding of
    every row sits at its end (the real tokens see themselves; padded positions do not).

    Example:
        >>> import torch
        >>> causal = torch.ones(4, 4, dtype=torch.bool).tril()
        >>> padded = causal.clone(); padded[:, 3] = False; padded[3] = False  # the last token is padding
        >>> right_padded_causal(torch.stack([causal, padded])[:, None])
        True
        >>> left = causal.clone(); left[:, 0] = False; left[0] = False  # padding first
        >>> right_padded_causal(torch.stack([causal, left])[:, None]), right_padded_causal(None)
        (False, False)
    """
    import torch

    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() != 4:
        return False
    if mask.shape[1] != 1 or mask.shape[2] != mask.shape[3] or mask.shape[2] < 2:
        return False
    rows = mask[:, 0]
    real = rows.diagonal(dim1=-2, dim2=-1)
    if not bool((real.cummin(dim=1).values == real).all()):  # a padded position before a real one
        return False
    causal = torch.ones(rows.shape[-2:], dtype=torch.bool, device=mask.device).tril_()
    return bool(((rows == causal) | ~real[:, :, None]).all())


def causal_sdpa(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any) -> Any:
    """transformers' SDPA attention, with a right-padded causal mask replaced by the causal flag."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if right_padded_causal(attention_mask):
        attention_mask = None
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _matmul_patch_embed(self: Any, hidden_states: Any) -> Any:
    """The patch embedding's forward as one matmul on flattened patches (bound to the embedding module)."""
    import torch.nn.functional as F

    weight = self.proj.weight
    patches = hidden_states.reshape(-1, weight[0].numel()).to(weight.dtype)
    return F.linear(patches, weight.reshape(weight.shape[0], -1), self.proj.bias)


def _patch_embeds(model: Any) -> list[Any]:
    """The model's patch embeddings that are a Conv3d with kernel == stride, no padding, dilation or groups."""
    import torch

    found = []
    for module in model.modules():
        conv = getattr(module, "proj", None)
        if not type(module).__name__.endswith("PatchEmbed") or not isinstance(conv, torch.nn.Conv3d):
            continue
        expected = (getattr(module, "temporal_patch_size", None), *(getattr(module, "patch_size", None),) * 2)
        plain = conv.padding == (0, 0, 0) and conv.dilation == (1, 1, 1) and conv.groups == 1
        if plain and tuple(conv.kernel_size) == tuple(conv.stride) == expected:
            found.append(module)
    return found


def patch_embed_as_matmul(model: Any) -> int:
    """Run every Conv3d patch embedding of `model` as the equivalent matmul; returns how many were switched.

    The weights stay where they are (a `Conv3d`), so checkpoints and saved models do not change.
    """
    switched = 0
    for embed in _patch_embeds(model):
        if "forward" not in vars(embed):
            embed.forward = types.MethodType(_matmul_patch_embed, embed)
            switched += 1
    return switched


def causal_text_attention(model: Any) -> bool:
    """Give the language model `causal_sdpa` where it uses SDPA; returns True when it changed something."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    text = getattr(model.config, "text_config", None)
    if text is None or text._attn_implementation != "sdpa":
        return False
    AttentionInterface.register(CAUSAL_SDPA, causal_sdpa)
    # The same 4-D masks as for sdpa: transformers builds no mask at all for a name without a mask function
    # (it assumes a server-side backend), which would make left-padded prompts attend to their padding.
    ALL_MASK_ATTENTION_FUNCTIONS.register(CAUSAL_SDPA, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])
    model.set_attn_implementation({"text_config": CAUSAL_SDPA})
    return True


def apply(model: Any) -> list[str]:
    """Both fast paths on a model that trains on the CPU; returns the names of those applied (logged)."""
    applied = []
    if patch_embed_as_matmul(model):
        applied.append("patch embedding as a matmul")
    if causal_text_attention(model):
        applied.append("causal text attention without a padding mask")
    if applied:
        log.info("CPU fast paths (o3v.train.cpu_kernels): %s", "; ".join(applied))
    return applied


def restore(model: Any) -> None:
    """Back to the stock paths (tests and benchmarks compare both)."""
    for embed in _patch_embeds(model):
        vars(embed).pop("forward", None)
    text = getattr(model.config, "text_config", None)
    if text is not None and text._attn_implementation == CAUSAL_SDPA:
        model.set_attn_implementation({"text_config": "sdpa"})
