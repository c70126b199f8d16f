"""The host side of the accelerator: what software does before and after the dataflow partition.

`hwgen compile` records the graph nodes FINN leaves outside the dataflow partition (the NCHW->NHWC
transpose in front, the final scale Mul and bias Add behind) as data in software.json. This module
is the one implementation that executes that data: the Python golden check, the RTL verifier and
the board driver all call it, so they cannot disagree.

software.json keys (see docs/compile.md):
  model_input {name, shape, datatype, layout}: what the model takes (e.g. uint8 NCHW frames)
  input       {name, shape, layout, datatype, folded_shape, stream_width_bits}: what the
              accelerator's input stream carries (after `preprocess`)
  preprocess  ordered ops turning model input frames into accelerator input
  output      {name, shape, layout, datatype, folded_shape, stream_width_bits}: the accelerator's
              integer output
  postprocess ordered ops turning accelerator output into the model's outputs (float32)
  outputs     how to read the model outputs: {name: {"slice": [a, b], "decode": "argmax"|"value",
              "classes": [...]}} (from the export's output_split when present)
Ops: {"op": "Transpose", "perm": [...]}, {"op": "Reshape", "shape": [...]},
     {"op": "Mul"|"Add"|"Sub"|"Div", "constant": nested list (float32), "constant_first": bool}.
"""
from __future__ import annotations

import numpy as np

from hwgen.errors import HwgenError

ELEMENTWISE = {"Mul": np.multiply, "Add": np.add, "Sub": np.subtract, "Div": np.divide}
LAYOUT_OPS = ("Transpose", "Reshape")
SOFTWARE_OPS = (*LAYOUT_OPS, *ELEMENTWISE)


def node_to_op(model, node) -> dict:
    """One ONNX node outside the partition as a software.json op (model: a qonnx ModelWrapper)."""
    from qonnx.util.basic import get_by_name

    if node.op_type == "Transpose":
        return {"op": "Transpose", "perm": [int(p) for p in get_by_name(node.attribute, "perm").ints]}
    if node.op_type == "Reshape":
        return {"op": "Reshape", "shape": [int(s) for s in model.get_tensor_shape(node.output[0])]}
    if node.op_type in ELEMENTWISE:
        constants = [model.get_initializer(name) for name in node.input]
        if sum(c is not None for c in constants) != 1:
            raise HwgenError(f"node {node.name} ({node.op_type}) outside the dataflow partition combines two "
                             "computed tensors; only a tensor-with-constant op can run in software")
        constant_first = constants[0] is not None
        constant = constants[0] if constant_first else constants[1]
        return {"op": node.op_type, "constant": np.asarray(constant, dtype=np.float32).tolist(),
                "constant_first": constant_first}
    raise HwgenError(f"node {node.name} ({node.op_type}) is outside the dataflow partition and is not a "
                     f"software op hwgen can run on the host ({', '.join(SOFTWARE_OPS)}); remove it from the model")


def apply_ops(ops: list[dict], x: np.ndarray) -> np.ndarray:
    """Run software.json ops on one batch; elementwise math in float32 like ONNX Runtime/qonnx."""
    for op in ops:
        kind = op["op"]
        if kind == "Transpose":
            x = np.transpose(x, op["perm"])
        elif kind == "Reshape":
            x = np.reshape(x, [len(x), *op["shape"][1:]])  # the graph has batch 1; keep the real batch
        elif kind in ELEMENTWISE:
            x = np.asarray(x, dtype=np.float32)
            constant = np.asarray(op["constant"], dtype=np.float32)
            x = ELEMENTWISE[kind](constant, x) if op["constant_first"] else ELEMENTWISE[kind](x, constant)
        else:
            raise HwgenError(f"software.json: unknown op '{kind}'; known: {', '.join(SOFTWARE_OPS)}")
    return x


def apply_preprocess(frames: np.ndarray, software: dict) -> np.ndarray:
    """Model input frames (e.g. uint8 NCHW) -> the accelerator's input (e.g. NHWC), same dtype."""
    return apply_ops(software["preprocess"], np.asarray(frames)).astype(frames.dtype, copy=False)


def apply_postprocess(outputs: np.ndarray, software: dict) -> np.ndarray:
    """Accelerator integer outputs (N, ...) -> the model's outputs (float32), as PyTorch computes them."""
    return np.asarray(apply_ops(software["postprocess"], np.asarray(outputs, dtype=np.float32)),
                      dtype=np.float32)


def interpret_outputs(model_outputs: np.ndarray, software: dict) -> dict:
    """Model outputs (N, K) -> {name: decoded values}: argmax class indices or raw values per part."""
    decoded = {}
    for name, part in software.get("outputs", {}).items():
        a, b = part["slice"]
        values = model_outputs[:, a:b]
        decoded[name] = values.argmax(axis=1) if part.get("decode") == "argmax" else values
    return decoded


# Bit-exact (docs/design.md): float outputs within 1e-5 relative; the absolute floor keeps outputs
# that PyTorch rounds to ~0 from failing on float32 noise.
OUTPUT_RTOL, OUTPUT_ATOL = 1e-5, 1e-6


def compare_outputs(got: np.ndarray, expected: np.ndarray, max_listed: int = 20) -> dict:
    """Model outputs vs expected (N, K): mismatch count, the first `max_listed` as
    {frame, index, expected, got}, and the max relative error."""
    got, expected = np.asarray(got, dtype=np.float32), np.asarray(expected, dtype=np.float32)
    if got.shape != expected.shape:
        raise HwgenError(f"outputs have shape {got.shape} but the expected outputs {expected.shape}")
    bad = ~np.isclose(got, expected, rtol=OUTPUT_RTOL, atol=OUTPUT_ATOL)
    rel = np.abs(got - expected) / np.maximum(np.abs(expected), OUTPUT_ATOL)
    listed = [{"frame": int(f), "index": int(i), "expected": float(expected[f, i]), "got": float(got[f, i])}
              for f, i in np.argwhere(bad)[:max_listed]]
    return {"frames": int(len(got)), "mismatch_count": int(bad.sum()), "mismatches": listed,
            "max_abs_error": float(np.abs(got - expected).max()), "max_rel_error": float(rel.max()),
            "rtol": OUTPUT_RTOL, "atol": OUTPUT_ATOL}
