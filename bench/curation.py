"""Curation throughput: rule-based filter + check on 36k records, and the GX gate's time on them.

    .venv/bin/python bench/curation.py [--records 36000] [--videos 8] [--seed 0] [--repeats 3]

Records: a synth world (`o3v.synth.generate`, faults 0.2) annotated by the synthetic teacher, replicated
until there are `--records` of them; each copy gets its own ids and video paths, so near-duplicate
detection sees distinct videos and the rules see the same mix of clean and faulty records as the world.
Rules run in memory in this single-threaded process (best of `--repeats`), reported per wall second
and per CPU second of the process: on a shared machine the CPU-second rate is what one uncontended
core does. The stage rows include reading and writing the JSONL artifacts; the gate row is one
`o3v.curate.gates.validate` call (GX import, frame building, validation, Data Docs).
Targets: >= 20k records/s for the rules, <= 20 s for the gate.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported: progress bars would distort the timings
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from o3v.curate.annotate import annotate  # noqa: E402
from o3v.curate.check import check_records  # noqa: E402
from o3v.curate.config import load_config  # noqa: E402
from o3v.curate.consistency import consistency_problems, find_duplicates  # noqa: E402
from o3v.curate.filter import filter_records, rule_problems  # noqa: E402
from o3v.curate.gates import validate  # noqa: E402
from o3v.records import read_records, write_jsonl  # noqa: E402


def replicate(src: Path, dst: Path, n: int) -> int:
    """Copy the records of dataset `src` into dataset `dst` until there are `n` (distinct ids and videos)."""
    base = [json.loads(line) for line in (src / "records.jsonl").read_text().splitlines()]
    rows = []
    for k in range(n // len(base) + 1):
        for r in base:
            r = dict(r, id=f"{r['id']}~{k}")
            key = "video_path" if "video_path" in r else "image_path"
            r[key] = f"copy{k}/{r[key]}"
            rows.append(r)
    dst.mkdir(parents=True, exist_ok=True)
    write_jsonl(dst / "records.jsonl", rows[:n])
    (dst / "dataset.json").write_text((src / "dataset.json").read_text())
    return len(rows[:n])


def best_rates(fn, n: int, repeats: int) -> tuple[float, float]:
    """(records per wall second, records per CPU second of this process), best of `repeats`."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return n / min(walls), n / min(cpus)


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=36000)
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from o3v.synth import generate

    cfg = load_config({"filter": {"verifier": "none"}})
    with tempfile.TemporaryDirectory(prefix="o3v-bench-") as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        generate(tmp / "world", videos=args.videos, seed=args.seed, faults=0.2)
        annotate(tmp / "world", tmp / "annotate", load_config())
        n = replicate(tmp / "annotate", tmp / "big", args.records)
        setup = time.perf_counter() - t0
        records = read_records(tmp / "big" / "records.jsonl")

        def rules_filter():
            for r in records:
                rule_problems(r, cfg.filter)

        def rules_check():
            for r in records:
                consistency_problems(r, cfg.check)
            find_duplicates(records, cfg.check.near_duplicate_similarity)

        def rules_both():
            rules_filter()
            rules_check()

        rows = [
            ("filter rules (in memory)", *best_rates(rules_filter, n, args.repeats), ""),
            ("check rules + near-duplicates (in memory)", *best_rates(rules_check, n, args.repeats), ""),
            ("filter + check rules (in memory)", *best_rates(rules_both, n, args.repeats), ">= 20,000/s"),
        ]
        rate = best_rates(lambda: filter_records(tmp / "big", tmp / "filtered", cfg), n, 1)
        rows.append(("filter stage incl. JSONL I/O (verifier off)", *rate, ""))
        kept = json.loads((tmp / "filtered" / "stats.json").read_text())["kept"]
        rate = best_rates(lambda: check_records(tmp / "filtered", tmp / "checked", cfg), kept, 1)
        rows.append((f"check stage incl. JSONL I/O ({kept} in)", *rate, ""))
        gate = validate(tmp / "big", "raw", tmp / "gate", cfg)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"curation bench: {n} records (setup {setup:.1f} s), one process on one core, best of {args.repeats}; "
        f"load average {load:.1f} on {os.cpu_count()} cores"
    )
    print("records/s per wall second, and per CPU second of this process (what one core does without contention)")
    print(f"{'what':<46}{'wall rec/s':>12}{'CPU rec/s':>12}  target")
    for name, wall, cpu, target in rows:
        print(f"{name:<46}{wall:>12,.0f}{cpu:>12,.0f}  {target}")
    st = gate.statistics
    print(
        f"{'GX gate raw on ' + str(st['records']) + ' records (wall s)':<46}{st['seconds_total']:>12.2f}"
        f"{'':>12}  <= 20 s (GX import {st['seconds_gx_import']:.1f} s, frame {st['seconds_frame']:.1f} s, "
        f"passed={gate.success})"
    )


if __name__ == "__main__":
    main()
