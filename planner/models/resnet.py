"""ResNet-18 and ResNet-50 (He et al. 2016), written out here because torchvision is not a dependency.

The layout and parameter counts match torchvision's `resnet18` (11.7M) and `resnet50` (25.6M)
with 1000 classes; the built-in data uses the first ten (see image_data).
"""

from __future__ import annotations

import torch
from torch import nn

from planner.models.bundle import ModelBundle
from planner.models.image_data import (
    ShapesSource,
    image_batch_maker,
    image_classification_loss,
)

IMAGE = 224


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False), nn.BatchNorm2d(cout)]


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(*_conv_bn(cin, width, 3, stride), nn.ReLU(inplace=True), *_conv_bn(width, width, 3))
        self.shortcut = _shortcut(cin, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.body(x) + self.shortcut(x)).relu_()


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(cin, width, 1), nn.ReLU(inplace=True),
            *_conv_bn(width, width, 3, stride), nn.ReLU(inplace=True),
            *_conv_bn(width, width * self.expansion, 1),
        )
        self.shortcut = _shortcut(cin, width * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.body(x) + self.shortcut(x)).relu_()


def _shortcut(cin: int, cout: int, stride: int) -> nn.Module:
    """Identity when shapes match, else a strided 1x1 projection (torchvision's option B)."""
    return nn.Identity() if stride == 1 and cin == cout else nn.Sequential(*_conv_bn(cin, cout, 1, stride))


class ResNet(nn.Module):
    def __init__(self, block: type[BasicBlock] | type[Bottleneck], depths: tuple[int, ...], classes: int = 1000):
        super().__init__()
        layers: list[nn.Module] = [*_conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        cin = 64
        for stage, depth in enumerate(depths):
            width = 64 * 2**stage
            for i in range(depth):
                layers.append(block(cin, width, stride=2 if i == 0 and stage > 0 else 1))
                cin = width * block.expansion
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(images).mean(dim=(2, 3)))


RESNET_LAYOUTS: dict[str, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]] = {
    "resnet18": (BasicBlock, (2, 2, 2, 2)),
    "resnet50": (Bottleneck, (3, 4, 6, 3)),
}


def resnet_bundle(name: str, image: int = IMAGE) -> ModelBundle:
    block, depths = RESNET_LAYOUTS[name]
    shapes = ShapesSource(image, seed=0)
    return ModelBundle(
        id=name,
        model=ResNet(block, depths),
        make_batch=image_batch_maker(shapes, seed=0),
        loss=image_classification_loss,
        data_kind=shapes.kind,
        data_source=shapes.description,
    )
