"""Tests for the tiny model builder and the one loading / encoding / generation path (`o3v.model`)."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o3v.grounded import Claim, parse, render_claim, render_completion, render_span
from o3v.model import (
    ModelLoadError,
    build_tiny,
    encode,
    generate,
    generation_config,
    load_model,
    model_input_size,
    real_config,
    resolve_attention,
    resolve_dtype,
)
from o3v.modeling.tokenizer import PROJECT_TAGS, QWEN_SPECIAL_TOKENS
from o3v.prompts import build_messages

COMPLETION = render_completion(
    "The red circle moves left "
    + render_claim(Claim("red circle", ((12, 34, 56, 78),), 1.5))
    + " and is gone "
    + render_claim(Claim("blue square", ((0, 0, 111, 111), (3, 4, 5, 6)), 12.25))
    + ".",
    render_span(2, 4.5) + ".\nCorrect Option: B",
)


def moving_square_video(n: int = 16, size: int = 224) -> np.ndarray:
    """(n, size, size, 3) uint8 frames: a red square sliding left to right on grey."""
    frames = np.full((n, size, size, 3), 96, dtype=np.uint8)
    for i in range(n):
        x = int(i * (size - 40) / max(n - 1, 1))
        frames[i, 90:130, x : x + 40] = (220, 30, 30)
    return frames


def _module_key(key: str) -> str:
    """Qwen2.5-VL checkpoints keep the hub's flat layout (`model.layers`, `visual.`); transformers maps it on load."""
    if key.startswith("visual."):
        return "model." + key
    if key.startswith("model.") and not key.startswith(("model.language_model.", "model.visual.")):
        return "model.language_model." + key.removeprefix("model.")
    return key


@pytest.fixture(scope="module")
def tiny(tiny_model: Path):
    """(model, processor) of the session tiny Qwen2.5-VL, loaded through `load_model`."""
    return load_model(tiny_model)


def _prompt(n_frames: int):
    frames = moving_square_video(n_frames)
    times = [i * 0.5 for i in range(n_frames)]
    return build_messages("temporal QA", "When does the red square reach the right edge?", times, n_frames / 2), frames


@pytest.fixture(scope="module")
def video_prompt():
    """The reference's shape: 16 frames at 2 fps, each after its `Frame i at T s:` line."""
    return _prompt(16)


@pytest.fixture(scope="module")
def short_prompt():
    """4 frames: enough to exercise generation without paying for 16-frame prefill on 2 shared cores."""
    return _prompt(4)


# ----------------------------------------------------------------------------- build


