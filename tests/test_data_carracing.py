"""CarRacing recorder: short episodes into a tub, determinism, the expert drives, action mapping, CLI."""
import json

import numpy as np
import pytest

from hwgen.cli import main
from hwgen.data.carracing import (
    CAMERA_ROWS,
    INTRO_STEPS,
    MAX_SPEED,
    STEER_FULL_LOCK,
    action_from_controls,
    angle_from_steer,
    record,
)
from hwgen.data.tub import read_tubs


def test_short_recording_is_a_loadable_tub_one_session_per_episode(tmp_path):
    summary = record(tmp_path / "tub", episodes=2, seed=5, max_steps=INTRO_STEPS + 20, progress=False)
    assert summary["frames"] == 40 and [e["frames"] for e in summary["episodes"]] == [20, 20]
    assert json.loads((tmp_path / "tub" / "record.json").read_text()) == summary
    assert not list(tmp_path.glob(".*partial"))

    data = read_tubs(tmp_path / "tub")
    assert data.images.shape == (40, CAMERA_ROWS, 96, 3)
    assert np.all(np.abs(data.angle) <= 1) and np.all((data.throttle >= 0) & (data.throttle <= 1))
    assert len(set(data.session[:20])) == 1 and len(set(data.session)) == 2


def test_same_seed_same_labels_other_seed_other_labels(tmp_path):
    steps = INTRO_STEPS + 30
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        record(tmp_path / name, episodes=1, seed=seed, max_steps=steps, progress=False)
    a, b, c = (read_tubs(tmp_path / name) for name in "abc")
    assert np.array_equal(a.angle, b.angle) and np.array_equal(a.throttle, b.throttle)
    assert np.array_equal(a.images, b.images)
    assert not np.array_equal(a.angle, c.angle)



def test_steering_noise_moves_the_car_but_labels_stay_the_experts(tmp_path):
    """With --steer-noise the car drives another line (other frames, further from the centerline),
    deterministically for a seed, and record.json says how much noise was used."""
    steps = INTRO_STEPS + 150
    clean = record(tmp_path / "clean", episodes=1, seed=3, max_steps=steps, progress=False)
    for name in ("noisy", "again"):
        noisy = main(["data", "record", "--sim", "carracing", "--episodes", "1", "--seed", "3", "--max-steps",
                      str(steps), "--steer-noise", "0.3", "--out", str(tmp_path / name)])
        assert noisy == 0
    a, b, c = (read_tubs(tmp_path / name) for name in ("clean", "noisy", "again"))
    assert np.array_equal(b.images, c.images) and np.array_equal(b.angle, c.angle)
    assert not np.array_equal(a.images, b.images)
    summary = json.loads((tmp_path / "noisy" / "record.json").read_text())
    assert summary["steer_noise"] == 0.3 and clean["steer_noise"] == 0.0
    assert summary["episodes"][0]["mean_cross_track"] > clean["episodes"][0]["mean_cross_track"]
    assert np.all(np.abs(b.angle) <= 1)

def test_expert_follows_the_track(tmp_path):
    summary = record(tmp_path / "tub", episodes=1, seed=0, max_steps=300, record_every=10, progress=False)
    episode = summary["episodes"][0]
    # 300 steps = 6 s; the expert averages ~60 units/s on tiles ~3.5 units long
    assert episode["tiles_visited"] >= 60
    assert episode["mean_cross_track"] < 2.0 and episode["max_cross_track"] < 6.0  # half-width 6.67
    # CarRacing pays 1000/N per tile and -0.1 per step; the summary must add rewards up the same way
    expected = 1000 * episode["tiles_visited"] / episode["tiles_total"] - 0.1 * episode["steps"]
    assert episode["reward"] == pytest.approx(expected, abs=0.05)


def test_controls_to_action_mapping():
    assert angle_from_steer(0.2) == pytest.approx(0.5)
    assert angle_from_steer(-1.0) == -1.0  # beyond the wheel's lock
    steer, gas, brake = action_from_controls(-1.0, 0.5, speed=0.0)
    assert steer == pytest.approx(-STEER_FULL_LOCK) and gas == 1.0 and brake == 0.0
    steer, gas, brake = action_from_controls(0.25, 0.5, speed=0.5 * MAX_SPEED + 2)  # within margin: coast
    assert steer == pytest.approx(0.1) and gas == 0.0 and brake == 0.0
    _, gas, brake = action_from_controls(0.0, 0.2, speed=25.0)  # 5 units/s too fast: brake 0.1 * 5
    assert gas == 0.0 and brake == pytest.approx(0.5)
    _, _, brake = action_from_controls(0.0, 0.2, speed=40.0)  # capped below CarRacing's wheel lock
    assert brake == pytest.approx(0.8)


def test_cli_record_then_info(tmp_path, capsys):
    out = tmp_path / "tub"
    assert main(["data", "record", "--sim", "carracing", "--episodes", "1", "--max-steps",
                 str(INTRO_STEPS + 5), "--out", str(out)]) == 0
    assert "wrote 5 frames" in capsys.readouterr().out
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["frames"] == 5 and info["image_hwc"] == [CAMERA_ROWS, 96, 3]
    assert sum(info["classes"][name]["frames"] for name in ("left", "straight", "right")) == 5
    assert main(["data", "info", str(tmp_path / "missing")]) == 1
    assert "missing: no such tub folder" in capsys.readouterr().err
    assert main(["data", "record", "--sim", "carracing", "--episodes", "1", "--out", str(out)]) == 1
