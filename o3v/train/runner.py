"""What SFT and GSPO runs share: output layout, resume, model loading (+LoRA), progress, the final model folder.

Output folder of a run (`out_dir`):

    checkpoints/checkpoint-<step>/   full trainer state every `save_steps`: model, optimizer, scheduler, RNG,
                                     trainer_state.json (step, log history); the data position follows from
                                     the step (the trainer skips the batches already seen)
    rejects.jsonl                    records skipped for missing media (empty when none)
    tensorboard/                     TensorBoard event files, written at every logging step (live curves;
                                     `tensorboard: false` turns them off)
    model.safetensors, config.json, processor/tokenizer files   the final model (LoRA merged in)
    config.resolved.yaml  metrics.json  train_log.jsonl  model_card.md  loss.png [reward.png]
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from o3v import __version__
from o3v.train import launch, warmup
from o3v.train.clips import ClipCache
from o3v.train.config import check_deepspeed, load_config, resolved_dict
from o3v.train.data import FrameSettings, load_train_data, rejects_file

log = logging.getLogger(__name__)
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"


class ResumeError(RuntimeError):
    """Checkpoints exist but --resume was not given (or the reverse situation cannot be resolved)."""


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The newest *complete* `checkpoint-<step>` folder, or None.

    The trainer writes `trainer_state.json` last, so a run killed while saving leaves a folder without it (or
    with a truncated one); such a folder is skipped with a warning instead of crashing the resume.
    """
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    steps = sorted(
        (int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*") if p.name.split("-")[1].isdigit()
    )
    for _, path in reversed(steps):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
            return path
        except (OSError, ValueError):
            log.warning("skipping incomplete checkpoint %s (no readable trainer_state.json)", path)
    return None


def checkpoint_to_resume(out_dir: str | Path, resume: bool) -> str | None:
    """The latest complete checkpoint when `resume`; refuses to silently train over existing checkpoints otherwise."""
    ckpt_dir = Path(out_dir) / CHECKPOINTS
    if not resume:
        existing = sorted(p.name for p in ckpt_dir.glob("checkpoint-*")) if ckpt_dir.is_dir() else []
        if existing:
            raise ResumeError(f"{ckpt_dir} holds {existing[-1]}: pass --resume to continue, or use a new --out")
        return None
    last = latest_checkpoint(ckpt_dir)
    if last is None:
        log.warning("--resume: no complete checkpoint under %s, starting at step 0", ckpt_dir)
        return None
    log.info("resuming from %s", last)
    return str(last)


def load_base(cfg: Any, base_model: str | None, resume_from: str | None = None) -> tuple[Any, Any, str]:
    """(model, processor, base name) for training, through the one loader `o3v.model.load_model`.

    On resume, full weights come from the checkpoint folder itself: transformers 5.23's `Trainer` reloads a
    checkpoint with a plain `load_state_dict`, but `save_pretrained` wrote Qwen-VL weights under their legacy
    key names (`model.layers.*`, `visual.*`), so every key misses and training would silently continue from
    the *base* weights (caught by tests/o3v/train/test_train_resume.py). `from_pretrained` maps the names.
    The trainer still restores optimizer, scheduler, RNG and data position; its key-mismatch warning is moot.
    """
    import torch

    from o3v.model import load_model

    name = base_model or cfg.base_model
    if not name:
        raise ValueError("no base model: pass --base-model (base_model) or set base_model in the config")
    source = name
    if resume_from is not None and (Path(resume_from) / "config.json").is_file():  # LoRA checkpoints: adapters only
        source = resume_from
        log.info("resume: loading model weights from %s", resume_from)
    device = "cpu" if cfg.use_cpu else None
    if cfg.deepspeed:
        # Under ZeRO-3, from_pretrained partitions weights while loading (deepspeed.zero.Init), which reads the
        # world size from DeepSpeed's comm before initialising it; with use_cpu, accelerate sets up a plain gloo
        # group and never DeepSpeed's. Initialise it on top of the trainer's process group first.
        import deepspeed

        log.info("distributed setup: world size %d, device %s", cfg.world_size, cfg.device)
        deepspeed.init_distributed(dist_backend="gloo" if cfg.use_cpu else "nccl")
    model, processor = load_model(
        source,
        dtype=cfg.model_dtype,
        device=device,
        attn_implementation=cfg.attn_implementation,
        min_pixels=cfg.frame_min_pixels,
        max_pixels=cfg.frame_max_pixels,
    )
    model.config.use_cache = False  # the KV cache only costs memory in training forward passes
    if cfg.cpu_kernels and (cfg.use_cpu or not torch.cuda.is_available()):
        from o3v.train import cpu_kernels

        cpu_kernels.apply(model)  # the same functions, faster on CPU: 307 -> 223 ms per tiny SFT step
    check_deepspeed(cfg, model.config, cfg.max_steps if cfg.max_steps > 0 else 1000)
    return model, processor, str(name)


@dataclass
class Prepared:
    """What both trainers are built from: resolved config, data, model, processor, frame settings and the
    decoded-clip cache of this process."""

    stage: str
    cfg: Any
    out: Path
    resume_from: str | None
    data: Any
    model: Any
    processor: Any
    base: str
    frames: FrameSettings
    clips: ClipCache

    def context(self, config: str | dict, overrides: dict[str, Any] | None) -> dict[str, Any]:
        """What `finalize` needs after training, besides the trainer."""
        source = config if isinstance(config, str) else "config dict"
        return {
            "processor": self.processor,
            "base": self.base,
            "data": self.data,
            "resume_from": self.resume_from,
            "source": source,
            "overrides": dict(overrides or {}),
        }


def prepare_run(
    stage: str,
    data_dir: str | Path,
    out_dir: str | Path,
    config: str | dict,
    overrides: dict[str, Any] | None,
    forced: dict[str, Any],
    base_model: str | None,
    resume: bool,
) -> Prepared:
    """Config (overrides + the stage's forced settings), resume point, data checks and the base model."""
    from o3v.torchvision_cpu import install
    from o3v.train.fused_head import score_labelled_positions_only

    install()  # before trl/transformers import torchvision
    score_labelled_positions_only()  # trl scores every position off CUDA: 28% of a CPU SFT step (fused_head.py)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = load_config(stage, config, {**(overrides or {}), **forced}, output_dir=out / CHECKPOINTS)
    resume_from = checkpoint_to_resume(out, resume)
    data = load_train_data(
        data_dir,
        stage,
        on_missing_video=cfg.on_missing_video,
        max_records=cfg.max_records,
        rejects_path=rejects_file(out),
        tasks=cfg.tasks,
    )
    model, processor, base = load_base(cfg, base_model, resume_from)
    frames = FrameSettings(cfg.fps, cfg.min_frames, cfg.max_frames)
    clips = ClipCache(cfg.clip_cache_mb * 2**20)
    return Prepared(stage, cfg, out, resume_from, data, model, processor, base, frames, clips)


def peft_config(cfg: Any) -> Any:
    """A LoRA config on the language model only (`lora_r > 0`), else None (full fine-tuning)."""
    if not cfg.lora_r:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.lora_target_modules,
        task_type="CAUSAL_LM",
    )


