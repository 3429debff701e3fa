"""SFT on the tiny model: a couple of real steps, completion-only labels, LoRA, the model folder it writes."""

import json

import pytest
import torch
from safetensors.torch import load_file

from o3v.train import sft
from o3v.train.runner import ResumeError

FAST = {"max_steps": 2, "save_steps": 1, "logging_steps": 1, "max_frames": 4, "per_device_train_batch_size": 2}


def test_sft_steps_write_a_complete_model_folder(train_data, tiny_model, tmp_path):
    out = tmp_path / "sft"
    metrics = sft.run(train_data["sft"], out, "tiny-cpu", FAST, base_model=str(tiny_model))
    assert metrics["global_step"] == 2 and metrics["records"] > 0
    assert metrics["loss_first"] > 0 and metrics["loss_last"] > 0
    for name in ("model.safetensors", "config.json", "tokenizer.json", "processor_config.json", "chat_template.jinja"):
        assert (out / name).is_file(), name
    for name in (
        "model_card.md",
        "metrics.json",
        "config.resolved.yaml",
        "train_log.jsonl",
        "loss.png",
        "rejects.jsonl",
    ):
        assert (out / name).is_file(), name
    ckpt = out / "checkpoints" / "checkpoint-2"
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth", "trainer_state.json"):
        assert (ckpt / name).is_file(), name
    before, after = load_file(tiny_model / "model.safetensors"), load_file(out / "model.safetensors")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any("visual" in k for k in changed) and any("visual" not in k for k in changed)  # vision and language
    card = (out / "model_card.md").read_text()
    assert str(tiny_model) in card and "records_sha256" in card and "`learning_rate`" in card
    assert json.loads((out / "metrics.json").read_text())["global_step"] == 2
    # live curves: TensorBoard event files in the model folder, one loss scalar per logging step
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(out / "tensorboard")).Reload()
    assert [e.step for e in events.Scalars("train/loss")] == [1, 2]
    assert events.Scalars("train/loss")[0].value == pytest.approx(json.loads(
        (out / "train_log.jsonl").read_text().splitlines()[0])["loss"])  # fmt: skip
    assert not (out / "checkpoints" / "runs").exists()  # one writer: o3v's, in the model folder

    from o3v.model import load_model

    model, _ = load_model(out)
    assert model is not None


def test_loss_covers_the_completion_only(train_data, tiny_model, tmp_path):
    trainer, ctx = sft.build_trainer(train_data["sft"], tmp_path / "m", "tiny-cpu", FAST, base_model=str(tiny_model))
    row = trainer.train_dataset[0]
    target = row["completion"][0]["content"][0]["text"]
    batch = trainer.data_collator([row])
    ids, labels = batch["input_ids"][0], batch["labels"][0]
    trained = (labels != -100).nonzero().flatten()
    first = int(trained[0])
    assert (
        labels[:first] == -100
    ).all()  # system prompt, frame lines, every image token: no loss (upstream trained on them)
    assert bool((trained == torch.arange(first, first + len(trained))).all())  # one contiguous completion span
    tok = ctx["processor"].tokenizer
    image_pad = tok.convert_tokens_to_ids("<|image_pad|>")
    assert (ids == image_pad).sum() > 0 and (labels == image_pad).sum() == 0
    text = tok.decode(ids[trained])
    assert text.startswith(target) and text[len(target) :].strip() == "<|im_end|>"


def test_existing_checkpoints_need_resume(train_data, tiny_model, tmp_path):
    out = tmp_path / "sft"
    (out / "checkpoints" / "checkpoint-3").mkdir(parents=True)
    with pytest.raises(ResumeError, match="pass --resume"):
        sft.build_trainer(train_data["sft"], out, "tiny-cpu", FAST, base_model=str(tiny_model))


