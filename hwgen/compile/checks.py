"""Fail-fast checks: stop before the slow steps on anything this flow cannot build into RTL here.

Each check names the node, its op type and what to change in the model.
"""
from __future__ import annotations

from hwgen.compile.software import LAYOUT_OPS, SOFTWARE_OPS
from hwgen.errors import HwgenError

# Ops the front end leaves as plain ONNX when FINN has no RTL layer for them, and what to do instead
ADVICE = {
    "MaxPool": "pooling has only an HLS layer in FINN (StreamingMaxPool/Pool); use a strided convolution instead",
    "MaxPoolNHWC": "pooling has only an HLS layer in FINN (StreamingMaxPool/Pool); use a strided convolution instead",
    "AveragePool": "pooling has only an HLS layer in FINN; use a strided convolution instead",
    "GlobalAveragePool": "global pooling has only an HLS layer in FINN; flatten into a linear layer instead",
    "Concat": "concatenation has only an HLS layer in FINN; use a single branch",
    "Split": "splitting has only an HLS layer in FINN; use one head and split the outputs in software",
    "ArgMax": "LabelSelect (argmax) has only an HLS layer in FINN; keep the argmax on the host (end the model "
              "at the scores)",
    "TopK": "LabelSelect (top-k) has only an HLS layer in FINN; keep it on the host (end the model at the scores)",
    "Add": "a residual add between two streams (AddStreams) or a leftover bias has no RTL layer; drop the "
           "skip connection, or let BatchNorm absorb the bias",
    "MultiThreshold": "an activation whose input is not an integer MatMul/Conv result cannot become a "
                      "Thresholding layer here",
}
# What FINN's RTL MVAU needs (finn.transformation.fpgadataflow.specialize_layers._mvu_rtl_possible)
MVAU_RTL_NEEDS = ("a standalone activation, signed narrow-range weights (Brevitas Int weights with "
                  "narrow_range=True), weights and activations of at least 2 bits and an accumulator that "
                  "fits the DSP datapath (use 4 to 8 bit weights and activations)")


def _float_inputs(model, node) -> list[str]:
    return [name for name in node.input
            if model.get_initializer(name) is None and not model.get_tensor_datatype(name).is_integer()]


def check_hw_conversion(model) -> None:
    """After the HW conversion: the HW layers must form one chain with only layout ops in front and
    host-executable ops (see software.py) behind; anything else would split the partition or stay float."""
    from finn.util.fpgadataflow import is_fpgadataflow_node

    nodes = list(model.graph.node)
    hw_positions = [i for i, node in enumerate(nodes) if is_fpgadataflow_node(node)]
    if not hw_positions:
        raise HwgenError("no layer became a FINN HW layer: the model has no integer-quantized MatMul/Conv "
                         "(is it a Brevitas QONNX export with quantized weights and activations?)")
    first, last = hw_positions[0], hw_positions[-1]
    for i, node in enumerate(nodes):
        if is_fpgadataflow_node(node):
            continue
        if i < first and node.op_type in LAYOUT_OPS:
            continue
        if i > last and node.op_type in SOFTWARE_OPS:
            continue
        where = "in front of the first HW layer" if i < first else ("behind the last HW layer" if i > last
                                                                     else "between HW layers")
        floats = _float_inputs(model, node)
        if node.op_type in ("MatMul", "Conv", "Gemm") and floats:
            why = (f"its input {floats[0]} is float ({model.get_tensor_datatype(floats[0]).name}): the layer "
                   "in front of it has no quantized activation, or a float scale could not be moved past it; "
                   "put a QuantReLU/QuantIdentity in front of it")
        else:
            why = ADVICE.get(node.op_type, "FINN has no RTL layer for it; remove it, or move it to the end of the "
                                           "network where the host can run it")
        raise HwgenError(f"node {node.name} ({node.op_type}) {where} cannot be built into RTL: {why}")


def check_partitions(parent) -> object:
    """Exactly one dataflow partition; returns its node."""
    partitions = [n for n in parent.graph.node if n.op_type == "StreamingDataflowPartition"]
    if len(partitions) != 1:
        raise HwgenError(f"the model splits into {len(partitions)} dataflow partitions; hwgen builds exactly "
                         "one accelerator: remove the non-HW layers between HW layers")
    return partitions[0]


def check_partition_io(inner) -> None:
    """The accelerator's input and output streams carry integers (the host sends raw pixels)."""
    for tensor in (inner.graph.input[0].name, inner.graph.output[0].name):
        dtype = inner.get_tensor_datatype(tensor)
        if not dtype.is_integer():
            raise HwgenError(f"accelerator stream {tensor} is {dtype.name}: the network input must be raw "
                             "integer pixels (annotate it UINT8) and every layer output quantized")


def check_all_rtl(inner) -> None:
    """After specialization: every layer must be an *_rtl variant (HLS needs Vitis, absent here)."""
    from qonnx.custom_op.registry import getCustomOp

    for node in inner.graph.node:
        if node.op_type.endswith("_rtl"):
            continue
        base = node.op_type.removesuffix("_hls")
        if base == "MVAU":
            inst = getCustomOp(node)
            detail = (f"weights {inst.get_input_datatype(1).name}, activations {inst.get_input_datatype(0).name}, "
                      f"accumulator {inst.get_output_datatype().name}; FINN's RTL MVAU needs {MVAU_RTL_NEEDS}")
        else:
            detail = f"FINN has only an HLS variant of {base}, which cannot be generated or simulated without Vitis"
        raise HwgenError(f"node {node.name} ({node.op_type}) has no RTL implementation: {detail}")