def progress_callback() -> Any:
    """A trainer callback that logs every logging step as one line (step/max, loss or reward, lr, s/step)."""
    from transformers import TrainerCallback

    class ProgressLog(TrainerCallback):
        def __init__(self) -> None:
            self.start = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001 - trainer callback signature
            if not logs or not state.is_world_process_zero:
                return
            keys = ("loss", "reward", "reward_std", "learning_rate", "grad_norm")
            shown = " ".join(f"{k} {logs[k]:.4g}" for k in keys if isinstance(logs.get(k), int | float))
            rate = (time.perf_counter() - self.start) / max(1, state.global_step)
            log.info("step %d/%d %s (%.2f s/step)", state.global_step, state.max_steps, shown, rate)

    return ProgressLog()


def tensorboard_callback(cfg: Any, out_dir: str | Path) -> Any:
    """transformers' TensorBoard callback writing to `<out_dir>/tensorboard`, or None when `cfg.tensorboard` is off.

    o3v's own writer, independent of `report_to` (which adds other trackers, e.g. `mlflow`): the event files
    land in the model folder, not under `checkpoints/runs`, so the model artifact carries them. A
    `tensorboard` entry in `report_to` is taken out of it here (it would write a second copy to `checkpoints/`).
    """
    report = list(cfg.report_to or [])
    if "tensorboard" in report:
        cfg.report_to = [r for r in report if r != "tensorboard"]
        if not cfg.tensorboard:
            log.info("report_to names tensorboard: writing event files to %s", Path(out_dir) / TENSORBOARD)
            cfg.tensorboard = True
    if not cfg.tensorboard:
        return None
    from transformers.integrations import TensorBoardCallback

    callback = TensorBoardCallback()
    callback.logging_dir = str(Path(out_dir) / TENSORBOARD)  # read at on_train_begin (rank 0 only)
    return callback


