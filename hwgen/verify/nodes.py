"""Per-node RTL checks (`hwgen verify DIR --per-node` / `--node NAME`): each node of the accelerator
stitched alone, fed random inputs under random stalls, compared with FINN's Python execution of
that node. When the whole network mismatches, the first failing node here is where to look.

Reads DIR/compile.json and DIR/dataflow.onnx (each node's generated HDL in its code_gen_dir_ipgen).
Writes DIR/verify_nodes/<node>/{rtl,run}/ and DIR/verify_nodes.json.
"""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError

MISMATCHES_LISTED = 10  # per node, the first ones; the count covers all


def single_node_model(model, node):
    """A one-node graph: `node` with its parameter initializers, its data input as the graph input
    and its output as the graph output, shapes and FINN datatypes as in `model`."""
    from onnx import TensorProto, helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.basic import qonnx_make_model

    def value_info(name):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, model.get_tensor_shape(name))

    params = set(node.input[1:])
    graph = helper.make_graph([copy.deepcopy(node)], node.name, [value_info(node.input[0])],
                              [value_info(node.output[0])],
                              initializer=[copy.deepcopy(i) for i in model.graph.initializer if i.name in params])
    single = ModelWrapper(qonnx_make_model(graph, opset_imports=list(model.model.opset_import)))
    for name in (*node.input, *node.output):
        single.set_tensor_datatype(name, model.get_tensor_datatype(name))
    return single