def test_lora_adapts_only_the_language_model_and_ships_merged_weights(train_data, tiny_model, tmp_path):
    out = tmp_path / "lora"
    overrides = {**FAST, "max_steps": 1, "lora_r": 4, "lora_alpha": 8}
    trainer, ctx = sft.build_trainer(train_data["sft"], out, "tiny-cpu", overrides, base_model=str(tiny_model))
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n and "language_model" in n for n in trainable)
    trainer.train()
    from o3v.train.runner import finalize

    finalize(trainer, ctx["processor"], out, stage="sft", base="tiny", config_source="t", data=ctx["data"],
             curve_groups={}, summary_keys=["loss"])  # fmt: skip
    weights = load_file(out / "model.safetensors")
    assert not any("lora" in k for k in weights)
    assert set(weights) == set(load_file(tiny_model / "model.safetensors"))


def test_resume_restores_the_trained_weights_not_the_base(train_data, tiny_model, tmp_path):
    # transformers' own checkpoint reload misses every Qwen-VL key (renamed on save); o3v loads them (runner.load_base)
    out = tmp_path / "r"
    overrides = {**FAST, "save_steps": 2}
    trainer, _ = sft.build_trainer(train_data["sft"], out, "tiny-cpu", overrides, base_model=str(tiny_model))
    trainer.train()
    trained = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    resumed, ctx = sft.build_trainer(
        train_data["sft"], out, "tiny-cpu", {**overrides, "max_steps": 4}, base_model=str(tiny_model), resume=True
    )
    assert ctx["resume_from"].endswith("checkpoint-2") and ctx["base"] == str(tiny_model)
    state = resumed.model.state_dict()
    assert all(torch.equal(trained[k], state[k]) for k in trained)


@pytest.fixture(scope="module")
def curriculum_data(learnable_world, tmp_path_factory):
    """The default world's SFT records (its warm-up stills included) minus the fault-labelled ones."""
    from o3v.records import read_records, write_records

    faults = (learnable_world / "faults.jsonl").read_text().splitlines()
    faulted = {json.loads(line)["id"] for line in faults if line.strip()}
    folder = tmp_path_factory.mktemp("curriculum")
    records = [r for r in read_records(learnable_world / "stgr" / "STGR-SFT.json") if r.id not in faulted]
    assert any(r.source == "o3v_stills" for r in records) and any(r.source != "o3v_stills" for r in records)
    write_records(folder / "records.jsonl", records)
    (folder / "dataset.json").write_text(json.dumps({"media_root": str(learnable_world), "stage": "test"}))
    return folder


def test_the_warmup_check_scores_held_out_stills_at_the_end_of_the_stills_phase(
    curriculum_data, tiny_model, tmp_path, caplog
):
    warm = {**FAST, "sample_order": "curriculum", "curriculum_steps": 1, "warmup_check_stills": 4}
    with caplog.at_level("INFO", logger="o3v.train.warmup"):
        metrics = sft.run(curriculum_data, tmp_path / "m", "tiny-cpu", warm, base_model=str(tiny_model))
    check = metrics["warmup_check"]
    assert check["stills"] == 4 and 0.0 <= check["box_miou"] <= 1.0 and 0.0 < check["constant_box_miou"] < 1.0
    assert check["passed"] == (check["box_miou"] >= check["constant_box_miou"] + 0.2)  # 1 step: not learnt
    assert not check["passed"] and check["verdict"].startswith("NOT learnt")
    assert any("warm-up check at step 1: NOT learnt" in r.getMessage() for r in caplog.records)
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["warmup_check"] == check
    assert "NOT learnt: held-out stills box IoU" in (tmp_path / "m" / "model_card.md").read_text()
    logged = [json.loads(line) for line in (tmp_path / "m" / "train_log.jsonl").read_text().splitlines()]
    assert [row["step"] for row in logged if "warmup_check" in row] == [1]


def test_no_warmup_check_without_a_stills_phase(train_data, tiny_model, tmp_path):
    plain = {**FAST, "sample_order": "curriculum", "curriculum_steps": 1}  # the classic world has no stills
    assert "warmup_check" not in sft.run(train_data["sft"], tmp_path / "m", "tiny-cpu", plain, str(tiny_model))
    off = {**FAST, "sample_order": "grouped", "curriculum_steps": 1}
    assert "warmup_check" not in sft.run(train_data["sft"], tmp_path / "g", "tiny-cpu", off, str(tiny_model))


def test_warmup_doctests():
    import doctest

    from o3v.train import warmup

    assert doctest.testmod(warmup).failed == 0
