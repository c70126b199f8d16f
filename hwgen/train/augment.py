"""Augmentation of uint8 model-input frames: random shift, small rotation, brightness.

Works on a batch tensor (N, 3, H, W) of pixel values 0..255 and returns whole pixel values 0..255
again, so training sees the same kind of input as the hardware (8-bit pixels).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

MAX_SHIFT = 0.05  # of the image size, each direction
MAX_ROTATION_DEG = 3.0
BRIGHTNESS = (0.75, 1.25)  # pixel value multiplier range


def augment(frames: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Randomly shifted, rotated and brightened copy of `frames` (float, whole values 0..255)."""
    n = frames.shape[0]
    x = frames.float()

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(n, generator=generator) * (high - low) + low

    angle = uniform(-MAX_ROTATION_DEG, MAX_ROTATION_DEG) * math.pi / 180
    shift_x, shift_y = uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT), uniform(-2 * MAX_SHIFT, 2 * MAX_SHIFT)  # grid units: 2 = image
    theta = torch.stack([
        torch.stack([angle.cos(), -angle.sin(), shift_x], 1),
        torch.stack([angle.sin(), angle.cos(), shift_y], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    x = x * uniform(*BRIGHTNESS).view(n, 1, 1, 1)
    return x.round().clamp(0, 255)
