"""Data curation: annotate -> filter -> consistency check, each gated by Great Expectations."""
