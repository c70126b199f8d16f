"""Driving data: DonkeyCar tub v2 read/write (tub), model input pre-processing (frames), the
CarRacing expert recorder (carracing) and the `hwgen data` command (cli).

Steering classes for the classification head: the continuous angle (DonkeyCar ``user/angle``,
-1 = full left, +1 = full right) is kept; its class is LEFT when angle < -STRAIGHT_MAX_ABS_ANGLE,
RIGHT when angle > STRAIGHT_MAX_ABS_ANGLE, STRAIGHT otherwise (|angle| <= the threshold).
"""
from __future__ import annotations

LEFT, STRAIGHT, RIGHT = 0, 1, 2
CLASS_NAMES = ("left", "straight", "right")
# |angle| at or below this is "straight": 0.1 of full lock, 2.3 degrees of wheel angle in CarRacing
# (full lock 0.4 rad). On 3 expert laps (seeds 0-2) it gives left 31%, straight 52%, right 17%.
STRAIGHT_MAX_ABS_ANGLE = 0.1


def steering_class(angle: float) -> int:
    """0 = left, 1 = straight, 2 = right for one angle (thresholds: STRAIGHT_MAX_ABS_ANGLE)."""
    if angle < -STRAIGHT_MAX_ABS_ANGLE:
        return LEFT
    if angle > STRAIGHT_MAX_ABS_ANGLE:
        return RIGHT
    return STRAIGHT


def steering_classes(angles):
    """steering_class for an array of angles: int64 array of the same shape."""
    import numpy as np

    angles = np.asarray(angles)
    return np.where(angles < -STRAIGHT_MAX_ABS_ANGLE, LEFT,
                    np.where(angles > STRAIGHT_MAX_ABS_ANGLE, RIGHT, STRAIGHT)).astype(np.int64)
