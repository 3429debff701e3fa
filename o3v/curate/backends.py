"""Vision-chat backends shared by the teacher, the category verifier and the reasoning rewriter.

One call shape for every model: `ask(system, parts, images) -> (text, cached)`, where `parts` is the
user turn as ("text", str) / ("image", i) pairs and `images` are PIL images. `OpenAIChat` sends them to
an OpenAI-compatible endpoint (images as base64 JPEG data URLs); `LocalChat` runs a transformers VLM
through `o3v.model` (HF chat format with `{"type": "image"}` placeholders).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from o3v.curate.chat_client import ChatClient, jpeg_data_url
from o3v.curate.config import ConfigError, CurateConfig

log = logging.getLogger(__name__)


class VisionChat(Protocol):
    name: str
    concurrency: int

    def ask(self, system: str, parts: list[tuple[str, Any]], images: list[Any]) -> tuple[str, bool]: ...


class OpenAIChat:
    """An OpenAI-compatible endpoint; `concurrency` threads may call `ask` at once."""

    def __init__(self, cfg: CurateConfig, cache_dir: Path, client: ChatClient | None = None):
        self.client = client or ChatClient(cfg.openai, cache_dir)
        self.quality = cfg.openai.jpeg_quality
        self.name = f"openai:{cfg.openai.model}"
        self.concurrency = cfg.openai.max_concurrency

    def messages(self, system: str, parts: list[tuple[str, Any]], images: list[Any]) -> list[dict[str, Any]]:
        content: list[dict[str, Any]] = []
        for kind, value in parts:
            if kind == "text":
                content.append({"type": "text", "text": value})
            else:
                content.append({"type": "image_url", "image_url": {"url": jpeg_data_url(images[value], self.quality)}})
        return [{"role": "system", "content": system}, {"role": "user", "content": content}]

    def ask(self, system: str, parts: list[tuple[str, Any]], images: list[Any]) -> tuple[str, bool]:
        res = self.client.complete(self.messages(system, parts, images))
        return res.text, res.cached


class LocalChat:
    """A transformers VLM (path or hub id); generation is serialized (one model, one forward at a time)."""

    concurrency = 1

    def __init__(self, cfg: CurateConfig):
        if not cfg.local.model:
            raise ConfigError("config key 'local.model' must name a model path or hub id for the local backend")
        from o3v.model import load_model

        self.model, self.processor = load_model(cfg.local.model)
        self.max_new_tokens = cfg.local.max_new_tokens
        self.name = f"local:{cfg.local.model}"
        self._lock = threading.Lock()

    def ask(self, system: str, parts: list[tuple[str, Any]], images: list[Any]) -> tuple[str, bool]:
        from o3v.model import generate

        content = [{"type": "text", "text": v} if k == "text" else {"type": "image"} for k, v in parts]
        order = [v for k, v in parts if k == "image"]
        messages = [
            {"role": "system", "content": [{"type": "text", "text": system}]},
            {"role": "user", "content": content},
        ]
        with self._lock:
            text = generate(self.model, self.processor, messages, [images[i] for i in order],
                            max_new_tokens=self.max_new_tokens)[0]  # fmt: skip
        return text, False


def build_chat(kind: str, cfg: CurateConfig, cache_dir: Path) -> VisionChat:
    """`openai` or `local` backend from the config."""
    if kind == "openai":
        return OpenAIChat(cfg, cache_dir)
    if kind == "local":
        return LocalChat(cfg)
    raise ConfigError(f"no vision-chat backend named {kind!r}; expected 'openai' or 'local'")
