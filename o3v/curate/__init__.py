"""Data curation: annotate -> filter -> consistency check, each gated by Great Expectations; nothing lost.

    o3v synth --out out/synth --videos 40 --seed 1 --faults 0.2
    o3v curate --source out/synth --out out/curate      # annotate, gate, filter, gate, check, gate
    o3v curate-report out/curate [--json]               # counts per stage, precision/recall per injected fault type

Stage functions (what the KFP components call, one call each; docs/architecture.md):

| function | module | reads -> writes |
|---|---|---|
| `annotate(source, out_dir, config)` | `annotate` | synth world / video manifest / upstream STGR file -> dataset |
| `filter_records(in_dir, out_dir, config)` | `filter` | dataset -> dataset (box/time rules, category verifier) |
| `check_records(in_dir, out_dir, config)` | `check` | dataset -> dataset (claims, answers, tags, duplicates) |
| `validate(in_dir, suite, out_dir, config)` | `gates` | dataset -> `GateResult` + Data Docs page |

Every stage writes `records.jsonl`, `rejects.jsonl`, `stats.json` (in == kept + rejected, asserted before
writing), `dataset.json` and `config.resolved.yaml`. The counting unit is the record; every reject line
carries a stable `reason` code, the offending `field` and `values`, the stage, and the record itself (or
the teacher's raw text). Reason codes by stage:

- annotate: `malformed_json`, `schema`, `manifest_schema`, `duplicate_id`, `unsafe_path`, `video_missing`,
  `video_undecodable`, `image_missing`, `image_undecodable`, `image_size_mismatch`, `download_failed`,
  `teacher_unparseable`, `teacher_invalid_record`, `teacher_unavailable`, `teacher_http_error`,
  `teacher_bad_response`, `not_in_manifest`;
- filter: `box_oversized`, `box_inverted`, `box_zero_area`, `box_out_of_frame`, `box_non_finite`,
  `box_not_4_numbers`, `box_missing` (and `claim_box_*` for boxes in the reasoning), `time_outside_video`,
  `claim_time_outside_video`, `answer_span_outside_video`, `answer_span_inverted`, `key_items_unknown_frame`,
  `media_meta_missing`, `category_mismatch`, `category_unclear`;
- check: `claim_time_unmatched`, `claim_object_unmatched`, `claim_box_mismatch`, `answer_outside_evidence`,
  `answer_contradicts_reasoning`, `option_not_in_options`, `option_span_mismatch`, `answer_unparseable`,
  `unbalanced_tags`, `malformed_claim`, `near_duplicate_question`.

Thresholds and backends live in `o3v/configs/curate/default.yaml` (`o3v.curate.config`). Model backends
(`openai`: any OpenAI-compatible endpoint, cached and retried; `local`: a transformers VLM) serve the
teacher, the category verifier and the optional reasoning rewrite alike (`o3v.curate.backends`).
"""
