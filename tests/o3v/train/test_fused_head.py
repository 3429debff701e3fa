"""trl's fused LM head scores labelled positions only once o3v switches it on: same loss, same gradients."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from o3v.train import fused_head


@pytest.fixture
def fused_model(tiny_model: Path):
    from trl.trainer.utils import add_fused_lm_head

    from o3v.model import load_model

    model = load_model(tiny_model, dtype="float32", device="cpu")[0]
    add_fused_lm_head(model, outputs=("log_probs", "entropy", "is_top1"))
    model.train()
    yield model
    fused_head.restore()


def _loss_and_grads(model, inputs: dict, labels: torch.Tensor) -> tuple[torch.Tensor, dict, list[torch.Tensor]]:
    model.zero_grad()
    out = model(**inputs, labels=labels, fused_lm_head=True)
    out.loss.backward()
    per_token = {k: getattr(out, k).detach() for k in ("log_probs", "entropy", "is_top1")}
    return out.loss.detach(), per_token, [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_compact_scoring_changes_nothing_but_the_work(fused_model) -> None:
    torch.manual_seed(0)
    ids = torch.randint(10, 300, (3, 40))
    mask = torch.ones_like(ids)
    mask[2, 30:] = 0  # right padding
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :25] = -100  # the prompt
    inputs = {"input_ids": ids, "attention_mask": mask}

    fused_head.restore()
    full = _loss_and_grads(fused_model, inputs, labels)
    assert fused_head.score_labelled_positions_only() is True
    assert fused_head.score_labelled_positions_only() is False  # idempotent
    compact = _loss_and_grads(fused_model, inputs, labels)

    torch.testing.assert_close(compact[0], full[0])
    for key in full[1]:
        torch.testing.assert_close(compact[1][key], full[1][key], msg=key)
    assert len(compact[2]) == len(full[2]) > 0
    for a, b in zip(compact[2], full[2]):
        torch.testing.assert_close(a, b)


def test_switch_is_on_for_cpu_only_when_asked(fused_model) -> None:
    import trl.trainer.utils as trl_utils

    fused_head.restore()
    assert trl_utils._use_triton(torch.device("cpu")) is False  # trl's own behaviour: every position off CUDA
    fused_head.score_labelled_positions_only()
    assert trl_utils._use_triton(torch.device("cpu")) is True


def test_a_trl_without_the_switch_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import trl.trainer.utils as trl_utils

    monkeypatch.delattr(trl_utils, "_use_triton")
    with pytest.raises(fused_head.FusedHeadError, match="_use_triton"):
        fused_head.score_labelled_positions_only()
