"""The `openai` inference backend: evaluate a model served behind an OpenAI-compatible endpoint.

    o3v eval run --backend openai --base-url http://vllm.o3v:8000/v1 --model Qwen/Qwen2.5-VL-7B-Instruct \
        --benchmark vstar --annotations V_STaR_test.json --media-root videos/ --out out/eval

How a user evaluates a model served by vLLM, SGLang or `transformers serve` in the cluster: the runner is
the same as in-process (`o3v.eval.runner`), only the generation call goes over HTTP through o3v's chat
client (the official `openai` client: retries, timeouts, Retry-After). What the two backends share, so a
greedy model answers the same either way:

- the prompt: `o3v.prompts` builds the conversation; each `{"type": "image"}` part becomes an `image_url`
  part holding that frame as a lossless PNG data URL, in order (the server decodes the exact pixels);
- the resize: frames go at their decoded size and the server's processor resizes them; the local
  processor (`--processor`, default: the model name) gives the model-input size that maps boxes back, so
  the eval config's pixel budget (`min_pixels`/`max_pixels`) must be the server's;
- decoding: `temperature` 0 is greedy, `max_tokens` is the query's token budget, stop at the model's eos.

Servers that split `<think>…</think>` into a `reasoning_content` field (`transformers serve` for Qwen models,
vLLM with a reasoning parser) get it put back in front of the answer, so o3v's parser sees one completion.
Sampled voting sends one request per sample with `seed` = the sample's seed + its index (servers that
ignore `seed` make voting non-reproducible). Requests of one batch run concurrently (`batch_size` threads).
"""

from __future__ import annotations

import base64
import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


def png_data_url(image: Any) -> str:
    """A PIL image or (H, W, 3) uint8 array as a lossless `data:image/png;base64,...` URL."""
    from PIL import Image

    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buf = io.BytesIO()
    img.convert("RGB").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def openai_messages(messages: list[dict], images: list[Any]) -> list[dict]:
    """o3v conversation + its images (in order) -> OpenAI chat messages with `image_url` parts.

    Raises ValueError when the image parts and the images do not pair up (the in-process encoder's check).
    """
    out, it, used = [], iter(images), 0
    for msg in messages:
        content = msg["content"]
        if isinstance(content, list):
            parts = []
            for part in content:
                if part.get("type") == "image":
                    image = next(it, None)
                    if image is None:
                        raise ValueError(f"conversation has more image parts than its {len(images)} images")
                    used += 1
                    parts.append({"type": "image_url", "image_url": {"url": png_data_url(image)}})
                else:
                    parts.append({"type": "text", "text": part["text"]})
            content = parts
        out.append({"role": msg["role"], "content": content})
    if used != len(images):
        raise ValueError(f"conversation has {used} image parts but {len(images)} images were given")
    return out


def completion_text(text: str, reasoning: str | None) -> str:
    """The whole completion: a reasoning field a server split off goes back in front, inside `<think>`."""
    return f"<think>{reasoning}</think>{text}" if reasoning else text


@dataclass
class ServedModel:
    """A model behind an OpenAI-compatible endpoint; `generate` mirrors `o3v.model.generate`."""

    client: Any  # o3v.curate.chat_client.ChatClient
    concurrency: int = 4

    @property
    def name(self) -> str:
        return f"{self.client.cfg.model} @ {self.client.cfg.base_url}"

    def _one(self, messages: list[dict], images: list[Any], params: dict[str, Any]) -> str:
        res = self.client.complete(openai_messages(messages, images), **params)
        return completion_text(res.text, res.reasoning)

    def generate(
        self,
        messages: list[dict] | list[list[dict]],
        images: Any,
        *,
        max_new_tokens: int,
        temperature: float = 0.0,
        num_return_sequences: int = 1,
        seed: int | None = None,
        top_p: float = 1.0,
    ) -> list[str]:
        """B conversations (or one) x `num_return_sequences` completions, grouped by conversation."""
        batch = bool(messages) and isinstance(messages[0], list | tuple)
        convs = [list(c) for c in messages] if batch else [list(messages)]
        image_lists = [list(x) for x in images] if batch else [list(images or [])]
        calls = []
        for conv, imgs in zip(convs, image_lists):
            for k in range(num_return_sequences):
                params: dict[str, Any] = {"max_tokens": max_new_tokens, "temperature": temperature}
                if temperature > 0:
                    params["top_p"] = top_p
                    params["seed"] = None if seed is None else seed + k
                calls.append((conv, imgs, params))
        if len(calls) == 1 or self.concurrency <= 1:
            return [self._one(*c) for c in calls]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(calls))) as pool:
            return list(pool.map(lambda c: self._one(*c), calls))


def load_served(
    base_url: str,
    model: str,
    *,
    processor: str | None = None,
    api_key_env: str | None = None,
    timeout_s: float = 600.0,
    max_retries: int = 5,
    concurrency: int = 4,
) -> tuple[ServedModel, Any]:
    """(ServedModel, local processor) for `o3v eval run --backend openai`; no response cache (predictions resume)."""
    from o3v.curate.chat_client import ChatClient
    from o3v.curate.config import OpenAIConfig

    cfg = OpenAIConfig(
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        timeout_s=timeout_s,
        max_retries=max_retries,
        json_mode=False,
        temperature=0.0,
    )
    served = ServedModel(ChatClient(cfg, None), concurrency)
    return served, load_processor(processor or model)


def load_processor(source: str) -> Any:
    """The model's processor (for the model-input size of the frames), from a folder or a cached hub id."""
    from o3v.model import ModelLoadError
    from o3v.torchvision_cpu import install

    install()
    from transformers import AutoProcessor

    try:
        return AutoProcessor.from_pretrained(source)
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(
            f"cannot load the processor {source!r} for the served model (pass --processor with the model's folder or "
            f"hub id): {exc}"
        ) from exc
