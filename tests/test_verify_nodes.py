"""Per-node RTL checks on the tiny accelerator: each node type alone against FINN's Python execution."""
import json
import os
import shutil

import pytest
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.custom_op.registry import getCustomOp

from hwgen.errors import HwgenError
from hwgen.verify.nodes import verify_nodes

TINY_NODE_TYPES = {"StreamingFIFO_rtl", "ConvolutionInputGenerator_rtl", "MVAU_rtl", "Thresholding_rtl"}


def _first_of_each_type(build):
    nodes = {}
    for node in ModelWrapper(str(build / "dataflow.onnx")).graph.node:
        nodes.setdefault(node.op_type, node.name)
    return nodes


def test_every_node_type_matches_finn_under_stalls(tiny_build):
    nodes = _first_of_each_type(tiny_build)
    assert set(nodes) == TINY_NODE_TYPES  # the tiny preset has no width converter or padding
    result = verify_nodes(tiny_build, list(nodes.values()), frames=2, stall=0.3, seed=3, progress=False)
    assert result["passed"] and result["failed_nodes"] == [], result
    for entry in result["nodes"]:
        assert entry["mismatch_count"] == 0 and entry["tlast_errors"] == 0, entry
        assert entry["input_range"][1] > entry["input_range"][0]  # random data, not a constant
        assert entry["sim_cycles"] > 0
    assert json.loads((tiny_build / "verify_nodes.json").read_text()) == result


def test_a_corrupted_threshold_memory_is_reported_as_that_node(tiny_build, tmp_path):
    """Shift one Thresholding node's thresholds in a copy of the build: only that node fails."""
    build = tmp_path / "build"
    shutil.copytree(tiny_build, build, symlinks=True,
                    ignore=shutil.ignore_patterns("sim_build", "verify", "verify_nodes*", "stages"))
    os.symlink(tiny_build / "sim_build", build / "sim_build")  # same RTL: reuse the compiled simulators
    victim = "Thresholding_rtl_1"
    model = ModelWrapper(str(build / "dataflow.onnx"))
    getCustomOp(model.get_node_from_name(victim)).set_nodeattr("code_gen_dir_ipgen", str(build / "ip" / victim))
    model.save(str(build / "dataflow.onnx"))
    memory = build / "ip" / victim / f"{victim}_threshs_0_0.dat"
    words = memory.read_text().split()
    memory.write_text("".join(f"{int(w, 16) + 0x40:0{len(w)}x}\n" for w in words))

    result = verify_nodes(build, ["MVAU_rtl_1", victim], frames=2, stall=0.3, progress=False)
    assert result["failed_nodes"] == [victim] and not result["passed"]
    failed = result["nodes"][1]
    assert failed["mismatch_count"] > 0 and failed["mismatches"][0]["got"] != failed["mismatches"][0]["expected"]


def test_unknown_node_is_a_clear_error(tiny_build):
    with pytest.raises(HwgenError, match=r"dataflow\.onnx: no node NoSuchNode_rtl_0"):
        verify_nodes(tiny_build, ["NoSuchNode_rtl_0"], progress=False)
