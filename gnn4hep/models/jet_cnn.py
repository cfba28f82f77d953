"""Jet-image CNN of DeepTop (Kasieczka, Plehn, Russell, Schell, arXiv:1701.08784).

    image (1, 40, 40) → [conv 4×4, 8 maps, ReLU] ×2 → max-pool 2×2 → [conv 4×4, 8 maps, ReLU] ×2
    → flatten → FC 64 → FC 256 → FC 256 (ReLU) → FC classes

Images come from :func:`gnn4hep.jets.images.jet_images` (centred, rotated, flipped, normalised).
"""

from __future__ import annotations

from torch import Tensor, nn


class JetImageCNN(nn.Module):
    """DeepTop CNN.

    Args:
        image_size: pixels per side (40 in DeepTop).
        maps: feature maps per convolution (8).
        kernel: convolution kernel size (4).
        fc_sizes: fully connected widths (64, 256, 256).
        num_classes: output logits.

    Shapes: ``images`` (B, 1, S, S) -> logits (B, classes).
    """

    input_names = ("images",)

    def __init__(self, *, image_size: int = 40, maps: int = 8, kernel: int = 4,
                 fc_sizes: tuple[int, ...] = (64, 256, 256), num_classes: int = 2):
        super().__init__()
        # "same" padding, asymmetric for even kernels (as Keras pads), without torch's copy warning
        pad = ((kernel - 1) // 2, kernel // 2, (kernel - 1) // 2, kernel // 2)
        conv = (lambda c_in: [nn.ZeroPad2d(pad), nn.Conv2d(c_in, maps, kernel), nn.ReLU()])
        self.features = nn.Sequential(*conv(1), *conv(maps), nn.MaxPool2d(2), *conv(maps), *conv(maps))
        layers: list[nn.Module] = [nn.Flatten()]
        previous = maps * (image_size // 2) ** 2
        for size in fc_sizes:
            layers += [nn.Linear(previous, size), nn.ReLU()]
            previous = size
        layers.append(nn.Linear(previous, num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, images: Tensor) -> Tensor:
        return self.classifier(self.features(images))