def test_tiny_folder_is_a_checkpoint_with_manifest(tiny_model: Path, tiny) -> None:
    names = {p.name for p in tiny_model.iterdir()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json", "o3v_tiny.json"} <= names
    assert "chat_template.jinja" in names
    manifest = json.loads((tiny_model / "o3v_tiny.json").read_text())
    model, processor = tiny
    assert manifest["arch"] == "qwen2_5_vl" and manifest["seed"] == 0
    assert manifest["model_class"] == type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    assert manifest["processor_class"] == type(processor).__name__ == "Qwen2_5_VLProcessor"
    assert manifest["params"]["total"] == sum(p.numel() for p in model.parameters())
    assert manifest["params"]["total"] < 400_000
    assert manifest["tokenizer"]["model_vocab"] % 64 == 0
    assert manifest["tokenizer"]["model_vocab"] >= len(processor.tokenizer)
    assert (tiny_model / "model.safetensors").stat().st_size < 2_000_000


def test_loaded_weights_are_bit_identical_to_saved_and_survive_a_resave(tiny_model: Path, tiny, tmp_path) -> None:
    from safetensors.torch import load_file

    model, processor = tiny
    saved = {_module_key(k): v for k, v in load_file(tiny_model / "model.safetensors").items()}
    live = model.state_dict()
    assert saved.keys() == live.keys()
    assert all(saved[k].dtype == live[k].dtype and bool((saved[k] == live[k]).all()) for k in saved)
    model.save_pretrained(tmp_path)
    processor.save_pretrained(tmp_path)
    again, _ = load_model(tmp_path)
    assert all(bool((v == again.state_dict()[k]).all()) for k, v in live.items())


def test_build_is_deterministic_per_seed_and_cli_writes_the_same_model(tiny_model: Path, tmp_path, capsys) -> None:
    from safetensors.torch import load_file

    from o3v.cli import main

    assert main(["model", "tiny", "--out", str(tmp_path / "same"), "--seed", "0"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "same")
    ref, same = load_file(tiny_model / "model.safetensors"), load_file(tmp_path / "same" / "model.safetensors")
    assert all(bool((ref[k] == same[k]).all()) for k in ref)
    assert (tiny_model / "tokenizer.json").read_text() == (tmp_path / "same" / "tokenizer.json").read_text()
    other = load_file(build_tiny(tmp_path / "other", seed=1) / "model.safetensors")
    assert any(not bool((ref[k] == other[k]).all()) for k in ref)


def test_build_tiny_rejects_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown arch 'llava'"):
        build_tiny(tmp_path, arch="llava")  # type: ignore[arg-type]
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="file"):
        build_tiny(tmp_path / "file")


# ----------------------------------------------------------------------------- tokenizer and template


def test_special_tokens_are_in_qwen_order_and_tags_are_single_normal_tokens(tiny) -> None:
    tok = tiny[1].tokenizer
    ids = tok.convert_tokens_to_ids(["<|endoftext|>", *QWEN_SPECIAL_TOKENS])
    assert ids[0] == 0 and ids[1:] == list(range(ids[1], ids[1] + len(QWEN_SPECIAL_TOKENS)))
    assert (tok.eos_token, tok.pad_token, tok.bos_token) == ("<|im_end|>", "<|endoftext|>", None)
    for tag in PROJECT_TAGS:
        assert tok.encode(tag, add_special_tokens=False) == [tok.convert_tokens_to_ids(tag)], tag
        assert tag not in tok.all_special_tokens


def test_grounded_completion_round_trips_exactly_and_keeps_tags_when_skipping_specials(tiny) -> None:
    tok = tiny[1].tokenizer
    ids = tok.encode(COMPLETION, add_special_tokens=False)
    assert tok.decode(ids) == COMPLETION
    with_eos = ids + [tok.eos_token_id, tok.pad_token_id]
    assert tok.decode(with_eos, skip_special_tokens=True, clean_up_tokenization_spaces=False) == COMPLETION
    assert parse(tok.decode(with_eos, skip_special_tokens=True)) == parse(COMPLETION)
    # Trained on o3v's own text: the completion costs far fewer tokens than bytes.
    assert len(ids) < 0.6 * len(COMPLETION.encode())


@pytest.mark.parametrize(("text", "n_tokens"), [("0", 1), ("123", 3), ("12.25", 5), ("[1,2]", 5)])
def test_digits_are_single_tokens(tiny, text: str, n_tokens: int) -> None:
    assert len(tiny[1].tokenizer.encode(text, add_special_tokens=False)) == n_tokens


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=80))
def test_any_nfc_text_round_trips(tiny, text: str) -> None:
    tok = tiny[1].tokenizer
    nfc = unicodedata.normalize("NFC", text)  # the tokenizer NFC-normalises, as Qwen's does
    assert tok.decode(tok.encode(nfc, add_special_tokens=False)) == nfc


def test_chat_template_renders_roles_and_image_placeholders(tiny) -> None:
    processor = tiny[1]
    messages = [
        {"role": "system", "content": [{"type": "text", "text": "S."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Frame 1 at 0s: "},
                {"type": "image"},
                {"type": "text", "text": "\nQ?"},
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "<answer>A</answer>"}]},
    ]
    text = processor.apply_chat_template(messages, tokenize=False)
    assert text == (
        "<|im_start|>system\nS.<|im_end|>\n"
        "<|im_start|>user\nFrame 1 at 0s: <|vision_start|><|image_pad|><|vision_end|>\nQ?<|im_end|>\n"
        "<|im_start|>assistant\n<answer>A</answer><|im_end|>\n"
    )
    no_system = processor.apply_chat_template([messages[1]], tokenize=False, add_generation_prompt=True)
    assert no_system.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n")
    assert no_system.endswith("<|im_end|>\n<|im_start|>assistant\n")


