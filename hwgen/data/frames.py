"""Host-side pre-processing: camera frames -> the 8-bit pixels the network (and the hardware) consumes.

Everything stays uint8: crop rows, resize with PIL's bilinear filter (area-aware when shrinking),
and reorder to channels-first. Normalization is folded into the network, so the accelerator needs
no float pre-processing; training, export golden frames and closed-loop driving all call this one
function so they see identical pixels.
"""
from __future__ import annotations

import numpy as np

from hwgen.errors import HwgenError


def to_model_input(images: np.ndarray, input_hw: tuple[int, int], crop_top: int = 0,
                   crop_bottom: int = 0) -> np.ndarray:
    """Crop and resize frames to the model input.

    images: (N, H, W, 3) or one frame (H, W, 3), uint8 RGB. input_hw: (height, width) of the model
    input, e.g. (66, 200) for PilotNet, (120, 160) for the donkey preset. crop_top / crop_bottom:
    rows removed first (sky at the top; e.g. a dashboard at the bottom). Returns uint8 (N, 3, h, w),
    or (3, h, w) for a single frame.
    """
    from PIL import Image

    images = np.asarray(images)
    single = images.ndim == 3
    batch = images[None] if single else images
    if batch.ndim != 4 or batch.shape[3] != 3 or batch.dtype != np.uint8:
        raise HwgenError(f"to_model_input: frames must be (N, H, W, 3) or (H, W, 3) uint8, "
                         f"got {images.shape} {images.dtype}")
    height = batch.shape[1]
    if crop_top < 0 or crop_bottom < 0 or crop_top + crop_bottom >= height:
        raise HwgenError(f"to_model_input: crop_top={crop_top} + crop_bottom={crop_bottom} must leave "
                         f"rows of a {height}-row frame")
    out_h, out_w = (int(v) for v in input_hw)
    cropped = batch[:, crop_top:height - crop_bottom]
    if cropped.shape[1:3] == (out_h, out_w):
        resized = cropped
    else:
        resized = np.stack([
            np.asarray(Image.fromarray(frame).resize((out_w, out_h), Image.Resampling.BILINEAR))
            for frame in cropped
        ])
    chw = np.ascontiguousarray(resized.transpose(0, 3, 1, 2))
    return chw[0] if single else chw
