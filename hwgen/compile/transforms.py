"""hwgen's own small graph rewrites (qonnx Transformations), used by the compile steps."""
from __future__ import annotations

import shutil
from pathlib import Path

from qonnx.custom_op.registry import getCustomOp
from qonnx.transformation.base import Transformation

from finn.util.fpgadataflow import is_fpgadataflow_node


def hw_nodes(model):
    return [node for node in model.graph.node if is_fpgadataflow_node(node)]


class PreferRTL(Transformation):
    """Ask SpecializeLayers for the RTL variant of every HW layer: HLS cannot be built or simulated here."""

    def apply(self, model):
        for node in hw_nodes(model):
            getCustomOp(node).set_nodeattr("preferred_impl_style", "rtl")
        return model, False


class SetDefaultFIFODepth(Transformation):
    """Give every stream between two layers a FIFO of `depth` words when InsertFIFO runs.

    FINN's default (2) makes every rate mismatch between layers a stall; the RTL stitcher re-sizes
    FIFOs from simulation, this is only a sensible start."""

    def __init__(self, depth: int):
        super().__init__()
        self.depth = depth

    def apply(self, model):
        for node in hw_nodes(model):
            inst = getCustomOp(node)
            inst.set_nodeattr("inFIFODepths", [self.depth] * len(inst.get_nodeattr("inFIFODepths")))
            inst.set_nodeattr("outFIFODepths", [self.depth] * len(inst.get_nodeattr("outFIFODepths")))
        return model, False


class GenerateNodeRTL(Transformation):
    """Generate each HW node's RTL (FINN's code_generation_ipgen, as PrepareIP does) into
    ip_root/<node name>, a stable place the RTL stitcher can find (PrepareIP picks random temp folders)."""

    def __init__(self, ip_root: Path, fpgapart: str, clk_ns: float):
        super().__init__()
        self.ip_root = Path(ip_root).resolve()
        self.fpgapart = fpgapart
        self.clk_ns = clk_ns

    def apply(self, model):
        for node in hw_nodes(model):
            node_dir = self.ip_root / node.name
            shutil.rmtree(node_dir, ignore_errors=True)
            node_dir.mkdir(parents=True)
            inst = getCustomOp(node)
            inst.set_nodeattr("code_gen_dir_ipgen", str(node_dir))
            inst.code_generation_ipgen(model, self.fpgapart, self.clk_ns)
        return model, False