def callbacks(cfg: Any, out_dir: str | Path) -> list[Any]:
    """The trainer callbacks of every o3v run: the progress log line and the TensorBoard writer."""
    return [cb for cb in (progress_callback(), tensorboard_callback(cfg, out_dir)) if cb is not None]


# ----------------------------------------------------------------------------- final model folder


def _series(history: list[dict], key: str) -> list[tuple[int, float]]:
    return [(h["step"], float(h[key])) for h in history if isinstance(h.get(key), int | float) and "step" in h]


def _mean(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else None


def summarize(history: list[dict], keys: list[str], window: int = 5) -> dict[str, Any]:
    """Means of the first and last logged values of each key (a falling loss / rising reward in two numbers).

    The window is `window` logs, or a third of the logs when there are fewer than 3 * `window`.

    Example:
        >>> summarize([{"step": s, "loss": 10.0 - s} for s in range(1, 7)], ["loss"])
        {'loss_first': 8.5, 'loss_last': 4.5, 'loss_logs': 6}
    """
    out: dict[str, Any] = {}
    for key in keys:
        values = [v for _, v in _series(history, key)]
        if not values:
            continue
        window = max(1, min(window, len(values) // 3))
        name = key.replace("/", "_")
        out[f"{name}_first"] = _mean(values[:window])
        out[f"{name}_last"] = _mean(values[-window:])
        out[f"{name}_logs"] = len(values)
    return out


def plot_curves(history: list[dict], groups: dict[str, list[str]], out_dir: Path) -> list[str]:
    """One PNG per group of logged keys (e.g. `loss.png`: loss; `reward.png`: total + each term)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for name, keys in groups.items():
        series = {k: _series(history, k) for k in keys}
        series = {k: v for k, v in series.items() if v}
        if not series:
            continue
        fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
        for key, points in series.items():
            marker = "." if len(points) < 30 else None
            ax.plot([p[0] for p in points], [p[1] for p in points], label=key, marker=marker)
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / f"{name}.png")
        plt.close(fig)
        written.append(f"{name}.png")
    return written


def _fmt(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def model_card(
    stage: str, base: str, config_source: str, data: Any, metrics: dict, cfg: dict, curves: list, overrides: dict
) -> str:
    """`model_card.md`: what was trained from what, with which config, and what it measured."""
    keys = (
        "learning_rate",
        "lr_scheduler_type",
        "per_device_train_batch_size",
        "gradient_accumulation_steps",
        "max_steps",
        "num_train_epochs",
        "fps",
        "max_frames",
        "model_dtype",
        "lora_r",
        "deepspeed",
        "preset",
        "importance_sampling_level",
        "loss_type",
        "beta",
        "epsilon",
        "epsilon_high",
        "num_generations",
        "steps_per_generation",
        "rewards",
        "gate",
        "proximity",
        "fixed_sigma",
    )
    rows = "\n".join(f"| `{k}` | `{cfg[k]}` |" for k in keys if k in cfg)
    data_rows = "\n".join(f"| `{k}` | `{v}` |" for k, v in data.version.items())
    metric_rows = "\n".join(f"| `{k}` | {_fmt(v)} |" for k, v in metrics.items())
    images = "\n".join(f"![{c}]({c})" for c in curves)
    return f"""# o3v {stage.upper()} model

Trained by o3v {__version__} (`o3v {stage}`) from **{base}**. Load it with `o3v.model.load_model("<this folder>")`.

## Data
{len(data.records)} records used, {data.skipped} skipped for missing media (see `rejects.jsonl`).

| field | value |
|---|---|
{data_rows}

## Config
From `{config_source}` with overrides `{json.dumps(overrides, default=str)}`; every field is in
`config.resolved.yaml`. Main settings:

| field | value |
|---|---|
{rows}

## Metrics
`*_first` / `*_last`: mean of the first / last five logged values (a third of them in short runs).

| metric | value |
|---|---|
{metric_rows}

{images}

A rising reward or falling loss shows the training mechanics work. Whether the model grounds its answers is
decided only by held-out evaluation against constant baselines (`o3v eval`); tiny random-init models do not
beat them (tiny-learning.md).
"""


def train_and_finalize(
    trainer: Any,
    ctx: dict[str, Any],
    out_dir: str | Path,
    *,
    stage: str,
    curve_groups: dict[str, list[str]],
    summary_keys: list[str],
) -> dict[str, Any]:
    """Train (resuming from `ctx["resume_from"]` when set), then write the model folder; returns metrics.json."""
    trainer.train(resume_from_checkpoint=ctx["resume_from"])
    metrics = finalize(
        trainer,
        ctx["processor"],
        out_dir,
        stage=stage,
        base=ctx["base"],
        config_source=ctx["source"],
        data=ctx["data"],
        overrides=ctx["overrides"],
        curve_groups=curve_groups,
        summary_keys=summary_keys,
    )
    launch.leave_process_group()  # ranks > 0 wait here while rank 0 writes the card and metrics.json
    return metrics


def finalize(
    trainer: Any,
    processor: Any,
    out_dir: str | Path,
    *,
    stage: str,
    base: str,
    config_source: str,
    data: Any,
    curve_groups: dict[str, list[str]],
    summary_keys: list[str],
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write the final model folder (module docstring); returns metrics.json's content."""
    out = Path(out_dir)
    state = trainer.state
    history = list(state.log_history)
    train_out = next((h for h in reversed(history) if "train_runtime" in h), {})
    metrics: dict[str, Any] = {
        "stage": stage,
        "global_step": state.global_step,
        "max_steps": state.max_steps,
        "records": len(data.records),
        "skipped_records": data.skipped,
        "train_runtime_s": train_out.get("train_runtime"),
        **summarize(history, summary_keys),
    }
    if (warm := warmup.result(history)) is not None:
        metrics[warmup.KEY] = warm
    model = trainer.model
    if hasattr(model, "merge_and_unload"):  # LoRA: ship a plain checkpoint that load_model reads as is
        if state.is_world_process_zero:
            model.merge_and_unload().save_pretrained(out, safe_serialization=True)
    else:
        trainer.save_model(str(out))  # every rank: under ZeRO-3 the weights are gathered collectively
    if not state.is_world_process_zero:
        return metrics
    processor.save_pretrained(out)
    cfg = resolved_dict(trainer.args)
    (out / "config.resolved.yaml").write_text(yaml.safe_dump(cfg, sort_keys=True), encoding="utf-8")
    with (out / "train_log.jsonl").open("w", encoding="utf-8") as f:
        for row in history:
            f.write(json.dumps(row, default=str) + "\n")
    curves = plot_curves(history, curve_groups, out)
    metrics["curves"] = curves
    metrics["environment"] = {"python": platform.python_version(), "world_size": int(os.environ.get("WORLD_SIZE", 1))}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
    shown = {k: v for k, v in metrics.items() if k not in ("curves", "environment")}
    if warm is not None:
        shown[warmup.KEY] = warm["verdict"]
    card = model_card(stage, base, config_source, data, shown, cfg, curves, overrides or {})
    (out / "model_card.md").write_text(card, encoding="utf-8")
    log.info("%s model written to %s (step %d)", stage, out, state.global_step)
    return metrics
