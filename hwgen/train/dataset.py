"""Tubs -> model-input tensors, split into training and validation by recording session (episode).

Frames of one session are strongly correlated, so a frame-level split would leak; the validation
set is whole sessions, chosen by a seeded shuffle of the sorted session ids (deterministic). With a
single session the last `val_fraction` of its frames (one contiguous block) is used instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwgen.errors import HwgenError


@dataclass
class Split:
    """uint8 (N, 3, H, W) frames, int64 steering classes, float32 throttles, for train and validation."""

    train_frames: np.ndarray
    train_classes: np.ndarray
    train_throttle: np.ndarray
    val_frames: np.ndarray
    val_classes: np.ndarray
    val_throttle: np.ndarray
    val_sessions: list[str]
    train_sessions: list[str]


def validation_mask(sessions: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, list[str]]:
    """Boolean mask of validation frames and the validation session ids (see module doc)."""
    unique = sorted(set(sessions.tolist()))
    if len(unique) == 1:
        n_val = max(1, int(round(len(sessions) * val_fraction)))
        mask = np.zeros(len(sessions), bool)
        mask[len(sessions) - n_val:] = True
        return mask, [f"{unique[0]} (last {n_val} frames)"]
    order = np.random.default_rng(seed).permutation(len(unique))
    n_val = min(len(unique) - 1, max(1, math.ceil(len(unique) * val_fraction)))
    val_sessions = sorted(unique[i] for i in order[:n_val])
    return np.isin(sessions, val_sessions), val_sessions


def load_split(tubs: list[str], spec: dict, val_fraction: float = 0.2, seed: int = 0) -> Split:
    """Read tubs, convert frames to the preset's input (crop, resize, NCHW uint8), split by session."""
    from hwgen.data import steering_classes
    from hwgen.data.frames import to_model_input
    from hwgen.data.tub import read_tubs

    data = read_tubs(tubs, progress=True)
    if len(data) < 2:
        raise HwgenError(f"{', '.join(tubs)}: {len(data)} usable record(s); training needs at least 2")
    frames = to_model_input(data.images, tuple(spec["input"][1:]), spec["crop_top"], spec["crop_bottom"])
    classes = steering_classes(data.angle)
    throttle = np.asarray(data.throttle, np.float32)
    val, val_sessions = validation_mask(np.asarray(data.session), val_fraction, seed)
    train_sessions = sorted(set(np.asarray(data.session)[~val].tolist()))
    return Split(frames[~val], classes[~val], throttle[~val], frames[val], classes[val], throttle[val],
                 val_sessions, train_sessions)
