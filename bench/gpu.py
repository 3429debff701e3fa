"""GPU figures for docs/scale.md: the real-size Qwen2.5-VL-7B and Qwen3-VL-8B, built from their published configs
(o3v.modeling.configs.real_config) with random weights -- speed does not depend on the weights, no hub is needed.

    pip install -e ".[all,vllm]"                  # once, on the GPU machine (vLLM only for the rollout comparison)
    python bench/gpu.py --out bench-gpu.json      # every figure, both models, one GPU (about 10 minutes on an H200)
    python bench/gpu.py --models qwen3-vl-8b --skip-vllm
    python bench/gpu.py --tiny                    # CPU smoke run of the same code paths at tiny shapes: not figures

Figures (one table, plus the JSON written to --out):
1. SFT step, bf16, activation checkpointing, AdamW, batch 1 at the 7B recipe's budget: 16 sampled + 2 key frames
   of 128 merged visual tokens (frame_max_pixels 100352 / 131072) and 3,000 tokens in all, loss on the last 350.
   Step time (forward + backward + optimizer, median of --steps after 2 warm-up steps), tokens/s, MFU (6 x
   params x tokens + attention, against the GPU's dense bf16 peak) and peak memory. One GPU holds the whole
   optimizer state here (the recipe shards it with ZeRO-2 over 8 GPUs: compute per GPU is the same).
2. GSPO rollouts of the language model of each VLM (the part that decodes): 8 prompts x 4 completions, prompts of
   2,600 token ids, exactly 768 sampled tokens each (EOS ignored), temperature 1.0, top_p 0.95 (the recipes'
   settings). HF `generate` on the bf16 model vs vLLM colocated (`LLM(load_format="dummy")`, random weights of the
   same config, gpu_memory_utilization 0.3 as in the recipes). Reported: generated tokens/s and the wall time.
   The vision tower's prefill is not in this comparison (it is the same work for both generators).
3. Eval: the full VLM, HF `generate`, batch 8 (the eval recipes' batch_size), 16 frames at the eval frame budget
   (max_pixels 262144), greedy, 450 new tokens per sample (the mean completion assumed in docs/scale.md).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from o3v.modeling.configs import VISION_GEOMETRY, real_config  # noqa: E402

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "B200": 2250e12}  # dense, no sparsity
SFT_FRAMES, SFT_TOKENS_PER_FRAME, SFT_SEQ, SFT_TARGET = 18, 128, 3000, 350
RL_PROMPTS, RL_GROUP, RL_PROMPT_LEN, RL_NEW = 8, 4, 2600, 768
EVAL_BATCH, EVAL_FRAMES, EVAL_MAX_PIXELS, EVAL_NEW = 8, 16, 262144, 450
ARCH = {"qwen2.5-vl-7b": "qwen2_5_vl", "qwen3-vl-8b": "qwen3_vl"}


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def peak_flops() -> float | None:
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((v for k, v in PEAK_BF16.items() if k in name), None)


def tiny_version(cfg: Any) -> Any:
    """The same architecture at CPU size (--tiny): narrow, two layers, small vocab; ids stay in range."""
    t, v = cfg.text_config, cfg.vision_config
    heads = 4
    t.hidden_size, t.intermediate_size, t.num_hidden_layers = 128, 256, 2
    t.num_attention_heads, t.num_key_value_heads, t.vocab_size = heads, 2, 152064
    if getattr(t, "layer_types", None):
        t.layer_types = t.layer_types[:2]
    if getattr(t, "head_dim", None):
        t.head_dim = 32
    rope = getattr(t, "rope_parameters", None) or {}
    if "mrope_section" in rope:
        rope["mrope_section"] = [4, 6, 6]
    v.depth, v.hidden_size, v.intermediate_size, v.num_heads = 2, 64, 128, 4
    v.out_hidden_size = t.hidden_size
    for key in ("fullatt_block_indexes", "deepstack_visual_indexes"):
        if getattr(v, key, None):
            setattr(v, key, [1])
    return cfg


def build(name: str, tiny: bool, device: str) -> tuple[Any, Any]:
    """(model, config): random bf16 weights created directly on the device."""
    from transformers import AutoModelForImageTextToText

    cfg = real_config(name)
    cfg = tiny_version(cfg) if tiny else cfg
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    attn = "sdpa"
    try:
        import flash_attn  # noqa: F401

        attn = "flash_attention_2" if device == "cuda" else attn
    except ImportError:
        pass
    with torch.device(device):
        model = AutoModelForImageTextToText.from_config(cfg, dtype=dtype, attn_implementation=attn)
    return model.eval(), cfg


def vlm_inputs(name: str, cfg: Any, batch: int, frames: int, tokens_per_frame: int, text_len: int, device: str):
    """input_ids with `frames` images of `tokens_per_frame` merged tokens each, plus random pixels and grids."""
    patch, merge = VISION_GEOMETRY[ARCH[name]]
    tp = cfg.vision_config.temporal_patch_size
    h = merge * 4
    w = tokens_per_frame * merge * merge // h
    per_patch = 3 * tp * patch * patch
    g = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(batch):
        ids: list[int] = torch.randint(1000, 150000, (text_len,), generator=g).tolist()
        block = [cfg.vision_start_token_id, *[cfg.image_token_id] * tokens_per_frame, cfg.vision_end_token_id]
        for f in reversed(range(frames)):  # from the back, so each cut point into the text stays where it was
            at = (f + 1) * text_len // (frames + 2)
            ids[at:at] = block
        rows.append(ids)
    input_ids = torch.tensor(rows, device=device)
    pixels = torch.randn(batch * frames * h * w, per_patch, generator=g).to(device, torch.bfloat16)
    grid = torch.tensor([[1, h, w]] * (batch * frames), device=device)
    return input_ids, pixels, grid, (input_ids == cfg.image_token_id).long()  # mm_token_type_ids: 1 on image pads


def params(model: Any) -> tuple[int, int]:
    """(language model params that cost FLOPs: all but the input embedding, vision tower params)."""
    lm = sum(p.numel() for n, p in model.named_parameters() if "visual" not in n and "embed_tokens" not in n)
    vit = sum(p.numel() for n, p in model.named_parameters() if "visual" in n)
    return lm, vit


def bench_sft(name: str, tiny: bool, device: str, steps: int) -> dict[str, Any]:
    model, cfg = build(name, tiny, device)
    model.train()
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.config.use_cache = False
    frames, per_frame = (4, 16) if tiny else (SFT_FRAMES, SFT_TOKENS_PER_FRAME)
    seq = 400 if tiny else SFT_SEQ
    text_len = seq - frames * (per_frame + 2)
    ids, pixels, grid, types = vlm_inputs(name, cfg, 1, frames, per_frame, text_len, device)
    labels = ids.clone()
    labels[:, : ids.shape[1] - SFT_TARGET] = -100
    opt = torch.optim.AdamW(model.parameters(), lr=1e-6, fused=device == "cuda")
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(2 + steps):
        sync()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, pixel_values=pixels.to(model.dtype), image_grid_thw=grid, mm_token_type_ids=types,
                     labels=labels).loss  # fmt: skip
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    step = statistics.median(times)
    lm, vit = params(model)
    t, layers, d = ids.shape[1], cfg.text_config.num_hidden_layers, cfg.text_config.hidden_size
    patches = pixels.shape[0]
    flops = 6 * lm * t + 6 * vit * patches + 3 * (2 * d * t * t * layers)
    peak = peak_flops()
    out = {"model": name, "seq_tokens": t, "frames": frames, "step_s": round(step, 3), "tokens_per_s": round(t / step),
           "model_tflop_per_step": round(flops / 1e12, 1), "mfu": round(flops / step / peak, 3) if peak else None,
           "peak_mem_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if device == "cuda" else None,
           "lm_params_b": round(lm / 1e9, 2), "vit_params_b": round(vit / 1e9, 2)}  # fmt: skip
    del model, opt, loss
    free()
    return out


def free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def lm_model(name: str, tiny: bool, device: str) -> tuple[Any, Any]:
    """The VLM's language model alone as a causal LM (what decodes rollouts), random bf16 weights."""
    from transformers import AutoConfig, AutoModelForCausalLM

    cfg = real_config(name)
    cfg = tiny_version(cfg) if tiny else cfg
    text = cfg.text_config.to_dict()
    kind = "qwen2" if ARCH[name] == "qwen2_5_vl" else "qwen3"
    drop = ("model_type", "architectures", "rope_parameters", "layer_types", "dtype", "torch_dtype")
    keep = {k: v for k, v in text.items() if k not in drop}
    rope = dict(text.get("rope_parameters") or {})
    rope.pop("mrope_section", None)
    rope.pop("mrope_interleaved", None)
    rope["rope_type"] = "default"
    lm_cfg = AutoConfig.for_model(kind, **keep, rope_parameters=rope, tie_word_embeddings=False)
    dtype = torch.float32 if device == "cpu" else torch.bfloat16
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(lm_cfg, dtype=dtype)
    return model.eval(), lm_cfg


