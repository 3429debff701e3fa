"""torchvision on a CPU-only torch: the one place o3v solves it (ml-stack.md §2).

The registry's torchvision 0.28 wheel is a CUDA build. Next to `torch==2.13.0+cpu` its compiled ops
cannot load, and its fake-op registrations then crash the import on `torchvision::nms`, which breaks
every Qwen-VL processor (they need `torchvision.transforms.v2`) and even `import evaluate`. Defining
the two missing op schemas before torchvision loads is enough for the pure-Python parts o3v uses.
On a matching GPU install the compiled library loads and nothing is defined.

Installed two ways, both idempotent:
- `o3v.torchvision_cpu.install()` (called by `o3v.model` before transformers is imported);
- `python -m o3v.torchvision_cpu --install-pth`: a `.pth` hook in site-packages that applies the shim
  lazily on the first `import torchvision` in any interpreter (torchrun workers, DataLoader workers,
  KFP subprocesses) without importing torch at start-up.
"""

from __future__ import annotations

import glob
import importlib.abc
import importlib.util
import os
import sys
import sysconfig

_LIB = None  # keeps the torch.library fragment alive


def install() -> bool:
    """Define torchvision's missing op schemas if its compiled ops cannot load; True when the shim was applied."""
    global _LIB
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018 - already defined (compiled ops loaded, or shim applied)
        return False
    except (AttributeError, RuntimeError):
        pass
    for lib in glob.glob(os.path.join(spec.submodule_search_locations[0], "_C*.so")):
        try:
            torch.ops.load_library(lib)
            return False  # matching build: nothing to do
        except (OSError, RuntimeError):
            pass
    _LIB = torch.library.Library("torchvision", "FRAGMENT")
    _LIB.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIB.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    return True


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Applies the shim on the first `import torchvision`, then steps aside."""

    def find_spec(self, name, path=None, target=None):  # noqa: D102
        if name != "torchvision":
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _LazyFinder)]
        install()
        return None  # let the normal finders import torchvision


def register_lazy() -> None:
    """Called from the `.pth` hook: cheap, imports nothing heavy."""
    if "torchvision" not in sys.modules and not any(isinstance(f, _LazyFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _LazyFinder())


_PTH_NAME = "o3v_torchvision_cpu.pth"


def install_pth() -> str:
    """Write the `.pth` hook into this interpreter's site-packages; returns its path."""
    target = os.path.join(sysconfig.get_paths()["purelib"], _PTH_NAME)
    line = "import o3v.torchvision_cpu as _o3v_tv; _o3v_tv.register_lazy()\n"
    with open(target, "w") as f:
        f.write(line)
    return target


if __name__ == "__main__":
    if "--install-pth" in sys.argv:
        print(install_pth())  # noqa: T201
    else:
        print(f"torchvision CPU shim applied: {install()}")  # noqa: T201
