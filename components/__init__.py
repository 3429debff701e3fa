"""KFP lightweight components: one per o3v stage, each body one call into `o3v.artifacts.stages`.

Only kfp and the standard library are imported at module level; the o3v import happens inside each body,
in the image (`components/_image.py`). `install_kfp_package=False` and no `packages_to_install`: the images
already hold o3v and kfp, and nothing is pip-installed at run time.
"""