def bench_rollouts(name: str, tiny: bool, device: str, skip_vllm: bool) -> dict[str, Any]:
    prompts, group, plen, new = (2, 2, 64, 16) if tiny else (RL_PROMPTS, RL_GROUP, RL_PROMPT_LEN, RL_NEW)
    g = torch.Generator().manual_seed(0)
    prompt_ids = torch.randint(1000, 150000, (prompts, plen), generator=g)
    model, lm_cfg = lm_model(name, tiny, device)
    batch = prompt_ids.repeat_interleave(group, dim=0).to(device)
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(batch, attention_mask=torch.ones_like(batch), do_sample=True, temperature=1.0,
                             top_p=0.95, max_new_tokens=new, min_new_tokens=new, pad_token_id=0)  # fmt: skip
    sync()
    hf_s = time.perf_counter() - t0
    generated = (out.shape[1] - plen) * out.shape[0]
    res = {"model": name, "sequences": prompts * group, "prompt_tokens": plen, "new_tokens": new,
           "hf_generate_s": round(hf_s, 2), "hf_tokens_per_s": round(generated / hf_s)}  # fmt: skip
    del model, out
    free()
    if skip_vllm or device != "cuda":
        res["vllm"] = "skipped (--skip-vllm or no GPU)"
        return res
    try:
        from vllm import LLM, SamplingParams
    except ImportError:
        res["vllm"] = "skipped: vllm not installed (pip install -e '.[vllm]')"
        return res
    with tempfile.TemporaryDirectory() as folder:
        lm_cfg.architectures = ["Qwen2ForCausalLM" if lm_cfg.model_type == "qwen2" else "Qwen3ForCausalLM"]
        lm_cfg.save_pretrained(folder)  # config only: vLLM's dummy loader makes random weights of this config
        llm = LLM(model=folder, load_format="dummy", skip_tokenizer_init=True, dtype="bfloat16",
                  gpu_memory_utilization=0.3, max_model_len=plen + new + 16, seed=0)  # fmt: skip
        params_ = SamplingParams(n=1, temperature=1.0, top_p=0.95, max_tokens=new, min_tokens=new, ignore_eos=True,
                                 detokenize=False)  # fmt: skip
        reqs = [{"prompt_token_ids": row.tolist()} for row in prompt_ids.repeat_interleave(group, dim=0)]
        llm.generate(reqs[:2], params_, use_tqdm=False)  # warm-up (graph capture happened at load)
        t0 = time.perf_counter()
        outs = llm.generate(reqs, params_, use_tqdm=False)
        vllm_s = time.perf_counter() - t0
        tokens = sum(len(o.outputs[0].token_ids) for o in outs)
        res |= {"vllm_colocate_s": round(vllm_s, 2), "vllm_tokens_per_s": round(tokens / vllm_s),
                "vllm_speedup": round(hf_s / vllm_s, 1)}  # fmt: skip
        del llm
    free()
    return res


