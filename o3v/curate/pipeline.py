"""`o3v curate --source DIR --out OUT`: annotate -> gate raw -> filter -> gate filtered -> check -> gate consistent.

The same stage functions the KFP components call, run in one process. Layout of OUT:

    annotate/ filter/ check/          one dataset artifact per stage (check/ is the curated dataset)
    gates/<suite>/gate_<suite>.html   Data Docs page of each gate (+ gate_<suite>.json)
    curate.json                       stage stats, gate results, where everything is

A failing gate stops the run (later stages are not run) and `CurateResult.failed_gate` names it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from o3v.curate.config import ConfigError, CurateConfig, load_config
from o3v.curate.sources import detect_source

log = logging.getLogger(__name__)

STAGES = ("annotate", "filter", "check")
GATE_AFTER = {"annotate": "raw", "filter": "filtered", "check": "consistent"}


@dataclass
class CurateResult:
    out_dir: Path
    stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)
    failed_gate: str | None = None

    @property
    def dataset(self) -> Path:
        """The curated dataset (the check stage's output)."""
        return self.out_dir / "check"


def curate(source: str | Path, out_dir: str | Path, config: Any = None) -> CurateResult:
    """Run the three stages with a GX gate after each; stops at the first failing gate."""
    from o3v.curate.annotate import annotate
    from o3v.curate.check import check_records
    from o3v.curate.filter import filter_records
    from o3v.curate.gates import validate

    cfg: CurateConfig = load_config(config)
    if cfg.filter.verifier in ("auto", "oracle") and detect_source(source).kind != "synth":
        # fail before the teacher is paid, not after annotate has run
        raise ConfigError(
            f"filter.verifier '{cfg.filter.verifier}' needs a synth world; {source} is not one: "
            "set filter.verifier to 'openai', 'local' or 'none'"
        )
    out = Path(out_dir)
    result = CurateResult(out)
    previous = None
    for stage in STAGES:
        target = out / stage
        log.info("curate: %s -> %s", stage, target)
        if stage == "annotate":
            result.stats[stage] = annotate(source, target, cfg)
        elif stage == "filter":
            result.stats[stage] = filter_records(previous, target, cfg)
        else:
            result.stats[stage] = check_records(previous, target, cfg)
        suite = GATE_AFTER[stage]
        gate = validate(target, suite, out / "gates" / suite, cfg)
        result.gates[suite] = gate
        previous = target
        if not gate.success:
            result.failed_gate = suite
            break
    summary = {
        "source": str(source),
        "stages": result.stats,
        "gates": {k: g.to_json() for k, g in result.gates.items()},
        "failed_gate": result.failed_gate,
        "dataset": str(result.dataset) if result.failed_gate is None else None,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "curate.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    return result
