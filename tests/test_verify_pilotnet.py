"""Heavy: pilotnet-w4a4 for pynq-z2, FIFOs sized by simulation, 32 frames bit-exact under stalls at
the expected II; every node type it uses (width converters and SIMD > 1 adder trees included)
checked alone against FINN's Python execution."""
import json

import numpy as np
import pytest
from qonnx.core.modelwrapper import ModelWrapper


@pytest.mark.heavy
def test_pilotnet_w4a4_verifies_32_frames_under_stalls(tmp_path):
    from hwgen.compile import compile_model
    from hwgen.export import export_model
    from hwgen.models.calibrate import calibrated_model
    from hwgen.verify import verify_rtl
    from hwgen.verify.fifos import size_fifos
    from hwgen.verify.nodes import verify_nodes

    frames = np.random.default_rng(5).integers(0, 256, (32, 3, 66, 200), dtype=np.uint8)
    export_model(calibrated_model("pilotnet-w4a4", frames), frames, tmp_path / "export", check_frames=0)
    build = tmp_path / "build"
    compiled = compile_model(tmp_path / "export" / "model.onnx", "pynq-z2", build, verify_frames=2, progress=False)

    sizing = size_fifos(build)
    assert sizing["ii_cycles_sized"] <= 1.1 * compiled["expected_ii_cycles"], sizing
    result = verify_rtl(build, frames=32, stall=0.3, seed=4)
    assert result["passed"] and result["frames"] == 32 and result["mismatch_count"] == 0, result
    assert result["ii_cycles"] <= 1.1 * compiled["expected_ii_cycles"], result
    depths = json.loads((build / "fifo_depths.json").read_text())
    assert depths["sufficient"] and depths["sizing"]["ii_cycles_sized"] == sizing["ii_cycles_sized"]

    nodes = {}  # the first of each type; MVAU_rtl_0 has SIMD 5, so its adder tree is rtl/add_multi.sv
    for node in ModelWrapper(str(build / "dataflow.onnx")).graph.node:
        nodes.setdefault(node.op_type, node.name)
    assert "StreamingDataWidthConverter_rtl" in nodes
    checked = verify_nodes(build, list(nodes.values()), frames=2, stall=0.3, progress=False)
    assert checked["passed"], checked["failed_nodes"]
