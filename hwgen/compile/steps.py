"""The FINN front end as named steps, FINN style: each step is a function (model, ctx) -> model
composed of qonnx/FINN transformations (and hwgen's own, in transforms.py).

Steps up to `dataflow_partition` work on the whole graph; from there on, on the partition's inner
model (the accelerator); the nodes left outside become software.json.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hwgen.compile import checks

DEFAULT_FIFO_DEPTH = 32  # words; the RTL stitcher re-sizes FIFOs from simulation


@dataclass
class StepContext:
    out_dir: Path
    fpgapart: str
    clock_mhz: float
    fold: object  # callable(model) -> (model, folding info dict), chosen by compile_model
    parent: object = None  # the whole graph with the partition node, set by dataflow_partition
    folding_info: dict = field(default_factory=dict)


def step_tidy_up(model, ctx):
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames, RemoveStaticGraphInputs
    from qonnx.transformation.infer_datatypes import InferDataTypes
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.util.cleanup import cleanup_model

    model = cleanup_model(model)
    for transformation in (InferShapes(), FoldConstants(), GiveUniqueNodeNames(), GiveReadableTensorNames(),
                           InferDataTypes(), RemoveStaticGraphInputs()):
        model = model.transform(transformation)
    return model


def step_convert_qonnx_to_finn(model, ctx):
    from finn.transformation.qonnx.convert_qonnx_to_finn import ConvertQONNXtoFINN

    return model.transform(ConvertQONNXtoFINN())


def step_streamline(model, ctx):
    """Move the float scales and biases into thresholds; what is left at the end (the final layer's
    scale Mul and bias Add) runs on the host."""
    import finn.transformation.streamline.absorb as absorb
    import finn.transformation.streamline.reorder as reorder
    from finn.transformation.streamline import Streamline

    model = model.transform(reorder.MoveScalarLinearPastFork())  # a head fork would keep float MatMuls
    model = model.transform(absorb.AbsorbSignBiasIntoMultiThreshold())
    model = model.transform(Streamline())
    model = model.transform(absorb.AbsorbScalarBiasIntoMultiThreshold())
    return model.transform(Streamline())


def step_lower_convolutions(model, ctx):
    """Conv -> Im2Col + MatMul in NHWC; the input transpose NCHW->NHWC ends up in front (host side)."""
    import finn.transformation.streamline.absorb as absorb
    from finn.transformation.streamline import Streamline
    from finn.transformation.streamline.reorder import MakeMaxPoolNHWC
    from qonnx.transformation.general import RemoveUnusedTensors
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.lower_convs_to_matmul import LowerConvsToMatMul

    model = model.transform(LowerConvsToMatMul())
    model = model.transform(MakeMaxPoolNHWC())
    model = model.transform(absorb.AbsorbTransposeIntoMultiThreshold())
    model = model.transform(MakeMaxPoolNHWC())
    model = model.transform(absorb.AbsorbConsecutiveTransposes())
    model = model.transform(Streamline())
    model = model.transform(InferDataLayouts())
    return model.transform(RemoveUnusedTensors())


def step_convert_to_hw(model, ctx):
    """HW layers with standalone thresholds (FINN's RTL MVAU has no embedded activation), then the
    fail-fast check that everything between input and output became a HW layer."""
    from finn.transformation.fpgadataflow.convert_to_hw.conv_inp_gen import InferConvInpGen
    from finn.transformation.fpgadataflow.convert_to_hw.quantized_matrix_vector_activation import (
        InferQuantizedMatrixVectorActivation,
    )
    from finn.transformation.fpgadataflow.convert_to_hw.thresholding import InferThresholdingLayer
    from finn.transformation.move_reshape import RemoveCNVtoFCFlatten
    from qonnx.transformation.general import GiveUniqueNodeNames
    from qonnx.transformation.infer_data_layouts import InferDataLayouts
    from qonnx.transformation.infer_datatypes import InferDataTypes

    from hwgen.compile.transforms import PreferRTL

    for transformation in (InferThresholdingLayer(), InferQuantizedMatrixVectorActivation(), InferConvInpGen(),
                           RemoveCNVtoFCFlatten(), InferDataLayouts(), InferDataTypes(), GiveUniqueNodeNames(),
                           PreferRTL()):
        model = model.transform(transformation)
    checks.check_hw_conversion(model)
    return model


def step_dataflow_partition(model, ctx):
    """Exactly one partition; from here on the steps work on the accelerator (the inner model)."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from finn.transformation.fpgadataflow.create_dataflow_partition import CreateDataflowPartition

    ctx.parent = model.transform(CreateDataflowPartition())
    partition = checks.check_partitions(ctx.parent)
    inner = ModelWrapper(getCustomOp(partition).get_nodeattr("model"))
    checks.check_partition_io(inner)
    return inner


def step_specialize_layers(model, ctx):
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers

    model = model.transform(SpecializeLayers(ctx.fpgapart))
    checks.check_all_rtl(model, ctx.fpgapart)
    return model


def step_folding(model, ctx):
    model, ctx.folding_info = ctx.fold(model)
    return model


def step_minimize_bit_width(model, ctx):
    """Narrow weights and accumulators to what the values need; thresholds follow (FINN's step)."""
    from finn.transformation.fpgadataflow.minimize_accumulator_width import MinimizeAccumulatorWidth
    from finn.transformation.fpgadataflow.minimize_weight_bit_width import MinimizeWeightBitWidth
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds
    from qonnx.transformation.infer_datatypes import InferDataTypes

    for transformation in (MinimizeWeightBitWidth(), MinimizeAccumulatorWidth(), InferDataTypes(),
                           RoundAndClipThresholds()):
        model = model.transform(transformation)
    checks.check_all_rtl(model, ctx.fpgapart)
    return model


def step_fifos_and_width_converters(model, ctx):
    from finn.transformation.fpgadataflow.insert_dwc import InsertDWC
    from finn.transformation.fpgadataflow.insert_fifo import InsertFIFO
    from finn.transformation.fpgadataflow.specialize_layers import SpecializeLayers
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames

    from hwgen.compile.transforms import PreferRTL, SetDefaultFIFODepth

    for transformation in (SetDefaultFIFODepth(DEFAULT_FIFO_DEPTH), InsertDWC(),
                           InsertFIFO(create_shallow_fifos=True), PreferRTL(), SpecializeLayers(ctx.fpgapart),
                           GiveUniqueNodeNames(), GiveReadableTensorNames()):
        model = model.transform(transformation)
    checks.check_all_rtl(model, ctx.fpgapart)
    return model


def step_generate_rtl(model, ctx):
    """Every node's RTL into DIR/ip/<node>; Python execution (cppsim falls back to FINN's Python model)."""
    from finn.transformation.fpgadataflow.set_exec_mode import SetExecMode
    from finn.transformation.streamline.round_thresholds import RoundAndClipThresholds

    from hwgen.compile.transforms import GenerateNodeRTL

    model = model.transform(RoundAndClipThresholds())  # FINN's RTL thresholding needs rounded thresholds
    model = model.transform(GenerateNodeRTL(ctx.out_dir / "ip", ctx.fpgapart, 1e3 / ctx.clock_mhz))
    return model.transform(SetExecMode("cppsim"))


STEPS = [
    ("tidy_up", step_tidy_up),
    ("convert_qonnx_to_finn", step_convert_qonnx_to_finn),
    ("streamline", step_streamline),
    ("lower_convolutions", step_lower_convolutions),
    ("convert_to_hw", step_convert_to_hw),
    ("dataflow_partition", step_dataflow_partition),
    ("specialize_layers", step_specialize_layers),
    ("folding", step_folding),
    ("minimize_bit_width", step_minimize_bit_width),
    ("fifos_and_width_converters", step_fifos_and_width_converters),
    ("generate_rtl", step_generate_rtl),
]
