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
    "MatMul": "FINN could not turn this integer MatMul into an MVAU layer: a depthwise or grouped convolution "
              "(FINN's VVAU has an RTL variant only on Versal parts) or a product of two computed tensors; use "
              "ordinary convolutions and linear layers with quantized weights",
}
FLOAT_ACTIVATIONS = ("Relu", "Sigmoid", "Tanh", "LeakyRelu", "Clip", "HardSigmoid", "Elu", "Softmax")


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
    offenders = []
    for i, node in enumerate(nodes):
        if is_fpgadataflow_node(node):
            continue
        if i < first and node.op_type in LAYOUT_OPS:
            continue
        if i > last and node.op_type in SOFTWARE_OPS:
            continue
        where = "in front of the first HW layer" if i < first else ("behind the last HW layer" if i > last
                                                                     else "between HW layers")
        offenders.append((node, where))
    if not offenders:
        return

    def float_matmul(node) -> bool:
        return node.op_type in ("MatMul", "Conv", "Gemm") and bool(_float_inputs(model, node))

    # Name the node that explains the failure: the ops around it (a float BatchNorm in front of a float
    # activation, a Transpose into a pooling layout, a Mul left over from a scale) only follow from it
    node, where = min(offenders, key=lambda o: (o[0].op_type not in FLOAT_ACTIVATIONS, not float_matmul(o[0]),
                                                o[0].op_type not in ADVICE, o[0].op_type in LAYOUT_OPS))
    if node.op_type in FLOAT_ACTIVATIONS:
        why = (f"a float {node.op_type} activation; use a quantized one (Brevitas QuantReLU, QuantIdentity, "
               "QuantHardTanh) so that FINN turns it into thresholds")
    elif float_matmul(node):
        floats = _float_inputs(model, node)
        why = (f"its input {floats[0]} is float ({model.get_tensor_datatype(floats[0]).name}): the layer "
               "in front of it has no quantized activation, or a float scale could not be moved past it; "
               "put a QuantReLU/QuantIdentity in front of it")
    else:
        why = ADVICE.get(node.op_type, "FINN has no RTL layer for it; remove it, or move it to the end of the "
                                       "network where the host can run it")
    more = f" ({len(offenders) - 1} more nodes cannot either)" if len(offenders) > 1 else ""
    raise HwgenError(f"node {node.name} ({node.op_type}) {where} cannot be built into RTL: {why}{more}")


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


def _mvau_rtl_blockers(model, node, fpgapart: str) -> list[str]:
    """Why SpecializeLayers chose the HLS MVAU (the conditions of FINN's _mvu_rtl_possible, as advice)."""
    from qonnx.custom_op.registry import getCustomOp

    from finn.util.basic import get_dsp_block

    inst = getCustomOp(node)
    wdt, idt = inst.get_input_datatype(1), inst.get_input_datatype(0)
    weights = model.get_initializer(node.input[1])
    reasons = []
    if inst.get_nodeattr("noActivation") == 0:
        reasons.append("it has an embedded activation (run thresholds as a separate layer)")
    if inst.get_nodeattr("binaryXnorMode") == 1 or not wdt.signed() or wdt.bitwidth() < 2:
        reasons.append(f"its weights are {wdt.name}: it needs signed integer weights of at least 2 bits")
    elif weights is not None and weights.min() == wdt.min() and get_dsp_block(fpgapart) == "DSP48E1":
        reasons.append(f"its {wdt.name} weights use the full range down to {int(wdt.min())}: on DSP48E1 parts "
                       "(Zynq-7000) it needs narrow-range weights (Brevitas weight_narrow_range=True)")
    if idt.bitwidth() < 2:
        reasons.append(f"its input activations are {idt.name}: they need at least 2 bits")
    return reasons or [f"weights {wdt.name}, activations {idt.name}, accumulator {inst.get_output_datatype().name} "
                       "exceed the DSP datapath (use at most 8-bit weights and activations)"]


def check_all_rtl(inner, fpgapart: str) -> None:
    """After specialization: every layer must be an *_rtl variant (HLS needs Vitis, absent here)."""
    for node in inner.graph.node:
        if node.op_type.endswith("_rtl"):
            continue
        base = node.op_type.removesuffix("_hls")
        if base == "MVAU":
            detail = "FINN's RTL MVAU cannot take it: " + "; ".join(_mvau_rtl_blockers(inner, node, fpgapart))
        else:
            detail = f"FINN has only an HLS variant of {base}, which cannot be generated or simulated without Vitis"
        raise HwgenError(f"node {node.name} ({node.op_type}) has no RTL implementation: {detail}")
