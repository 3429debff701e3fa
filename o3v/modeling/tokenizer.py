"""The tiny model's tokenizer: a byte-level BPE trained offline on o3v's own prompt language.

It mirrors the real Qwen2/2.5-VL tokenizer's *shape* so code written against the tiny model runs
unchanged on a real checkpoint (ml-stack.md §3):

- Qwen2's NFC normaliser and pre-tokenizer regex (digits split one by one, so `123` is 3 tokens,
  as in Qwen), byte-level encoding (every byte string is encodable), ByteLevel decoder;
- `<|endoftext|>` first, then the 21 other Qwen special tokens in the real order, eos `<|im_end|>`,
  pad `<|endoftext|>`, no bos/unk, as in the Instruct tokenizers;
- o3v's answer tags (`<think>`, `<obj>`, `<box>`, `<t>`, ...) as *normal* added tokens: each is one
  token, and they survive `skip_special_tokens=True` decoding, which generation relies on.

The BPE merges are learnt from text rendered by `o3v.prompts`/`o3v.grounded` (system prompts, frame
lines, questions, grounded completions), so our prompts tokenize compactly with a ~1k vocabulary.
The corpus is fixed (not seeded by the model seed) so every tiny checkpoint shares one tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

from o3v.grounded import Claim, render_claim, render_completion, render_option, render_span
from o3v.prompts import SYSTEM_PROMPTS, frame_label, user_text

# The real Qwen2.5-VL order after <|endoftext|> (ids 151644..151664 in the real vocabulary).
QWEN_SPECIAL_TOKENS: tuple[str, ...] = (
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<tool_call>",
    "</tool_call>",
    "<|fim_prefix|>",
    "<|fim_middle|>",
    "<|fim_suffix|>",
    "<|fim_pad|>",
    "<|repo_name|>",
    "<|file_sep|>",
)
ENDOFTEXT = "<|endoftext|>"
# Project tags: normal tokens (not special) so decoding with skip_special_tokens keeps them.
PROJECT_TAGS: tuple[str, ...] = (
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "<obj>",
    "</obj>",
    "<box>",
    "</box>",
    "<t>",
    "</t>",
)
CORPUS_SEED = 0
CORPUS_SIZE = 3000
BPE_VOCAB_SIZE = 1024

_COLORS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black", "cyan", "magenta", "gray", "pink")
_SHAPES = ("circle", "square", "triangle", "rectangle", "ball", "box", "star", "disk", "bar", "cross")
_MOTIONS = ("moves left", "moves right", "moves up", "moves down", "stays still", "bounces", "appears", "disappears")
_QUESTIONS = (
    "When does the {c} {s} appear?",
    "When is the {c} {s} visible in the video?",
    "During which seconds does the {c} {s} move?",
    "Where is the {c} {s} when it {m}?",
    "What color is the {s} that {m}?",
    "Which object {m} first?",
    "How many {s}s are in the video?",
    "What does the {c} {s} do?",
    "Is the {c} {s} to the left or to the right of the {c2} {s2}?",
    "Find the {c} {s} in the image.",
    "Describe what happens to the {c} {s}.",
)
_REASONING = (
    "The {c} {s} {m}",
    "I look for the {c} {s}",
    "First the {c} {s} is at the top, then it {m}",
    "The {c} {s} is no longer visible",
    "Comparing the frames, the {c} {s} {m}",
    "So the answer is the {c} {s}",
)
_TAG_SPLIT = re.compile("|".join(re.escape(t) for t in (*PROJECT_TAGS, ENDOFTEXT, *QWEN_SPECIAL_TOKENS)))


def _box(rng: random.Random, size: int = 112) -> tuple[int, int, int, int]:
    x1, y1 = rng.randrange(0, size - 8), rng.randrange(0, size - 8)
    return x1, y1, rng.randrange(x1 + 4, size + 1), rng.randrange(y1 + 4, size + 1)


def _time(rng: random.Random) -> float:
    return rng.choice((rng.randrange(0, 60), round(rng.uniform(0, 60), 1), round(rng.uniform(0, 60), 2)))


def _words(rng: random.Random) -> dict[str, str]:
    return {
        "c": rng.choice(_COLORS),
        "s": rng.choice(_SHAPES),
        "m": rng.choice(_MOTIONS),
        "c2": rng.choice(_COLORS),
        "s2": rng.choice(_SHAPES),
    }


def _completion(rng: random.Random) -> str:
    """A rendered grounded completion of a random task shape."""
    steps = []
    for _ in range(rng.randint(1, 3)):
        w = _words(rng)
        claim = Claim(f"{w['c']} {w['s']}", (_box(rng),), _time(rng))
        steps.append(rng.choice(_REASONING).format(**w) + " " + render_claim(claim) + ".")
    think = " ".join(steps)
    w = _words(rng)
    start = _time(rng)
    kind = rng.randrange(4)
    if kind == 0:
        answer = render_span(start, start + rng.randint(1, 20)) + "."
    elif kind == 1:
        answer = render_option(rng.choice("ABCD"), (start, start + rng.randint(1, 20)))
    elif kind == 2:
        answer = rng.choice("ABCD")
    else:
        answer = f"The {w['c']} {w['s']} {w['m']}."
    return render_completion(think, answer)


def corpus(n: int = CORPUS_SIZE, seed: int = CORPUS_SEED) -> Iterator[str]:
    """Deterministic training text: system prompts, frame lines, user turns and grounded completions."""
    rng = random.Random(seed)
    yield from SYSTEM_PROMPTS.values()
    for _ in range(n):
        w = _words(rng)
        question = rng.choice(_QUESTIONS).format(**w)
        frames = " ".join(frame_label(i, _time(rng)) for i in range(1, rng.randint(2, 17)))
        options = [f"{letter}. {rng.choice(_COLORS)} {rng.choice(_SHAPES)}" for letter in "ABCD"]
        duration = rng.choice((None, _time(rng)))
        yield frames + "\n" + user_text(question, duration, options if rng.random() < 0.3 else None)
        yield _completion(rng)


def _untagged(texts: Iterator[str]) -> Iterator[str]:
    """Drop tags from the training text: at run time they are matched as added tokens before BPE sees the text."""
    for text in texts:
        yield from (piece for piece in _TAG_SPLIT.split(text) if piece)


def chat_template() -> str:
    """The Qwen2-VL / Qwen2.5-VL Instruct chat template (the hub checkpoints' own, verbatim)."""
    return resources.files("o3v.modeling").joinpath("qwen2_5_vl_chat_template.jinja").read_text()


def train_tokenizer(vocab_size: int = BPE_VOCAB_SIZE) -> Any:
    """Train the byte-level BPE and wrap it as a `Qwen2Tokenizer` with Qwen's special tokens and o3v's tags."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import AddedToken, Qwen2Tokenizer
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[ENDOFTEXT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_untagged(corpus()), trainer=trainer)
    model = json.loads(bpe.to_str())["model"]
    # tokenizers 0.23 serialises merges as [a, b] lists; Qwen2Tokenizer wants tuples.
    merges = [tuple(m) for m in model["merges"]]
    tok = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,
        unk_token=None,
        bos_token=None,
        eos_token=ENDOFTEXT,  # switched to <|im_end|> below, once it exists at its real position
        pad_token=ENDOFTEXT,
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )
    tok.add_special_tokens({"additional_special_tokens": list(QWEN_SPECIAL_TOKENS)})
    tok.eos_token = "<|im_end|>"
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in PROJECT_TAGS])
    tok.chat_template = chat_template()
    return tok


def corpus_digest() -> str:
    """sha256 of the training corpus, recorded in o3v_tiny.json so a changed corpus is visible."""
    h = hashlib.sha256()
    for text in corpus():
        h.update(text.encode())
        h.update(b"\0")
    return h.hexdigest()
