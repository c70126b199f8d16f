"""QONNX export: the exported graph, executed by qonnx, reproduces the PyTorch model on the golden frames."""
import json

import numpy as np
import pytest
import torch

from hwgen.errors import HwgenError
from hwgen.export import export_model, run_qonnx
from hwgen.models import build_model
from hwgen.models.calibrate import calibrated_model


@pytest.mark.parametrize("overrides", [{}, {"weight_bits": 2, "act_bits": 2}, {"weight_bits": 8, "act_bits": 8}])
def test_qonnx_execution_matches_pytorch(tmp_path, overrides):
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8)
    model = calibrated_model("tiny", frames, **overrides)
    info = export_model(model, frames, tmp_path, check_frames=0)

    golden_in = np.load(tmp_path / "golden" / "input.npy")
    expected = np.load(tmp_path / "golden" / "expected.npy")
    assert golden_in.dtype == np.uint8 and np.array_equal(golden_in, frames)
    assert expected.dtype == np.float32 and expected.shape == (12, 4)
    with torch.no_grad():
        torch_out = model(torch.from_numpy(frames)).numpy()
    np.testing.assert_array_equal(expected, torch_out)
    np.testing.assert_allclose(run_qonnx(tmp_path / "model.onnx", frames), expected, rtol=1e-5, atol=1e-6)

    written = json.loads((tmp_path / "export.json").read_text())
    assert written == info
    assert written["input"]["layout"] == "NCHW uint8" and written["input"]["shape"] == [1, 3, 32, 32]
    assert written["output_split"] == {"steering": [0, 3], "throttle": [3, 4]}
    assert written["class_names"] == ["left", "straight", "right"]
    assert written["golden"]["frames"] == 12
    assert written["weight_bits"] == overrides.get("weight_bits", 4)


def test_exported_graph_is_qonnx_with_uint8_input(tmp_path):
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper

    frames = np.random.default_rng(2).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    export_model(calibrated_model("tiny", frames), frames, tmp_path, check_frames=4)
    model = ModelWrapper(str(tmp_path / "model.onnx"))
    assert model.get_tensor_datatype(model.graph.input[0].name) == DataType["UINT8"]
    ops = [node.op_type for node in model.graph.node]
    assert ops.count("Conv") == 5 and ops.count("MatMul") + ops.count("Gemm") == 2
    assert "Quant" in ops
    # the input feeds the first convolution directly: no input quantizer, no pre-scaling
    consumers = model.find_consumers(model.graph.input[0].name)
    assert [node.op_type for node in consumers] == ["Conv"]


def test_pilotnet_w4a4_export_matches(tmp_path):
    frames = np.random.default_rng(3).integers(0, 256, (6, 3, 66, 200), dtype=np.uint8)
    info = export_model(calibrated_model("pilotnet-w4a4", frames), frames, tmp_path, check_frames=6)
    assert info["qonnx_check"]["passed"] and info["qonnx_check"]["frames"] == 6


def test_bad_golden_frames_are_rejected(tmp_path):
    with pytest.raises(HwgenError, match="uint8"):
        export_model(build_model("tiny"), np.zeros((2, 3, 32, 32), np.float32), tmp_path)
