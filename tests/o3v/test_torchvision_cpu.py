"""The torchvision shim's image decoding: what `transformers serve` uses for every image it receives."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from o3v.torchvision_cpu import decode_image_pil


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize(("mode", "channels"), [(3, 3), ("RGB", 3), (1, 1), (4, 4), (0, 3)])
def test_pillow_decoder_matches_torchvisions_layout(mode, channels):
    arr = (np.random.default_rng(0).random((5, 7, 3)) * 255).astype("uint8")
    out = decode_image_pil(torch.frombuffer(bytearray(_png(arr)), dtype=torch.uint8), mode)
    assert out.dtype == torch.uint8 and tuple(out.shape) == (channels, 5, 7)
    if channels == 3:
        assert torch.equal(out, torch.from_numpy(arr).permute(2, 0, 1))  # lossless: the exact pixels


def test_transformers_decodes_a_data_url_in_a_fresh_interpreter():
    # the .pth hook patches torchvision.io in any process (a server too), not only where o3v is imported
    arr = (np.random.default_rng(1).random((4, 6, 3)) * 255).astype("uint8")
    url = "data:image/png;base64," + base64.b64encode(_png(arr)).decode()
    code = (
        "import sys, torch; from transformers.image_utils import load_image_as_tensor as f; "
        f"t = f({url!r}); print(list(t.shape), int(t.sum()))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["[3,", "4,", "6]", str(int(arr.sum()))]
