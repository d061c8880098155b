"""collate_images: the kernel against the torch reference and against the formula."""

import pytest
import torch

from kernels import collate_images

MEAN = (0.485, 0.456, 0.406, 0.5)  # ImageNet RGB, plus one for a 4th channel
STD = (0.229, 0.224, 0.225, 0.25)
BF16_ULP = 2.0**-7  # relative spacing of bf16 values
SHAPES = {  # (B, H, W, C); 1024 pixels per program
    "one-pixel": (1, 1, 1, 3),
    "block-1": (2, 31, 33, 3),
    "block": (1, 32, 32, 3),
    "block+1": (1, 1, 1025, 3),
    "grey": (3, 5, 7, 1),
    "rgba": (2, 9, 4, 4),
}


def test_normalises_by_the_formula_in_chw_order():
    images = torch.tensor([[[[0, 255, 51]]]], dtype=torch.uint8)  # one RGB pixel
    out = collate_images(images, MEAN[:3], STD[:3], backend="torch")
    assert out.shape == (1, 3, 1, 1)
    expected = [(v / 255 - m) / s for v, m, s in zip((0, 255, 51), MEAN, STD)]
    torch.testing.assert_close(out.flatten(), torch.tensor(expected), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_kernel_matches_reference(kernel_target, shape, dtype):
    device, backend = kernel_target
    torch.manual_seed(0)
    images = torch.randint(0, 256, shape, dtype=torch.uint8)
    channels = shape[-1]
    ours = collate_images(images, MEAN[:channels], STD[:channels], dtype=dtype, device=device, backend=backend)
    ref = collate_images(images, MEAN[:channels], STD[:channels], dtype=dtype, backend="torch")
    assert ours.shape == (shape[0], channels, shape[1], shape[2])
    assert ours.dtype == dtype and ours.device.type == device.type
    if dtype == torch.float32:
        torch.testing.assert_close(ours.cpu(), ref, atol=1e-6, rtol=1e-6)
    else:  # fp32 intermediates a few ulp apart (GPU division) may round one bf16 ulp apart
        torch.testing.assert_close(ours.cpu().float(), ref.float(), atol=0.0, rtol=BF16_ULP)


def test_rejects_wrong_inputs():
    with pytest.raises(TypeError, match="uint8"):
        collate_images(torch.zeros(1, 2, 2, 3), MEAN[:3], STD[:3], backend="torch")
    with pytest.raises(ValueError, match="3 values"):
        collate_images(torch.zeros(1, 2, 2, 3, dtype=torch.uint8), MEAN[:2], STD[:2], backend="torch")
