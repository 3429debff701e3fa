"""The CPU fast paths compute the same loss and gradients as the stock ones, and step aside for any other mask."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from o3v.train import cpu_kernels


@pytest.fixture(scope="module", params=["qwen2_5_vl", "qwen3_vl"])
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    from o3v.model import build_tiny, load_model

    path = build_tiny(tmp_path_factory.mktemp(f"kernels-{request.param}"), arch=request.param, seed=0)
    model, processor = load_model(path, dtype="float32", device="cpu")
    model.train()
    return model, processor


def _batch(processor: object) -> dict:
    """Two prompt-completion rows of different lengths through trl's vision collator (right-padded, as in SFT)."""
    from PIL import Image
    from trl.trainer.sft_trainer import DataCollatorForVisionLanguageModeling

    gen = torch.Generator().manual_seed(0)

    def image() -> Image.Image:
        return Image.fromarray(torch.randint(0, 255, (64, 96, 3), generator=gen, dtype=torch.uint8).numpy())

    def row(question: str, answer: str, images: int) -> dict:
        content = [{"type": "image"}] * images + [{"type": "text", "text": question}]
        return {
            "prompt": [{"role": "user", "content": content}],
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": answer}]}],
            "images": [image() for _ in range(images)],
        }

    collate = DataCollatorForVisionLanguageModeling(processor, completion_only_loss=True)
    rows = [row("Where is the red square?", "[1, 2, 30, 40] at 1.5 s, a long answer", 2), row("Colour?", "red", 1)]
    return collate(rows)


def _loss_and_grads(model: object, batch: dict) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    loss = model(**batch).loss
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_fast_paths_give_the_stock_loss_and_gradients(tiny, monkeypatch: pytest.MonkeyPatch) -> None:
    model, processor = tiny
    batch = _batch(processor)
    assert batch["attention_mask"][:, -1].tolist() == [1, 0]  # the second row is padded on the right

    cpu_kernels.restore(model)
    stock = _loss_and_grads(model, batch)
    seen = []
    check = cpu_kernels.right_padded_causal
    monkeypatch.setattr(cpu_kernels, "right_padded_causal", lambda mask: seen.append(check(mask)) or seen[-1])
    assert cpu_kernels.apply(model) == [
        "patch embedding as a matmul",
        "causal text attention without a padding mask",
    ]
    try:
        fast = _loss_and_grads(model, batch)
    finally:
        cpu_kernels.restore(model)

    assert seen and all(seen)  # every text layer took the causal flag, no mask
    torch.testing.assert_close(fast[0], stock[0])
    assert len(fast[1]) == len(stock[1]) > 0
    for a, b in zip(fast[1], stock[1]):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_patch_embedding_matmul_matches_the_convolution(tiny) -> None:
    model, _ = tiny
    embed = cpu_kernels._patch_embeds(model)
    assert len(embed) == 1
    embed = embed[0]
    conv = embed.proj
    pixels = torch.randn(40, conv.weight[0].numel())
    cpu_kernels.restore(model)
    stock = embed(pixels)
    assert cpu_kernels.patch_embed_as_matmul(model) == 1
    assert cpu_kernels.patch_embed_as_matmul(model) == 0  # idempotent
    try:
        torch.testing.assert_close(embed(pixels), stock)
        twin = copy.deepcopy(embed)  # a reference model copied by the trainer computes with its own weights
        with torch.no_grad():
            twin.proj.weight.zero_()
            if twin.proj.bias is not None:
                twin.proj.bias.zero_()
        assert twin(pixels).abs().max() == 0
        torch.testing.assert_close(embed(pixels), stock)
    finally:
        cpu_kernels.restore(model)
    assert "forward" not in vars(embed)


def _causal(length: int) -> torch.Tensor:
    return torch.ones(length, length, dtype=torch.bool).tril()


def _right_padded(length: int, real: int) -> torch.Tensor:
    mask = _causal(length)
    mask[:, real:] = False
    mask[real:] = False
    return mask


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (torch.stack([_causal(6), _right_padded(6, 4)])[:, None], True),
        (torch.stack([_right_padded(6, 1), _right_padded(6, 3)])[:, None], True),
        (torch.stack([_causal(6), _causal(6).flip(0, 1)])[:, None], False),  # padding on the left
        (torch.ones(1, 1, 6, 6, dtype=torch.bool), False),  # bidirectional
        (torch.stack([_causal(6)])[:, None].float(), False),  # an additive float mask
        (_causal(6)[None], False),  # 3-D
        (torch.ones(1, 1, 1, 6, dtype=torch.bool), False),  # one decoding step
        (None, False),
    ],
)
def test_only_a_right_padded_causal_mask_is_dropped(mask: torch.Tensor | None, expected: bool) -> None:
    assert cpu_kernels.right_padded_causal(mask) is expected


def test_a_real_token_that_misses_a_real_key_keeps_its_mask() -> None:
    mask = _right_padded(6, 5)
    mask[4, 2] = False  # e.g. a packed sequence boundary: not plain causal
    assert cpu_kernels.right_padded_causal(torch.stack([_causal(6), mask])[:, None]) is False


def test_left_padded_prompts_go_through_stock_sdpa(tiny) -> None:
    """GSPO generates from left-padded prompts: the mask stays, the outputs are the stock ones bit for bit."""
    model, processor = tiny
    tok = processor.tokenizer
    ids = tok(["a short one", "a somewhat longer prompt here"], padding=True, padding_side="left", return_tensors="pt")
    assert ids["attention_mask"][0, 0] == 0
    cpu_kernels.restore(model)
    with torch.no_grad():
        stock = model(**ids).logits
        cpu_kernels.apply(model)
        try:
            fast = model(**ids).logits
        finally:
            cpu_kernels.restore(model)
    assert torch.equal(fast, stock)


def test_saved_model_names_no_o3v_attention(tiny, tmp_path: Path) -> None:
    model, _ = tiny
    cpu_kernels.apply(model)
    try:
        model.save_pretrained(tmp_path)
    finally:
        cpu_kernels.restore(model)
    assert cpu_kernels.CAUSAL_SDPA not in (tmp_path / "config.json").read_text()