# ----------------------------------------------------------------------------- encode / forward / generate


def test_encode_video_prompt_and_forward(tiny, video_prompt) -> None:
    import torch

    model, processor = tiny
    messages, frames = video_prompt
    enc = encode(processor, messages, frames)
    ids = enc["input_ids"][0]
    image_pad = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert enc["image_grid_thw"].tolist() == [[1, 8, 8]] * 16  # 224x224 -> 112x112 -> 16 tokens per frame
    assert int((ids == image_pad).sum()) == 16 * 16
    text = processor.tokenizer.decode(ids)
    assert text.count("<|vision_start|>") == 16 and "Frame 16 at 7.5s: <|vision_start|>" in text
    assert text.endswith("<|im_start|>assistant\n")
    with torch.inference_mode():
        logits = model(**enc).logits
    assert logits.shape == (1, ids.shape[0], model.config.text_config.vocab_size)
    assert bool(torch.isfinite(logits).all())


def test_encode_and_forward_frames_decoded_from_a_synth_video(tiny, request) -> None:
    """The real input path: an mp4 from the session synthetic world, decoded by `o3v.video`."""
    import torch

    synth = pytest.importorskip("o3v.synth")
    video = pytest.importorskip("o3v.video")
    if not hasattr(synth, "generate"):
        pytest.skip("o3v.synth.generate is not written yet (parallel work); numpy frames cover encode meanwhile")
    world = request.getfixturevalue("synth_world")
    path = sorted((world / "videos").glob("*.mp4"))[0]
    sampled = video.sample_frames(path, sample_fps=2.0, min_frames=4, max_frames=16)
    model, processor = tiny
    messages = build_messages(
        "temporal QA", "When?", sampled.times, duration=sampled.info.num_frames / sampled.info.fps
    )
    enc = encode(processor, messages, sampled.frames)
    w, h = model_input_size(processor, sampled.frames.shape[2], sampled.frames.shape[1])
    patch = processor.image_processor.patch_size
    assert enc["image_grid_thw"].tolist() == [[1, h // patch, w // patch]] * len(sampled.times)
    with torch.inference_mode():
        assert bool(torch.isfinite(model(**enc).logits).all())


def test_encode_rejects_image_count_mismatch_and_strips_none_keys(tiny, video_prompt) -> None:
    processor = tiny[1]
    messages, frames = video_prompt
    with pytest.raises(ValueError, match="16 image placeholders but 15 images"):
        encode(processor, messages, frames[:15])
    with pytest.raises(ValueError, match=r"image array must be \(H,W,3\) or \(T,H,W,3\), got shape \(224, 224\)"):
        encode(processor, messages, frames[0, :, :, 0])
    with pytest.raises(ValueError, match=r"got 2 conversations but 1 image lists"):
        encode(processor, [messages, messages], [frames])
    with pytest.raises(ValueError, match="conversation 0 has a video part"):
        encode(processor, [{"role": "user", "content": [{"type": "video"}]}], None)
    # HF datasets fills absent keys with None; a text part must not count as an image or video.
    padded = [{"role": "user", "content": [{"type": "text", "text": "hi", "image": None, "video": None}]}]
    enc = encode(processor, padded, None)
    assert "<|vision_start|>" not in processor.tokenizer.decode(enc["input_ids"][0])


@pytest.mark.parametrize(("width", "height"), [(224, 224), (320, 180), (100, 300), (64, 48), (640, 360)])
def test_model_input_size_matches_the_processor(tiny, width: int, height: int) -> None:
    processor = tiny[1]
    image = np.zeros((height, width, 3), dtype=np.uint8)
    grid = processor.image_processor(images=[image], return_tensors="pt")["image_grid_thw"][0].tolist()
    patch = processor.image_processor.patch_size
    assert model_input_size(processor, width, height) == (grid[2] * patch, grid[1] * patch)


def test_generate_returns_new_text_batched_like_single(tiny, short_prompt) -> None:
    model, processor = tiny
    messages, frames = short_prompt
    short = build_messages("General video QA MCQ", "What moves?", [0.0, 1.0], options=["A. red", "B. blue"])
    one = generate(model, processor, messages, frames, max_new_tokens=6)
    two = generate(model, processor, short, frames[:2], max_new_tokens=6)
    assert len(one) == len(two) == 1 and all(isinstance(s, str) for s in one + two)
    assert "<|im_start|>" not in one[0] and "Frame 1" not in one[0]  # only new tokens come back
    batched = generate(model, processor, [messages, short], [frames, frames[:2]], max_new_tokens=6)
    assert batched == one + two  # left padding leaves greedy outputs unchanged


def test_generate_sampling_is_seeded_and_grouped_by_prompt(tiny, short_prompt) -> None:
    import torch

    model, processor = tiny
    messages, frames = short_prompt
    kw = {"max_new_tokens": 5, "temperature": 1.0, "num_return_sequences": 3}
    state = torch.random.get_rng_state()
    a = generate(model, processor, messages, frames, seed=7, **kw)
    assert torch.equal(state, torch.random.get_rng_state())  # the caller's RNG is untouched
    assert a == generate(model, processor, messages, frames, seed=7, **kw)
    assert len(a) == 3 and len(set(a)) > 1
    both = generate(model, processor, [messages, messages], [frames, frames], seed=7, **kw)
    assert len(both) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": 0.0, "num_return_sequences": 2}, "needs temperature > 0"),
        ({"temperature": -1.0}, "temperature must be >= 0"),
        ({"max_new_tokens": 0}, "max_new_tokens must be >= 1"),
        ({"top_p": 0.0, "temperature": 1.0}, "top_p must be in"),
    ],
)
def test_generation_config_rejects_bad_settings(tiny, kwargs: dict, message: str) -> None:
    base = {"max_new_tokens": 4, "temperature": 0.0, "top_p": 1.0, "num_return_sequences": 1}
    with pytest.raises(ValueError, match=message):
        generation_config(*tiny, **(base | kwargs))


