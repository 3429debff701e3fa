"""The training config classes: trl's `SFTConfig` / `GRPOConfig` plus o3v's fields (loaded by `o3v.train.config`).

Module-level classes, because the trainer pickles its arguments into every checkpoint. Importing this module
imports trl; `o3v.train.config` imports it only when a config is actually built.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from o3v.torchvision_cpu import install

install()  # trl -> transformers -> torchvision (Qwen processors); the shim must come first

from trl import GRPOConfig, SFTConfig  # noqa: E402

from o3v.rewards import ALL_TERMS  # noqa: E402

# LoRA on the language model only (ml-stack.md §6): the regex keeps adapters out of the vision tower.
LANGUAGE_LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"


@dataclass
class O3VFields:
    """o3v's fields, shared by SFT and GSPO (everything else is trl's / transformers')."""

    base_model: str | None = field(default=None, metadata={"help": "model folder or hub id (--base-model wins)"})
    model_dtype: str = field(default="auto", metadata={"help": "auto (bf16 on GPU, fp32 on CPU), float32, bfloat16"})
    attn_implementation: str | None = field(default=None, metadata={"help": "None: flash-attn when usable, else sdpa"})
    fps: float = field(default=2.0, metadata={"help": "frame sampling rate (reference: 2 fps)"})
    min_frames: int = field(default=4, metadata={"help": "fewest sampled frames per video (even)"})
    max_frames: int = field(default=16, metadata={"help": "most sampled frames per video (even), before key frames"})
    frame_min_pixels: int | None = field(default=None, metadata={"help": "per-frame pixel floor (None: processor's)"})
    frame_max_pixels: int | None = field(default=None, metadata={"help": "per-frame pixel cap (None: processor's)"})
    clip_cache_mb: int = field(
        default=1024,
        metadata={"help": "decoded frame samples kept in memory per training process, MB (o3v.train.clips; 0 = off)"},
    )
    cpu_kernels: bool = field(
        default=True,
        metadata={
            "help": "on CPU: the patch embedding as a matmul and causal attention without a padding mask, the same "
            "functions, faster (o3v.train.cpu_kernels)"
        },
    )
    on_missing_video: str = field(default="error", metadata={"help": "error | skip (skipped records -> rejects)"})
    max_records: int | None = field(default=None, metadata={"help": "use only the first N records (smoke runs)"})
    tasks: list[str] | None = field(default=None, metadata={"help": "train only on these task types (None: all six)"})
    local_processes: int = field(
        default=1,
        metadata={"help": "training processes on this node (o3v.train.launch: torchrun + DDP); tiny CPU: 1 per core"},
    )
    sample_order: str = field(
        default="random",
        metadata={
            "help": "SFT: random (trainer shuffle) | grouped (length-grouped batches) | curriculum (stills first)"
        },
    )
    curriculum_steps: int = field(
        default=0, metadata={"help": "sample_order curriculum: batches of warm-up stills (o3v.synth.stills) first"}
    )
    warmup_check_stills: int = field(
        default=48,
        metadata={
            "help": "sample_order curriculum: score this many held-out stills at the end of the stills phase "
            "(o3v.train.warmup; 0 = off)"
        },
    )
    task_repeats: dict[str, int] | None = field(
        default=None,
        metadata={
            "help": "sample_order grouped/curriculum: records of these task types come N times per epoch "
            "(upweights them; warm-up stills excepted), e.g. {'temporal QA': 2}"
        },
    )
    tensorboard: bool = field(
        default=True,
        metadata={"help": "TensorBoard event files in <model>/tensorboard while training, whatever report_to says"},
    )
    lora_r: int = field(default=0, metadata={"help": "LoRA rank; 0 trains all weights"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: str = field(default=LANGUAGE_LORA_TARGETS, metadata={"help": "LoRA target regex"})


@dataclass
class SFTRunConfig(SFTConfig, O3VFields):
    """trl `SFTConfig` + o3v's fields."""


@dataclass
class GSPORunConfig(GRPOConfig, O3VFields):
    """trl `GRPOConfig` + o3v's fields + the reward set and its temporal gate."""

    preset: str = field(default="gspo", metadata={"help": "gspo | upstream (see o3v.train.config)"})
    rewards: list[str] = field(default_factory=lambda: list(ALL_TERMS), metadata={"help": "reward registry keys"})
    gate: str = field(default="two-sided", metadata={"help": "think_spatial temporal gate: two-sided | upstream"})
    proximity: str = field(
        default="adaptive",
        metadata={"help": "think_temporal_point σ: adaptive (4 -> 1 s over 75% of training) | fixed (fixed_sigma)"},
    )
    fixed_sigma: float = field(default=1.0, metadata={"help": "proximity: fixed: the constant σ in seconds (> 0)"})
    rollouts: str = field(
        default="hf",
        metadata={"help": "rollout generator: hf (model.generate) | vllm_colocate | vllm_server (owns use_vllm)"},
    )
