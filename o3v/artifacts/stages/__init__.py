"""What each KFP component calls: one function per stage, wrapping the library's stage function.

A component body is one call into this package (house-style §8.10). The glue that would otherwise grow in
component bodies lives here, written once: run the stage, write the provenance record next to the output,
copy the same fields into the KFP artifact's metadata (the UI shows them), log metrics and write the metrics
file (local caching needs a file at `metrics.path`, platform.md §3.1), render curves and reports as HTML.

Artifacts arrive as KFP artifact objects but are used duck-typed (`.path`, `.uri`, `.metadata`,
`.log_metric`), so this package never imports kfp and the tests drive it with plain objects.

Modules: `data` (synth, annotate, gates, filter, check), `train` (base model, SFT, GSPO), `evaluate`
(per-benchmark eval, report), `control` (gate-failure report, stopping a run, publish/fetch versions).
"""