def test_generation_config_overrides_checkpoint_sampling_defaults(tiny) -> None:
    model, processor = tiny
    shipped = model.generation_config
    old = (shipped.temperature, shipped.top_k, shipped.repetition_penalty)
    shipped.temperature, shipped.top_k, shipped.repetition_penalty = 0.1, 1, 1.05  # as Qwen2.5-VL ships
    try:
        cfg = generation_config(model, processor, max_new_tokens=4, temperature=0.7, top_p=0.9, num_return_sequences=2)
    finally:
        shipped.temperature, shipped.top_k, shipped.repetition_penalty = old
    assert (cfg.do_sample, cfg.temperature, cfg.top_p, cfg.top_k, cfg.repetition_penalty) == (True, 0.7, 0.9, 0, 1.0)
    assert cfg.eos_token_id == shipped.eos_token_id and cfg.pad_token_id == processor.tokenizer.pad_token_id


# ----------------------------------------------------------------------------- load_model


def test_load_model_errors_name_the_path(tmp_path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelLoadError, match=str(missing)):
        load_model(missing)
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(ModelLoadError, match="is a file"):
        load_model(tmp_path / "weights.bin")
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="'o3v-test/not-a-model'.*HF_HUB_OFFLINE=1.*no local folder"):
        load_model("o3v-test/not-a-model")  # offline (conftest): hub cache only
    with pytest.raises(ModelLoadError, match="gs://bucket/model"):
        load_model("gs://bucket/model")