def random_inputs(model, node, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform integers over the input datatype's range; for a thresholding node, over the span of
    its thresholds (plus a margin), where the outputs change (the full accumulator range would
    saturate almost every element)."""
    dtype = model.get_tensor_datatype(node.input[0])
    low, high = int(dtype.min()), int(dtype.max())
    if node.op_type.startswith("Thresholding"):
        thresholds = model.get_initializer(node.input[1])
        low = max(low, int(np.floor(thresholds.min())) - 2)
        high = min(high, int(np.ceil(thresholds.max())) + 2)
    shape = model.get_tensor_shape(node.input[0])
    return rng.integers(low, high + 1, (frames, *shape[1:])).astype(np.float32)


def python_outputs(single, x: np.ndarray) -> np.ndarray:
    """FINN's Python execution of the one-node graph (*_rtl nodes in cppsim mode fall back to
    FINN's Python model of the op), frame by frame; (frames, elements)."""
    from finn.core.onnx_exec import execute_onnx

    inp, out = single.graph.input[0].name, single.graph.output[0].name
    return np.stack([execute_onnx(single, {inp: frame[None]})[out].reshape(-1) for frame in x])


def check_node(model, node, work: Path, sim_build: Path, *, frames: int, stall: float, seed: int) -> dict:
    """Stitch `node` alone into work/rtl, stream random frames through it with stalls, compare
    every output element with FINN's Python execution. Returns the node's verify_nodes.json entry."""
    from hwgen.rtlgen.stitch import TOP, stitch
    from hwgen.verify import run_stream

    single = single_node_model(model, node)
    x = random_inputs(model, node, frames, np.random.default_rng(seed))
    expected = python_outputs(single, x)
    rtl = work / "rtl"
    stitch(single, rtl)
    run = run_stream(rtl / f"{TOP}.json", x, work / "run", sim_build, stall=stall, seed=seed, calm=0,
                     watchdog=max(100_000, 50 * x[0].size))
    entry = {"node": node.name, "op_type": node.op_type, "frames": frames,
             "input_datatype": model.get_tensor_datatype(node.input[0]).name,
             "input_range": [int(x.min()), int(x.max())], "elements_per_frame": int(expected.shape[1]),
             "sim_cycles": run["report"].get("cycles"), "wall_seconds": run["wall_seconds"]}
    if run["outputs"] is None:
        where = "; ".join(f"{s['stream']}: tvalid={s['tvalid']} tready={s['tready']}"
                          for s in run["report"].get("streams", []))
        return {**entry, "passed": False, "mismatch_count": None,
                "error": run["error"] + (f" ({where})" if where else "")}
    got = run["outputs"].astype(np.int64)
    wrong = np.argwhere(got != expected)
    mismatches = [{"frame": int(f), "index": int(i), "expected": int(expected[f, i]), "got": int(got[f, i])}
                  for f, i in wrong[:MISMATCHES_LISTED]]
    tlast = run["report"].get("tlast_errors", 0)
    return {**entry, "passed": len(wrong) == 0 and tlast == 0, "mismatch_count": int(len(wrong)),
            "mismatches": mismatches, "tlast_errors": tlast}


def verify_nodes(build_dir, nodes: list[str] | None = None, frames: int = 2, stall: float = 0.3,
                 seed: int = 0, progress: bool = True) -> dict:
    """Check the named nodes (default: all) of DIR's accelerator one by one; writes verify_nodes.json."""
    from qonnx.core.modelwrapper import ModelWrapper
    from tqdm import tqdm

    from hwgen.compile.finn_env import init_finn
    from hwgen.verify import _read_json

    build_dir = Path(build_dir)
    _read_json(build_dir / "compile.json", "run `hwgen compile` first (no finished build here)")
    if not 0.0 <= stall < 1.0:
        raise HwgenError(f"--stall {stall}: a probability in [0, 1) is needed")
    if frames < 1:
        raise HwgenError(f"--frames {frames}: at least one frame per node is needed")
    model = ModelWrapper(str(build_dir / "dataflow.onnx"))
    by_name = {node.name: node for node in model.graph.node}
    unknown = [name for name in nodes or () if name not in by_name]
    if unknown:
        raise HwgenError(f"{build_dir / 'dataflow.onnx'}: no node {', '.join(unknown)}; "
                         f"nodes: {', '.join(by_name)}")
    selected = [by_name[name] for name in nodes] if nodes else list(model.graph.node)
    init_finn(build_dir / "verify_nodes" / "finn_build")
    results = []
    for index, node in enumerate(tqdm(selected, desc="verify nodes", unit="node", disable=not progress,
                                      leave=False)):
        results.append(check_node(model, node, build_dir / "verify_nodes" / node.name,
                                  build_dir / "sim_build", frames=frames, stall=stall, seed=seed + index))
    result = {"frames_per_node": frames, "stall_probability": stall, "seed": seed,
              "compared_with": "FINN execute_onnx of the one-node graph (*_rtl nodes in cppsim mode: "
                               "FINN's Python model of the op)",
              "nodes": results, "failed_nodes": [r["node"] for r in results if not r["passed"]],
              "passed": all(r["passed"] for r in results)}
    tmp = build_dir / "verify_nodes.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, build_dir / "verify_nodes.json")
    return result


def main(args) -> int:
    """`hwgen verify DIR --per-node [--node NAME ...] [--frames N] [--stall P] [--seed S]`."""
    r = verify_nodes(args.dir, args.node, frames=args.frames or 2, stall=args.stall, seed=args.seed)
    for entry in r["nodes"]:
        if entry["passed"]:
            status = "ok"
        elif entry["mismatch_count"] is None:
            status = f"FAILED: {entry['error']}"
        else:
            first = entry["mismatches"][0] if entry["mismatches"] else {}
            status = (f"FAILED: {entry['mismatch_count']} of {entry['frames'] * entry['elements_per_frame']} "
                      f"outputs differ" + (f" (first: frame {first['frame']} element {first['index']}: FINN "
                                           f"{first['expected']}, RTL {first['got']})" if first else "")
                      + (f", {entry['tlast_errors']} wrong tlast" if entry["tlast_errors"] else ""))
        print(f"verify node {entry['node']} ({entry['op_type']}): {status}")
    print(f"verify: {len(r['nodes']) - len(r['failed_nodes'])} of {len(r['nodes'])} nodes match FINN's Python "
          f"execution ({r['frames_per_node']} random frames each, stall p={r['stall_probability']}) "
          f"-> {Path(args.dir) / 'verify_nodes.json'}")
    return 0 if r["passed"] else 1
