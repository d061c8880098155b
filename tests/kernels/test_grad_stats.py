"""accumulate_grad_sqnorm against plain torch: accum += g, and ‖g‖² of this micro-batch."""

import pytest
import torch

from kernels import accumulate_grad_sqnorm

BLOCK = 2048  # elements per program
SHAPE_SETS = {
    "one-element": [(1,)],
    "block-1": [(BLOCK - 1,)],
    "block": [(BLOCK,)],
    "block+1": [(BLOCK + 1,)],
    "uneven-multi": [(3, 5), (BLOCK + 1,), (0,), (1,), (33, 64)],
}
DTYPES = {  # (accum dtype, grad dtype, atol, rtol)
    "fp32": (torch.float32, torch.float32, 1e-6, 1e-6),
    "bf16-grads-into-fp32": (torch.float32, torch.bfloat16, 1e-6, 1e-6),
    "bf16": (torch.bfloat16, torch.bfloat16, 0.0, 2.0**-7),
}


@pytest.mark.parametrize("dtypes", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("shapes", SHAPE_SETS.values(), ids=SHAPE_SETS.keys())
def test_matches_torch(target, shapes, dtypes):
    device, backend = target
    accum_dtype, grad_dtype, atol, rtol = dtypes
    torch.manual_seed(0)
    accums = [torch.randn(s, device=device).to(accum_dtype) for s in shapes]
    grads = [torch.randn(s, device=device).to(grad_dtype) for s in shapes]
    expected_accums = [(a.float() + g.float()).to(accum_dtype) for a, g in zip(accums, grads)]
    expected_sqnorm = sum(g.float().square().sum() for g in grads)
    sqnorm = accumulate_grad_sqnorm(accums, grads, backend=backend)
    assert sqnorm.shape == () and sqnorm.dtype == torch.float32 and sqnorm.device.type == device.type
    torch.testing.assert_close(sqnorm, expected_sqnorm, rtol=1e-5, atol=0.0)
    for accum, expected in zip(accums, expected_accums):
        torch.testing.assert_close(accum.float(), expected.float(), atol=atol, rtol=rtol)


def test_single_tensor_and_repeated_micro_batches(target):
    """Four micro-batches: the accumulator sums them, each call reports only its own norm."""
    device, backend = target
    torch.manual_seed(1)
    accum = torch.zeros(BLOCK + 1, device=device)
    micro_batches = [torch.randn(BLOCK + 1, device=device) for _ in range(4)]
    for grad in micro_batches:
        sqnorm = accumulate_grad_sqnorm(accum, grad, backend=backend)
        torch.testing.assert_close(sqnorm, grad.square().sum(), rtol=1e-5, atol=0.0)
    torch.testing.assert_close(accum, torch.stack(micro_batches).sum(0), atol=1e-5, rtol=1e-6)


def test_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="accumulators"):
        accumulate_grad_sqnorm([torch.zeros(2)], [torch.zeros(2), torch.zeros(2)], backend="torch")
    with pytest.raises(ValueError, match="accumulator"):
        accumulate_grad_sqnorm(torch.zeros(2), torch.zeros(3), backend="torch")
