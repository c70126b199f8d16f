"""Untrained but input-dependent models, for tests and benchmarks of the hardware flow."""
from __future__ import annotations

import numpy as np


def calibrated_model(preset, frames: np.ndarray, seed: int = 0, passes: int = 3, **overrides):
    """`build_model(preset)` with BatchNorm statistics and activation scales set by a few
    training-mode passes over uint8 NCHW `frames`: an untrained network's outputs are constant,
    which would make a bit-exactness check meaningless."""
    import torch

    from hwgen.models import build_model

    torch.manual_seed(seed)
    model = build_model(preset, **overrides).train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.from_numpy(frames).float())
    return model.eval()
