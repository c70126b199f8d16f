"""Shared fixtures: one calibrated tiny network, exported and compiled once per test session."""
import numpy as np
import pytest

from hwgen.models.calibrate import calibrated_model


@pytest.fixture(scope="session")
def tiny_export(tmp_path_factory):
    """model.onnx + golden/ of the tiny preset on 12 random frames."""
    from hwgen.export import export_model

    frames = np.random.default_rng(7).integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    out = tmp_path_factory.mktemp("tiny_export")
    export_model(calibrated_model("tiny", frames), frames, out, check_frames=0)
    return out


@pytest.fixture(scope="session")
def tiny_build(tiny_export, tmp_path_factory):
    """The tiny export compiled for pynq-z2 (stitched RTL included). Tests must not change what
    compile wrote; verify and drive runs may add their results (verify_rtl.json, verify/) and the
    Verilator model (sim_build/, shared so it is built once): a test that needs an unverified build
    copies it without those (as test_report does)."""
    from hwgen.compile import compile_model

    out = tmp_path_factory.mktemp("tiny_build")
    compile_model(tiny_export / "model.onnx", "pynq-z2", out, progress=False)
    return out
