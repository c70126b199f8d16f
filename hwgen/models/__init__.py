"""The smart-car steering CNN (Brevitas) and its presets.

Importing this package makes Brevitas 0.13 usable on torch 2.13: torch removed named tensors
(`Tensor.rename`), which Brevitas still calls, so it is restored as identity; and Brevitas'
`pkg_resources` deprecation warning is silenced. Every Brevitas user should import hwgen.models first.
"""
import warnings

import torch

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
warnings.filterwarnings("ignore", message="fast_hadamard_transform package not found", category=UserWarning)
if not hasattr(torch.Tensor, "rename"):
    # Brevitas only uses rename() to drop names it set itself; without named tensors that is a no-op.
    torch.Tensor.rename = lambda self, *names, **rename_map: self

from hwgen.models.presets import PRESETS, resolve_preset  # noqa: E402
from hwgen.models.cnn import (  # noqa: E402
    CLASS_NAMES,
    OUTPUT_SPLIT,
    SteeringCNN,
    build_model,
    split_outputs,
)

__all__ = ["PRESETS", "resolve_preset", "CLASS_NAMES", "OUTPUT_SPLIT", "SteeringCNN", "build_model",
           "split_outputs"]
