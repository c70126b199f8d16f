"""hwgen drive: the control loop, and torch vs RTL (hardware in the loop) agreeing on every decision."""
import json

import numpy as np
import pytest

from hwgen.drive import CLASS_ANGLE, RtlEngine, TorchEngine, decides, decode, drive
from hwgen.errors import HwgenError
from hwgen.models.calibrate import calibrated_model


def test_decisions_are_20_per_simulated_second_after_the_intro():
    from hwgen.data.carracing import FPS, INTRO_STEPS

    steps = [s for s in range(1, INTRO_STEPS + 2 * FPS + 1) if decides(s)]
    assert steps[:5] == [INTRO_STEPS + 1, INTRO_STEPS + 4, INTRO_STEPS + 6, INTRO_STEPS + 9, INTRO_STEPS + 11]
    assert len(steps) == 40  # two simulated seconds
    assert max(b - a for a, b in zip(steps, steps[1:])) == 3


def test_decode_takes_the_best_class_and_clips_the_throttle():
    assert decode(np.array([0.1, 0.2, 3.0, 1.7], np.float32)) == (2, CLASS_ANGLE[2], 1.0)
    assert decode(np.array([5.0, 0.2, 3.0, -0.2], np.float32)) == (0, CLASS_ANGLE[0], 0.0)


def test_expert_drives_through_the_same_loop(tmp_path):
    r = drive(None, episodes=1, seed=0, max_steps=150, out_dir=tmp_path, progress=lambda line: None)
    assert r["engine"] == "expert" and r["episodes"][0]["steps"] == 150
    assert r["episodes"][0]["decisions"] == 40 and r["episodes"][0]["tiles_visited"] > 10
    assert json.loads((tmp_path / "drive.json").read_text()) == r


def test_rtl_in_the_loop_agrees_with_torch_on_every_decision(tiny_export, tiny_build, tmp_path):
    """The tiny build (random-frame calibrated, not trained) drives; PyTorch sees every frame too."""
    golden = np.load(tiny_export / "golden" / "input.npy")
    model = calibrated_model("tiny", golden)  # the model tiny_export was exported from
    torch_engine = TorchEngine(model)
    assert np.allclose(torch_engine.outputs(golden[0]), np.load(tiny_export / "golden" / "expected.npy")[0],
                       rtol=1e-5, atol=1e-6)
    rtl = RtlEngine(tiny_build, tmp_path / "rtl")
    r = drive(rtl, episodes=1, seed=3, max_steps=70, reference=torch_engine, out_dir=tmp_path,
              progress=lambda line: None)
    a = r["agreement"]
    assert a["reference"] == "torch" and a["decisions"] == r["decisions"] == 8
    assert a["same_steering_class"] == a["same_outputs"] == 8
    assert r["rtl"]["frames"] == 8 and r["rtl"]["latency_cycles_min"] > 0


def test_rtl_engine_is_checked_against_a_corrupted_reference(tiny_build, tmp_path):
    """Agreement counting can fail: a reference that answers differently is not counted as agreeing."""
    class Shifted:
        name = "shifted"

        def outputs(self, frame):
            return np.array([9.0, 0.0, 0.0, 0.5], np.float32)

    rtl = RtlEngine(tiny_build, tmp_path / "rtl")
    r = drive(rtl, episodes=1, seed=3, max_steps=55, reference=Shifted(), progress=lambda line: None)
    assert r["agreement"]["decisions"] == 2 and r["agreement"]["same_outputs"] == 0


def test_missing_model_folders_are_clear_errors(tmp_path):
    from hwgen.drive import model_engine

    with pytest.raises(HwgenError, match="no such folder"):
        model_engine("rtl", tmp_path / "nothing", tmp_path)
    with pytest.raises(HwgenError, match="compile.json: missing"):
        model_engine("rtl", tmp_path, tmp_path)
    with pytest.raises(HwgenError, match="run.json: missing"):
        model_engine("torch", tmp_path, tmp_path)
