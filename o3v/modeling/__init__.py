"""Model internals behind `o3v.model`: tiny-model tokenizer and builder, configs, encoding and generation.

Import the public API from `o3v.model`; these modules are split out only to keep each file small.
"""