def test_load_model_pixel_budget_and_backend_choices(tiny_model: Path) -> None:
    import torch

    _, processor = load_model(tiny_model, dtype="float32", min_pixels=28 * 28, max_pixels=4 * 28 * 28)
    assert model_input_size(processor, 224, 224) == (56, 56)
    grid = processor.image_processor(images=[np.zeros((224, 224, 3), np.uint8)])["image_grid_thw"][0].tolist()
    assert grid == [1, 4, 4]
    with pytest.raises(ValueError, match="min_pixels <= max_pixels"):
        load_model(tiny_model, min_pixels=100, max_pixels=10)
    assert resolve_dtype("auto", "cpu") == torch.float32 and resolve_dtype("auto", "cuda:0") == torch.bfloat16
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("fp8", "cpu")
    assert resolve_attention(None, "cpu", torch.float32) == "sdpa"
    assert resolve_attention("eager", "cpu", torch.float32) == "eager"
    with pytest.raises(ValueError, match="flash_attention_2"):
        resolve_attention("flash_attention_2", "cpu", torch.bfloat16)


# ----------------------------------------------------------------------------- Qwen3-VL and real sizes


def test_qwen3_vl_tiny_builds_encodes_and_generates(tmp_path) -> None:
    import torch

    path = build_tiny(tmp_path / "q3", arch="qwen3_vl", seed=0)
    model, processor = load_model(path)
    assert type(model).__name__ == "Qwen3VLForConditionalGeneration"
    frames = moving_square_video(4)
    messages = build_messages("temporal QA", "When?", [0.0, 0.5, 1.0, 1.5], duration=2.0)
    enc = encode(processor, messages, frames)
    assert enc["image_grid_thw"].tolist() == [[1, 8, 8]] * 4  # patch 16: 224x224 -> 128x128 -> 16 tokens
    assert model_input_size(processor, 224, 224) == (128, 128)
    with torch.inference_mode():
        assert bool(torch.isfinite(model(**enc).logits).all())
    assert len(generate(model, processor, messages, frames, max_new_tokens=4)) == 1


@pytest.mark.parametrize(
    ("name", "total", "vision"), [("qwen2.5-vl-7b", 8.292e9, 677e6), ("qwen3-vl-8b", 8.767e9, 576e6)]
)
def test_real_config_param_counts_on_meta_device(name: str, total: float, vision: float) -> None:
    import torch
    from transformers import AutoModelForImageTextToText

    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(real_config(name))
    n_total = sum(p.numel() for p in model.parameters())
    n_vision = sum(p.numel() for p in model.model.visual.parameters())
    assert abs(n_total / total - 1) < 0.005 and abs(n_vision / vision - 1) < 0.005


def test_real_config_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown real model 'qwen-72b'"):
        real_config("qwen-72b")  # type: ignore[arg-type]


@pytest.mark.gpu
def test_load_and_generate_on_gpu_in_bf16(tiny_model: Path, short_prompt) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    model, processor = load_model(tiny_model)
    assert model.dtype == torch.bfloat16 and model.device.type == "cuda"
    messages, frames = short_prompt
    assert len(generate(model, processor, messages, frames, max_new_tokens=4)) == 1


def test_build_tiny_pos_embed_std_redraws_only_the_position_embedding(tmp_path) -> None:
    from safetensors.torch import load_file

    plain_dir = build_tiny(tmp_path / "plain", arch="qwen3_vl", seed=0, pos_embed_std=0.02)
    plain = load_file(plain_dir / "model.safetensors")
    default = load_file(build_tiny(tmp_path / "default", arch="qwen3_vl", seed=0) / "model.safetensors")
    key = "model.visual.pos_embed.weight"
    assert 0.15 < float(default[key].std()) < 0.25 and 0.015 < float(plain[key].std()) < 0.025
    assert all(bool((plain[k] == default[k]).all()) for k in plain if k != key)
    manifest = json.loads((tmp_path / "default" / "o3v_tiny.json").read_text())
    assert manifest["pos_embed_std"] == 0.2
    with pytest.raises(ValueError, match="qwen3_vl"):
        build_tiny(tmp_path / "q25", arch="qwen2_5_vl", pos_embed_std=0.2)
