"""collate_tokens / collate_packed: the kernels against the reference, and both against hand-made batches."""

import pytest
import torch

from kernels import collate_packed, collate_tokens

BLOCK = 1024  # tokens per program
LENGTH_SETS = {
    "single-token": [1],
    "with-empty": [3, 0, 5],
    "all-empty": [0, 0],
    "block-1,block,block+1": [BLOCK - 1, BLOCK, BLOCK + 1],
    "spread": [17, 1, 130, 64, 0, 9],
}
PADDED_OPTIONS = {
    "right": dict(),
    "left": dict(padding_side="left"),
    "truncate": dict(max_len=10),
    "left-truncate-multiple-of-8": dict(max_len=10, padding_side="left", pad_to_multiple_of=8),
    "multiple-of-8-pad-id": dict(pad_to_multiple_of=8, pad_id=50256),
    "truncate-to-0": dict(max_len=0),
}


def _batch(lengths: list[int], dtype=torch.int64) -> tuple[torch.Tensor, torch.Tensor]:
    offsets = torch.zeros(len(lengths) + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(torch.tensor(lengths, dtype=torch.int64), 0)
    flat = torch.randint(1, 50000, (int(offsets[-1]),), dtype=dtype)
    return flat, offsets


def test_padded_batch_by_hand():
    flat = torch.tensor([11, 12, 13, 21, 31, 32, 33, 34])
    offsets = torch.tensor([0, 3, 4, 4, 8])
    out = collate_tokens(flat, offsets, max_len=3, padding_side="left", pad_id=9, pad_to_multiple_of=4, backend="torch")
    assert out["input_ids"].tolist() == [[9, 11, 12, 13], [9, 9, 9, 21], [9, 9, 9, 9], [9, 31, 32, 33]]
    assert out["attention_mask"].tolist() == [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 0], [0, 1, 1, 1]]
    assert out["position_ids"].tolist() == [[0, 0, 1, 2], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 2]]
    ignore = -100
    assert out["labels"].tolist() == [
        [ignore, 12, 13, ignore],
        [ignore] * 4,
        [ignore] * 4,
        [ignore, 32, 33, ignore],
    ]


def test_packed_batch_by_hand():
    flat = torch.tensor([11, 12, 13, 21, 31, 32, 33, 34])
    out = collate_packed(flat, torch.tensor([0, 3, 4, 4, 8]), max_len=3, backend="torch")
    assert out["input_ids"].tolist() == [[11, 12, 13, 21, 31, 32, 33]]
    assert out["position_ids"].tolist() == [[0, 1, 2, 0, 0, 1, 2]]
    assert out["labels"].tolist() == [[12, 13, -100, -100, 32, 33, -100]]
    assert out["cu_seqlens"].dtype == torch.int32
    assert out["cu_seqlens"].tolist() == [0, 3, 4, 4, 7]


@pytest.mark.parametrize("flat_dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("options", PADDED_OPTIONS.values(), ids=PADDED_OPTIONS.keys())
@pytest.mark.parametrize("lengths", LENGTH_SETS.values(), ids=LENGTH_SETS.keys())
def test_padded_kernel_matches_reference(kernel_target, lengths, options, flat_dtype):
    device, backend = kernel_target
    torch.manual_seed(0)
    flat, offsets = _batch(lengths, flat_dtype)
    ours = collate_tokens(flat, offsets, device=device, backend=backend, **options)
    ref = collate_tokens(flat, offsets, backend="torch", **options)
    assert ours.keys() == ref.keys() == {"input_ids", "attention_mask", "position_ids", "labels"}
    for key in ref:
        assert ours[key].device.type == device.type
        assert ours[key].dtype == torch.int64
        assert torch.equal(ours[key].cpu(), ref[key]), key
    if options.get("pad_to_multiple_of"):
        assert ref["input_ids"].shape[1] % options["pad_to_multiple_of"] == 0


@pytest.mark.parametrize("max_len", [None, 10, 1])
@pytest.mark.parametrize("lengths", LENGTH_SETS.values(), ids=LENGTH_SETS.keys())
def test_packed_kernel_matches_reference(kernel_target, lengths, max_len):
    device, backend = kernel_target
    torch.manual_seed(1)
    flat, offsets = _batch(lengths)
    ours = collate_packed(flat, offsets, max_len=max_len, device=device, backend=backend)
    ref = collate_packed(flat, offsets, max_len=max_len, backend="torch")
    assert ours.keys() == ref.keys() == {"input_ids", "position_ids", "labels", "cu_seqlens"}
    for key in ref:
        assert ours[key].dtype == ref[key].dtype
        assert torch.equal(ours[key].cpu(), ref[key]), key
    kept = [min(n, max_len) if max_len is not None else n for n in lengths]
    assert ref["cu_seqlens"].tolist() == [sum(kept[:i]) for i in range(len(kept) + 1)]


def test_packed_and_padded_agree_on_every_real_token():
    torch.manual_seed(2)
    flat, offsets = _batch(LENGTH_SETS["spread"])
    padded = collate_tokens(flat, offsets, backend="torch")
    packed = collate_packed(flat, offsets, backend="torch")
    real = padded["attention_mask"].bool()
    for key in ("input_ids", "position_ids", "labels"):
        assert torch.equal(padded[key][real], packed[key][0])


def test_rejects_bad_offsets_and_options():
    flat = torch.arange(5)
    with pytest.raises(ValueError, match="offsets"):
        collate_tokens(flat, torch.tensor([0, 4, 2]), backend="torch")
    with pytest.raises(ValueError, match="offsets"):
        collate_packed(flat, torch.tensor([0, 6]), backend="torch")
    with pytest.raises(ValueError, match="padding_side"):
        collate_tokens(flat, torch.tensor([0, 5]), padding_side="middle", backend="torch")
    with pytest.raises(TypeError, match="int32 or int64"):
        collate_tokens(flat.float(), torch.tensor([0, 5]), backend="torch")
