"""Whole-network RTL verification of the tiny accelerator against the PyTorch model."""
import json
import shutil

import numpy as np
import pytest

from hwgen.errors import HwgenError
from hwgen.verify import verify_rtl


def test_tiny_accelerator_is_bit_exact_under_stalls(tiny_build):
    result = verify_rtl(tiny_build, stall=0.2, seed=1)
    assert result["passed"], result
    assert result["frames"] == 12 and result["mismatch_count"] == 0
    assert result["tlast_errors"] == 0 and not result["stalled"]
    compiled = json.loads((tiny_build / "compile.json").read_text())
    # the first frames run without stalls: the measured II is the design's own
    assert abs(result["ii_cycles"] - compiled["expected_ii_cycles"]) <= 0.1 * compiled["expected_ii_cycles"]
    assert result["latency_cycles"] >= result["ii_cycles"]
    assert json.loads((tiny_build / "verify_rtl.json").read_text()) == result


def test_user_frames_in_nhwc_with_their_expected_outputs(tiny_build, tiny_export, tmp_path):
    frames = np.load(tiny_export / "golden" / "input.npy")[:4]
    expected = np.load(tiny_export / "golden" / "expected.npy")[:4]
    np.save(tmp_path / "x.npy", frames.transpose(0, 2, 3, 1))
    np.save(tmp_path / "y.npy", expected)
    assert verify_rtl(tiny_build, tmp_path / "x.npy", tmp_path / "y.npy", stall=0.0)["passed"]

    wrong = expected.copy()
    wrong[2, 1] += 0.5
    np.save(tmp_path / "y.npy", wrong)
    result = verify_rtl(tiny_build, tmp_path / "x.npy", tmp_path / "y.npy", stall=0.0)
    assert not result["passed"]
    assert result["mismatches"] == [{"frame": 2, "index": 1, "expected": float(wrong[2, 1]),
                                     "got": float(expected[2, 1])}]


def test_corrupted_weight_memory_is_caught(tiny_export, tmp_path):
    """Flip bits in one MVAU's weight image: the RTL no longer matches PyTorch."""
    from hwgen.compile import compile_model

    compile_model(tiny_export / "model.onnx", "pynq-z2", tmp_path, progress=False)
    weights = sorted((tmp_path / "ip").rglob("memblock.dat"))
    assert weights, "compile wrote no weight memories"
    lines = weights[0].read_text().split()
    lines = [f"{int(v, 16) ^ 0x5:0{len(v)}x}" for v in lines]
    weights[0].write_text("\n".join(lines) + "\n")
    result = verify_rtl(tmp_path, stall=0.1)
    assert not result["passed"] and result["mismatch_count"] > 0


def test_bad_inputs_are_clear_errors(tiny_build, tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 10, 10), np.uint8))
    np.save(tmp_path / "y.npy", np.zeros((2, 4), np.float32))
    with pytest.raises(HwgenError, match=r"x\.npy: frames of shape"):
        verify_rtl(tiny_build, tmp_path / "x.npy", tmp_path / "y.npy")
    np.save(tmp_path / "x.npy", np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(HwgenError, match="must be uint8"):
        verify_rtl(tiny_build, tmp_path / "x.npy", tmp_path / "y.npy")
    with pytest.raises(HwgenError, match="compile.json: missing"):
        verify_rtl(tmp_path)


def test_a_stalled_pipeline_is_reported_with_the_stuck_stream(tiny_build, tmp_path):
    """Kill the handshake of the node after the first FIFO in a copy of the RTL (it neither takes
    data nor says it is ready): the watchdog stops the run and names the stream that stopped."""
    build = tmp_path / "build"
    shutil.copytree(tiny_build, build, symlinks=True)
    top = build / "rtl" / "hwgen_top.sv"
    text = top.read_text()
    consumer = json.loads((build / "rtl" / "hwgen_top.json").read_text())["blocks"][3]["node"]
    for port in (".in0_V_TVALID(st3_tvalid)", ".in0_V_TREADY(st3_tready)"):
        assert port in text
    text = text.replace(".in0_V_TVALID(st3_tvalid)", ".in0_V_TVALID(1'b0)")
    text = text.replace(".in0_V_TREADY(st3_tready)", ".in0_V_TREADY()")
    top.write_text(text.replace("endmodule", "    assign st3_tready = 1'b0;\nendmodule"))
    result = verify_rtl(build, stall=0.0, frames=2)
    assert not result["passed"] and result["stalled"] and result["mismatch_count"] is None
    stuck = {s["stream"]: s for s in result["stall_report"]}
    assert stuck[f"{consumer} input"]["tvalid"] and not stuck[f"{consumer} input"]["tready"]
