"""torchvision on a CPU-only torch: the one place o3v solves it (ml-stack.md §2).

The registry's torchvision 0.28 wheel is a CUDA build. Next to `torch==2.13.0+cpu` its compiled ops
cannot load, and its fake-op registrations then crash the import on `torchvision::nms`, which breaks
every Qwen-VL processor (they need `torchvision.transforms.v2`) and even `import evaluate`. Defining
the two missing op schemas before torchvision loads is enough for the pure-Python parts o3v uses.
On a matching GPU install the compiled library loads and nothing is defined.

Its compiled image codecs (`torchvision.io.decode_image`) cannot load either; transformers decodes every
image a server receives as a URL or base64 string with them (`transformers serve` answers HTTP 500
"Couldn't load the image extension" to any image request). When they are missing, the shim replaces
`torchvision.io.decode_image` with a Pillow decoder (same output: a uint8 [C, H, W] tensor in the asked
mode); with working codecs it changes nothing.

Installed two ways, both idempotent:
- `o3v.torchvision_cpu.install()` (called by `o3v.model` before transformers is imported);
- `python -m o3v.torchvision_cpu --install-pth`: a `.pth` hook in site-packages that applies the shim
  lazily on the first `import torchvision` in any interpreter (torchrun workers, DataLoader workers,
  KFP subprocesses) without importing torch at start-up.
"""

from __future__ import annotations

import glob
import importlib.abc
import importlib.machinery
import importlib.util
import io
import os
import sys
import sysconfig
from typing import Any

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
    if "torchvision.io" in sys.modules:
        patch_image_decoding(sys.modules["torchvision.io"])
    return True


# torchvision.io.ImageReadMode values -> Pillow modes (UNCHANGED keeps the file's own mode)
_PIL_MODES = {0: None, 1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def decode_image_pil(input: Any, mode: Any = 0, apply_exif_orientation: bool = False) -> Any:  # noqa: A002
    """`torchvision.io.decode_image` through Pillow: encoded bytes (1-D uint8 tensor) or a path -> uint8 [C, H, W]."""
    import numpy as np
    import torch
    from PIL import Image, ImageOps

    if isinstance(input, torch.Tensor):
        img = Image.open(io.BytesIO(input.numpy().tobytes()))
    else:
        img = Image.open(os.fspath(input))
    if apply_exif_orientation:
        img = ImageOps.exif_transpose(img)
    value = getattr(mode, "value", mode)
    if isinstance(value, str):
        value = {"UNCHANGED": 0, "GRAY": 1, "GRAY_ALPHA": 2, "RGB": 3, "RGB_ALPHA": 4}[value.upper()]
    if _PIL_MODES[value]:
        img = img.convert(_PIL_MODES[value])
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def patch_image_decoding(tv_io: Any) -> bool:
    """Swap in the Pillow decoder when torchvision's image codecs did not load; True when patched."""
    image_mod = sys.modules.get("torchvision.io.image")
    if image_mod is None or image_mod._has_image_ops():
        return False
    image_mod.decode_image = decode_image_pil
    tv_io.decode_image = decode_image_pil
    return True


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader of `torchvision.io`, then patches its image decoding."""

    def __init__(self, real: importlib.abc.Loader):
        self.real = real

    def create_module(self, spec):  # noqa: D102
        return self.real.create_module(spec)

    def exec_module(self, module):  # noqa: D102
        self.real.exec_module(module)
        patch_image_decoding(module)


class _LazyFinder(importlib.abc.MetaPathFinder):
    """Applies the shim on the first `import torchvision` and patches `torchvision.io`, then steps aside."""

    _busy = False  # install() looks torchvision up itself: do not recurse into it

    def find_spec(self, name, path=None, target=None):  # noqa: D102
        if self._busy:
            return None
        if name == "torchvision":
            self._busy = True
            try:
                install()
            finally:
                self._busy = False
            return None  # let the normal finders import torchvision
        if name != "torchvision.io":
            return None
        sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _LazyFinder)]
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchingLoader(spec.loader)
        return spec


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
