"""LLM judge for V-STaR's "what" answers, behind one small backend interface.

The official judge is Qwen2.5-72B-Instruct rating semantic similarity 0-3 (benchmarks.md §1.5); Open-o3's copy
decodes greedily, V-STaR's own `eval.py` uses the model's sampling defaults (non-deterministic). o3v always
decodes greedily, records the judge's model id and revision with every score, keeps the raw replies, and
caches them (`judge.jsonl`, keyed by the sha256 of judge + question + answers) so re-scoring never re-judges.

Backends (`make_judge(config)`):
- `openai`: an OpenAI-compatible endpoint (e.g. Qwen2.5-72B-Instruct on vLLM), through o3v's chat client
  (the `openai` client's retries and backoff, o3v's content-addressed response cache);
- `transformers`: a local model (a text LLM via AutoModelForCausalLM, or a Qwen-VL checkpoint through
  `o3v.model`, without images);
- `exact`: not an LLM: 3 when the normalized answer equals the ground truth, else 0. For offline smoke runs
  on synthetic data, where answers are short facts; labelled as non-official like every judge but the 72B.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

# The official rating instructions (V-STaR eval.py / Open-o3 eval_vstar.py), reproduced as protocol data:
# a judge prompted differently gives scores that are not comparable.
SYSTEM_PROMPT = """
As an AI assistant, your task is to evaluate a candidate answer in comparison to a given correct answer.
The question itself, the correct 'groundtruth' answer, and the candidate answer will be provided to you.
Your assessment should range from 0 to 3, \
based solely on the semantic similarity between the groundtruth and the candidate answer, \
disregarding any grammatical differences.
A rating of 0 suggests no similarity, implying the candidate answer is entirely incorrect.
A rating of 1 suggests low similarity, meaning the candidate answer is largely incorrect.
A rating of 2 suggests high similarity, meaning the candidate answer is largely correct.
Lastly, a rating of 3 indicates complete similarity, which means the candidate answer is entirely correct.
Your response should be a single integer from 0, 1, 2, or 3.
"""
USER_TEMPLATE = "Question: {}\nGroundtruth answer: {}\nCandidate answer: {}\nYour response: "
MAX_NEW_TOKENS = 512


def judge_messages(question: str, groundtruth: str, candidate: str) -> list[dict]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(question, groundtruth, candidate)},
    ]


class Backend(Protocol):
    """Turns chat messages into a reply; greedy; says which model and revision it is."""

    name: str
    model: str
    revision: str

    def reply(self, items: Sequence[tuple[str, str, str]]) -> list[str]: ...


@dataclass
class JudgeConfig:
    backend: str = "exact"  # exact | openai | transformers
    model: str = ""
    revision: str = ""
    base_url: str = ""
    api_key_env: str | None = "OPENAI_API_KEY"
    cache_dir: str | None = None
    batch_size: int = 8
    max_new_tokens: int = MAX_NEW_TOKENS  # upstream's 512; a rating is one token, the cap only bounds rambling


def exact_key(text: str) -> str:
    """What the exact-match judge compares: lower case, letters, digits and single spaces only.

    >>> exact_key("It is a  Circle."), exact_key("it is a circle")
    ('it is a circle', 'it is a circle')
    """
    return " ".join("".join(ch for ch in text.lower() if ch.isalnum() or ch.isspace()).split())


class ExactBackend:
    """Rates 3 on a normalized exact match, else 0 (not an LLM; for offline synthetic runs)."""

    name = "exact"
    model = "o3v-exact-match"
    revision = "1"

    def reply(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        return ["3" if exact_key(gt) == exact_key(cand) and exact_key(gt) else "0" for _, gt, cand in items]


class OpenAIBackend:
    """An OpenAI-compatible chat endpoint, greedy, through the retrying, caching chat client."""

    name = "openai"

    def __init__(self, cfg: JudgeConfig, cache_dir: Path):
        from o3v.curate.chat_client import ChatClient
        from o3v.curate.config import OpenAIConfig

        self.model, self.revision = cfg.model, cfg.revision or "unknown"
        self.client = ChatClient(
            OpenAIConfig(
                base_url=cfg.base_url,
                model=cfg.model,
                api_key_env=cfg.api_key_env,
                temperature=0.0,
                max_tokens=cfg.max_new_tokens,
                json_mode=False,
            ),
            cache_dir,
        )

    def reply(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        return [self.client.complete(judge_messages(*item)).text for item in items]


class TransformersBackend:
    """A local model, greedy: a text LLM (AutoModelForCausalLM) or a Qwen-VL checkpoint (via `o3v.model`)."""

    name = "transformers"

    def __init__(self, cfg: JudgeConfig):
        from o3v import torchvision_cpu

        torchvision_cpu.install()
        from transformers import AutoConfig

        self.model, self.revision = cfg.model, cfg.revision or "main"
        self.batch_size, self.max_new_tokens = cfg.batch_size, cfg.max_new_tokens
        config = AutoConfig.from_pretrained(cfg.model, revision=self.revision)
        self.vision = hasattr(config, "vision_config")
        if self.vision:
            from o3v.model import load_model

            self.lm, self.processor = load_model(cfg.model)
        else:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            self.tokenizer = AutoTokenizer.from_pretrained(cfg.model, revision=self.revision, padding_side="left")
            self.lm = AutoModelForCausalLM.from_pretrained(cfg.model, revision=self.revision, dtype="auto")
            self.lm.eval().to("cuda" if torch.cuda.is_available() else "cpu")

    def reply(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        out: list[str] = []
        for start in range(0, len(items), self.batch_size):
            out.extend(self._batch(items[start : start + self.batch_size]))
        return out

    def _batch(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        if self.vision:
            from o3v.model import generate

            msgs = [
                [
                    {"role": m["role"], "content": [{"type": "text", "text": m["content"]}]}
                    for m in judge_messages(*item)
                ]
                for item in items
            ]
            return generate(self.lm, self.processor, msgs, [[] for _ in msgs], max_new_tokens=self.max_new_tokens)
        import torch

        texts = [
            self.tokenizer.apply_chat_template(judge_messages(*item), tokenize=False, add_generation_prompt=True)
            for item in items
        ]
        batch = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.lm.device)
        with torch.inference_mode():
            ids = self.lm.generate(
                **batch,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            )
        return self.tokenizer.batch_decode(ids[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)


class Judge:
    """Rates (question, groundtruth, candidate) triples with a backend, caching every raw reply on disk."""

    def __init__(self, backend: Backend, cache_file: str | Path | None = None):
        self.backend = backend
        self.cache_file = Path(cache_file) if cache_file else None
        self._cache: dict[str, str] = {}
        if self.cache_file and self.cache_file.is_file():
            for line in self.cache_file.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    entry = json.loads(line)
                    self._cache[entry["key"]] = entry["reply"]
        self.calls = 0

    def identity(self) -> dict[str, str]:
        return {
            "judge_model": self.backend.model,
            "judge_revision": self.backend.revision,
            "judge_backend": self.backend.name,
        }

    def key(self, item: tuple[str, str, str]) -> str:
        payload = json.dumps([self.backend.name, self.backend.model, self.backend.revision, *item])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def rate(self, items: Sequence[tuple[str, str, str]]) -> list[str]:
        """Raw replies, one per item; cached replies are reused, new ones appended to the cache file."""
        keys = [self.key(tuple(item)) for item in items]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        if todo:
            log.info(
                "judge %s (%s): rating %d answers (%d cached)",
                self.backend.model,
                self.backend.name,
                len(todo),
                len(items) - len(todo),
            )
            replies = self.backend.reply([items[i] for i in todo])
            self.calls += len(todo)
            for i, reply in zip(todo, replies):
                self._cache[keys[i]] = reply
                if self.cache_file:
                    self.cache_file.parent.mkdir(parents=True, exist_ok=True)
                    with self.cache_file.open("a", encoding="utf-8") as f:
                        entry = {
                            "key": keys[i],
                            "question": items[i][0],
                            "groundtruth": items[i][1],
                            "candidate": items[i][2],
                            "reply": reply,
                            **self.identity(),
                        }
                        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return [self._cache[k] for k in keys]


def make_judge(cfg: JudgeConfig | dict[str, Any], cache_file: str | Path | None = None) -> Judge:
    """A `Judge` for `cfg.backend` ("exact", "openai" or "transformers"); unknown backends are an error."""
    if isinstance(cfg, dict):
        known = list(JudgeConfig.__dataclass_fields__)
        unknown = sorted(set(cfg) - set(known))
        if unknown:
            raise ValueError(f"unknown judge config key(s) {unknown}; known: {known}")
        cfg = JudgeConfig(**cfg)
    if cfg.backend == "exact":
        backend: Backend = ExactBackend()
    elif cfg.backend == "openai":
        if not cfg.base_url or not cfg.model:
            raise ValueError("judge backend 'openai' needs judge.base_url and judge.model")
        cache = Path(cfg.cache_dir or (Path(cache_file).parent if cache_file else ".")) / "judge_http_cache"
        backend = OpenAIBackend(cfg, cache)
    elif cfg.backend == "transformers":
        if not cfg.model:
            raise ValueError("judge backend 'transformers' needs judge.model (a hub id or a local folder)")
        backend = TransformersBackend(cfg)
    else:
        raise ValueError(f"unknown judge backend {cfg.backend!r}; expected 'exact', 'openai' or 'transformers'")
    return Judge(backend, cache_file)
