"""`transformers serve` vs the in-process model: the same greedy tokens, and `o3v eval run --backend openai`.

The tiny model is random-init, so its text is noise, but greedy noise is deterministic: the server must
produce the very tokens the in-process model produces for the same prompt and frames.
"""

from __future__ import annotations

import json

import pytest
import requests

from o3v.eval.served import completion_text, openai_messages
from o3v.prompts import build_messages


def _frames(synth_world, n: int = 4):
    from PIL import Image

    from o3v.video import frames_at

    video = sorted((synth_world / "videos").glob("*.mp4"))[0]
    times = [0.5 * i for i in range(n)]
    return [Image.fromarray(f) for f in frames_at(video, times).frames], times


def test_server_returns_the_in_process_greedy_tokens_for_a_prompt_with_frames(served, synth_world):
    import torch
    from transformers.cli.serving.utils import parse_assistant_message

    from o3v.model import encode, generation_config, load_model

    images, times = _frames(synth_world)
    messages = build_messages("temporal QA", "When does the red circle appear?", times, 2.0, None)
    body = {"model": served.model, "messages": openai_messages(messages, images), "temperature": 0.0,
            "max_tokens": 40}  # fmt: skip
    reply = requests.post(f"{served.base_url}/chat/completions", json=body, timeout=120)
    assert reply.status_code == 200, reply.text
    message, usage = reply.json()["choices"][0]["message"], reply.json()["usage"]

    model, processor = load_model(served.model_dir, dtype="float32", device="cpu")
    inputs = encode(processor, messages, images)
    config = generation_config(model, processor, max_new_tokens=40, temperature=0.0, top_p=1.0, num_return_sequences=1)
    with torch.inference_mode():
        new = model.generate(**inputs, generation_config=config)[0, inputs["input_ids"].shape[1] :]
    # the frames reached the model: the prompt holds their vision tokens, exactly as in-process
    assert usage["prompt_tokens"] == inputs["input_ids"].shape[1] > 100
    assert usage["completion_tokens"] == len(new)
    # the server's own response parser applied to the in-process tokens gives the server's reply verbatim
    decoded = processor.decode(new, skip_special_tokens=True)
    content, reasoning, _ = parse_assistant_message(processor, model, new, inputs["input_ids"], decoded)
    assert message["content"] == content and message.get("reasoning_content") == reasoning
    if not reasoning and "<|" not in content:  # nothing split off, no special token kept: the same text as o3v's
        assert completion_text(content, None).strip() == decoded.strip()


def test_requests_without_images_work_too(served):
    body = {"model": served.model, "messages": [{"role": "user", "content": "hello"}], "max_tokens": 4,
            "temperature": 0}  # fmt: skip
    reply = requests.post(f"{served.base_url}/chat/completions", json=body, timeout=60)
    assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 4


def _eval(args: list[str]) -> int:
    from o3v.cli import main

    return main(["eval", "run", *args])


def _metrics(folder) -> dict:
    data = json.loads((folder / "metrics.json").read_text())
    return {"metrics": data["metrics"], "blind": (data["blind_frame"] or {}).get("metrics"), "n": data["n_scored"]}


def _compare(served, synth_world, tmp_path, benchmarks: dict[str, str], extra: list[str]) -> dict[str, dict]:
    bench = synth_world / "benchmarks"
    common = ["--benchmark", *benchmarks, "--annotations", *(str(bench / f) for f in benchmarks.values()),
              "--media-root", str(synth_world), "--config", "tiny-cpu", "--set", "batch_size=1", *extra]  # fmt: skip
    assert _eval(["--model", served.model, "--out", str(tmp_path / "local"), *common]) == 0
    assert _eval(["--backend", "openai", "--base-url", served.base_url, "--model", served.model,
                  "--out", str(tmp_path / "served"), *common]) == 0  # fmt: skip
    out = {}
    for name in benchmarks:
        local, remote = _metrics(tmp_path / "local" / name), _metrics(tmp_path / "served" / name)
        assert remote == local, name
        out[name] = local
    return out


def test_openai_backend_scores_like_the_in_process_backend(served, synth_world, tmp_path):
    got = _compare(served, synth_world, tmp_path, {"videomme": "videomme/videomme/test-00000-of-00001.parquet"},
                   ["--limit", "2", "--set", "blind_ablation=false"])  # fmt: skip
    assert got["videomme"]["n"] == 2
    rows = [json.loads(x) for x in (tmp_path / "served" / "videomme" / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r.get("input_size") for r in rows)  # boxes map back through the local processor
    meta = json.loads((tmp_path / "served" / "videomme" / "metrics.json").read_text())
    assert meta["model"] == f"{served.model} @ {served.base_url}"


@pytest.mark.slow
def test_openai_backend_scores_every_synthetic_benchmark_like_in_process(served, synth_world, tmp_path):
    benchmarks = {"vstar": "vstar/V_STaR_test.json", "tvgbench": "tvgbench/tvgbench.json",
                  "videomme": "videomme/videomme/test-00000-of-00001.parquet"}  # fmt: skip
    got = _compare(served, synth_world, tmp_path, benchmarks, [])
    assert all(v["n"] > 0 for v in got.values())


def test_openai_backend_needs_a_base_url(capsys):
    assert _eval(["--backend", "openai", "--model", "m", "--benchmark", "vstar", "--annotations", "a.json",
                  "--out", "o"]) == 2  # fmt: skip
    assert "--base-url" in capsys.readouterr().err
