"""o3v: grounded video reasoning (Open-o3 Video) as a reproducible Kubeflow pipeline.

The library never imports kfp; `components/` and `pipelines/` wrap it.
"""

__version__ = "0.1.0"