def bench_eval(name: str, tiny: bool, device: str) -> dict[str, Any]:
    model, cfg = build(name, tiny, device)
    patch, merge = VISION_GEOMETRY[ARCH[name]]
    per_frame = 16 if tiny else EVAL_MAX_PIXELS // (patch * merge) ** 2 // 8 * 8
    batch, frames, new = (2, 2, 8) if tiny else (EVAL_BATCH, EVAL_FRAMES, EVAL_NEW)
    ids, pixels, grid, types = vlm_inputs(name, cfg, batch, frames, per_frame, 64 if tiny else 350, device)
    sync()
    t0 = time.perf_counter()
    with torch.no_grad():
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=pixels.to(model.dtype),
                       image_grid_thw=grid, mm_token_type_ids=types, do_sample=False, max_new_tokens=new,
                       min_new_tokens=new, pad_token_id=0)  # fmt: skip
    sync()
    s = time.perf_counter() - t0
    del model
    free()
    return {"model": name, "batch": batch, "frames": frames, "tokens_per_frame": per_frame, "prompt_tokens":
            ids.shape[1], "new_tokens": new, "batch_s": round(s, 2), "samples_per_s": round(batch / s, 3)}  # fmt: skip


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for section, rows in results.items():
        if not rows:
            continue
        keys = list(rows[0])
        lines += [f"\n## {section}", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        lines += ["| " + " | ".join(str(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", choices=sorted(ARCH), default=sorted(ARCH))
    p.add_argument("--steps", type=int, default=5, help="measured SFT steps (after 2 warm-up steps)")
    p.add_argument("--skip-vllm", action="store_true", help="HF generate only")
    p.add_argument("--only", nargs="+", choices=("sft", "rollouts", "eval"), default=["sft", "rollouts", "eval"])
    p.add_argument("--tiny", action="store_true", help="tiny shapes (CPU smoke run of the code paths; not figures)")
    p.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = p.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu" and not args.tiny:  # `make bench` runs every bench script: say so and measure nothing
        print("bench/gpu.py: skipped, no CUDA device (real-size figures need a GPU; --tiny is a CPU smoke run)")
        return 0
    torch.manual_seed(0)
    env = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
           "tiny": args.tiny, "command": " ".join(["python", "bench/gpu.py", *(argv or sys.argv[1:])])}  # fmt: skip
    results: dict[str, list[dict[str, Any]]] = {"sft": [], "rollouts": [], "eval": []}
    for name in args.models:
        if "sft" in args.only:
            results["sft"].append(bench_sft(name, args.tiny, device, args.steps))
        if "rollouts" in args.only:
            results["rollouts"].append(bench_rollouts(name, args.tiny, device, args.skip_vllm))
        if "eval" in args.only:
            results["eval"].append(bench_eval(name, args.tiny, device))
        print(table(results), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"environment": env, **results}, indent=2) + "\n")
    print(f"\n{env}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
