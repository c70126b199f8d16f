"""compile_model: QONNX -> folded, all-RTL dataflow accelerator with estimates and a Python golden check.

Output folder (see docs/compile.md):
  stages/NN_<step>.onnx   the graph after every step (from dataflow_partition on: the accelerator)
  dataflow.onnx           the final accelerator graph (RTL nodes, FIFOs, width converters), in order
  parent.onnx             the whole graph: host ops around one StreamingDataflowPartition -> dataflow.onnx
  ip/<node>/              each node's generated RTL (wrappers, weight/threshold memories)
  folding.json            per node PE/SIMD/...; accepted back with --folding
  estimates.json          FINN's cycles/resources/ops per layer and in total, bottleneck, FPS
  software.json           host pre/post-processing as data (run by hwgen.compile.software)
  verify_python.json      the golden frames through the accelerator graph in Python vs PyTorch
  compile.json            the summary, written last: a build without it is unfinished
"""
from __future__ import annotations

import json
import os
import shutil
import time
from functools import partial
from pathlib import Path

import numpy as np

from hwgen.boards import RESOURCES, Board, load_board
from hwgen.compile import estimates as est
from hwgen.compile import software as sw
from hwgen.compile.folding import apply_folding, fold_for_fps, folding_config, load_folding
from hwgen.compile.steps import STEPS, StepContext
from hwgen.errors import HwgenError
from hwgen.rtlgen.stitch import TOP, stitch

DEFAULT_FPS = 1000.0  # a car camera gives 20-60 frames/s; 1000 leaves headroom and keeps designs small


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def load_qonnx(path: Path):
    from qonnx.core.modelwrapper import ModelWrapper

    if not Path(path).is_file():
        raise HwgenError(f"{path}: no such file")
    try:
        model = ModelWrapper(str(path))
    except Exception as err:  # onnx raises DecodeError/ValueError/... on anything that is not ONNX
        raise HwgenError(f"{path}: not a readable ONNX model ({type(err).__name__}: {err})") from err
    if not model.graph.node or len(model.graph.input) != 1 or len(model.graph.output) != 1:
        raise HwgenError(f"{path}: need an ONNX graph with nodes, one input and one output")
    return model


def _load_golden(golden_dir: Path):
    paths = [golden_dir / "input.npy", golden_dir / "expected.npy"]
    for path in paths:
        if not path.is_file():
            raise HwgenError(f"{path}: missing (a golden folder holds input.npy and expected.npy from `hwgen export`)")
    frames, expected = (np.load(p) for p in paths)
    if frames.dtype != np.uint8 or frames.ndim != 4 or len(expected) != len(frames):
        raise HwgenError(f"{golden_dir}: need uint8 (N, C, H, W) input.npy and expected.npy with N rows, got "
                         f"{frames.dtype} {frames.shape} and {expected.shape}")
    return frames, expected


def _resolve_clock(board: Board, clock_mhz: float | None) -> float:
    if clock_mhz is None:
        return float(board.default_clock_mhz)
    if board.allowed_clock_mhz and float(clock_mhz) not in [float(c) for c in board.allowed_clock_mhz]:
        raise HwgenError(f"--clock-mhz {clock_mhz}: board {board.name} can clock the fabric at "
                         f"{', '.join(f'{c:g}' for c in board.allowed_clock_mhz)} MHz")
    return float(clock_mhz)


def _stream_info(inner, first: bool) -> dict:
    from qonnx.custom_op.registry import getCustomOp

    tensor = inner.graph.input[0].name if first else inner.graph.output[0].name
    node = inner.graph.node[0] if first else inner.graph.node[-1]
    inst = getCustomOp(node)
    shape = inner.get_tensor_shape(tensor)
    return {
        "name": tensor,
        "shape": [int(s) for s in shape],
        "layout": "NHWC" if len(shape) == 4 else "NC",
        "datatype": inner.get_tensor_datatype(tensor).name,
        "folded_shape": [int(s) for s in (inst.get_folded_input_shape() if first else inst.get_folded_output_shape())],
        "stream_width_bits": int(inst.get_instream_width_padded() if first else inst.get_outstream_width_padded()),
    }


def extract_software(parent, inner, model_onnx: Path) -> dict:
    """software.json: the parent graph's nodes around the partition as host ops (see software.py)."""
    names = [node.op_type for node in parent.graph.node]
    at = names.index("StreamingDataflowPartition")
    source_input = parent.graph.input[0].name
    software = {
        "model_input": {"name": source_input, "shape": parent.get_tensor_shape(source_input),
                        "datatype": parent.get_tensor_datatype(source_input).name,
                        "layout": "NCHW" if len(parent.get_tensor_shape(source_input)) == 4 else "NC"},
        "input": _stream_info(inner, first=True),
        "preprocess": [sw.node_to_op(parent, node) for node in parent.graph.node[:at]],
        "output": _stream_info(inner, first=False),
        "postprocess": [sw.node_to_op(parent, node) for node in parent.graph.node[at + 1:]],
    }
    export_info = model_onnx.parent / "export.json"
    width = int(np.prod(parent.get_tensor_shape(parent.graph.output[0].name)[1:]))
    outputs = {"output": {"slice": [0, width], "decode": "value"}}
    if export_info.is_file():
        info = json.loads(export_info.read_text())
        split, classes = info.get("output_split"), info.get("class_names")
        if split:
            outputs = {name: {"slice": list(span), "decode": "value"} for name, span in split.items()}
            if classes and "steering" in outputs:
                outputs["steering"].update(decode="argmax", classes=list(classes))
    software["outputs"] = outputs
    return software


def verify_python(inner, software: dict, frames: np.ndarray, expected: np.ndarray, progress: bool) -> dict:
    """The golden frames through the accelerator graph (FINN's Python models of the RTL layers) and the
    host post-processing, compared with the PyTorch outputs."""
    from qonnx.core.datatype import DataType
    from tqdm import tqdm

    from finn.core.onnx_exec import execute_onnx

    accel_in = sw.apply_preprocess(frames, software).astype(np.float32)
    in_name, out_name = software["input"]["name"], software["output"]["name"]
    raw = np.concatenate([execute_onnx(inner, {in_name: x[None]})[out_name]
                          for x in tqdm(accel_in, desc="verify (python)", unit="frame", disable=not progress,
                                        leave=False)])
    out_type = DataType[software["output"]["datatype"]]
    integral = bool(np.all(raw == np.round(raw)) and raw.min() >= out_type.min() and raw.max() <= out_type.max())
    got = sw.apply_postprocess(raw, software).reshape(len(frames), -1)
    result = sw.compare_outputs(got, expected.reshape(len(frames), -1))
    result.update(accelerator_outputs_integral_in_range=integral,
                  accelerator_output_range=[float(raw.min()), float(raw.max())],
                  executed_with="FINN/qonnx execute_onnx, *_rtl nodes in cppsim mode (FINN's Python models)")
    result["passed"] = integral and result["mismatch_count"] == 0
    return result


def node_interfaces(inner) -> list[dict]:
    """Per accelerator node, in stream order: what the RTL stitcher needs."""
    from qonnx.custom_op.registry import getCustomOp

    nodes = []
    for node in inner.graph.node:
        inst = getCustomOp(node)
        intf = inst.get_verilog_top_module_intf_names()
        nodes.append({
            "name": node.name, "op_type": node.op_type,
            "top_module": inst.get_verilog_top_module_name(),
            "ip_dir": inst.get_nodeattr("code_gen_dir_ipgen"),
            "rtl_files": [str(p) for p in inst.get_rtl_file_list(abspath=True)],
            "clk": intf["clk"], "rst": intf["rst"],
            "s_axis": [{"name": n, "width": w} for n, w in intf["s_axis"]],
            "m_axis": [{"name": n, "width": w} for n, w in intf["m_axis"]],
            "input_datatype": inst.get_input_datatype().name, "output_datatype": inst.get_output_datatype().name,
            "folded_input_shape": [int(s) for s in inst.get_folded_input_shape()],
            "folded_output_shape": [int(s) for s in inst.get_folded_output_shape()],
            "exp_cycles": int(inst.get_exp_cycles()),
            **({"depth": int(inst.get_nodeattr("depth"))} if node.op_type.startswith("StreamingFIFO") else {}),
            **({"weight_stream": _weight_stream(inst, node.name)}
               if "mem_mode" in inst.get_nodeattr_types() and inst.get_nodeattr("mem_mode") == "internal_decoupled"
               else {}),
        })
    return nodes


def _weight_stream(inst, name: str) -> dict:
    """An MVAU in mem_mode internal_decoupled takes its weights on stream in1_V from a separate memstream
    block (FINN instantiates it in Vivado's block design; an RTL top must instantiate it itself)."""
    from finn.util.settings import get_settings

    rtllib = Path(get_settings().finn_rtllib)
    ip_dir = Path(inst.get_nodeattr("code_gen_dir_ipgen"))
    return {
        "module": f"{name}_memstream_wrapper",
        "rtl_files": [str(ip_dir / f"{name}_memstream_wrapper.v"), str(rtllib / "axi/hdl/axilite.sv"),
                      str(rtllib / "memstream/hdl/memstream_axi.sv"), str(rtllib / "memstream/hdl/memstream.sv")],
        "init_file": str(ip_dir / "memblock.dat"),
        "m_axis": {"name": "m_axis_0", "width": int(inst.get_instream_width_padded(1))},
        "connects_to": "in1_V",
        "unused_inputs": "s_axilite_* (runtime weight writes) and s_axis_0 (set select, SETS=1): tie to 0; "
                         "ap_clk2x: ap_clk",
    }


# What to change when FINN refuses a model, by a phrase of its message
FINN_ADVICE = {
    "out_scale must be 1": "an activation whose scale FINN cannot absorb, e.g. a 1-bit QuantReLU: use "
                           "activations of at least 2 bits",
    "out_bias must be integer": "an activation with a fractional offset: use QuantReLU, or QuantIdentity with "
                                "a signed integer quantizer",
}


def _run_step(name: str, step, model, ctx, stages: Path):
    """One compile step; FINN's refusals (FINNError, its assertions) become one-line HwgenErrors."""
    from finn.util.exception import FINNError

    try:
        return step(model, ctx)
    except (FINNError, AssertionError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        advice = next((f": {why}" for phrase, why in FINN_ADVICE.items() if phrase in message), "")
        raise HwgenError(f"compile step {name}: FINN cannot lower the model ({message}){advice}; {stages} "
                         "holds the graph after each step that finished") from err



# What hwgen verify and hwgen report write into a build folder; a new compile removes them.
LATER_STAGE_RESULTS = ("verify_rtl.json", "fifo_depths.json", "fifo_sizing.json", "verify_nodes.json",
                       "report.json", "report.html")


def compile_model(model_onnx, board, out_dir, clock_mhz: float | None = None, fps=None, folding=None,
                  golden_dir=None, limits: dict | None = None, verify_frames: int | None = None,
                  progress: bool = True) -> dict:
    """Compile a Brevitas QONNX model for `board` into out_dir; returns the compile.json summary.

    fps: frames/s target (number or "max"); folding: a folding.json path instead (not both).
    golden_dir: input.npy/expected.npy for the Python check (default: golden/ next to the model, if any).
    limits: per-resource fractions of the board's capacity overriding its practical limits."""
    from tqdm import tqdm

    started = time.perf_counter()
    model_onnx, out_dir = Path(model_onnx), Path(out_dir)
    board = board if isinstance(board, Board) else load_board(board)
    clock = _resolve_clock(board, clock_mhz)
    if fps is not None and folding is not None:
        raise HwgenError("give either --fps or --folding, not both")
    bad_limits = sorted(set(limits or {}) - set(RESOURCES))
    if bad_limits:
        raise HwgenError(f"--limits: unknown resource {', '.join(bad_limits)}; known: {', '.join(RESOURCES)}")
    budget = board.budget(limits)
    model = load_qonnx(model_onnx)
    folding_cfg = load_folding(Path(folding)) if folding is not None else None
    if golden_dir is None and (model_onnx.parent / "golden").is_dir():
        golden_dir = model_onnx.parent / "golden"
    golden = _load_golden(Path(golden_dir)) if golden_dir is not None else None

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "compile.json").unlink(missing_ok=True)  # the completion marker goes last
    for name in LATER_STAGE_RESULTS:  # they describe the earlier build's RTL, not this one
        (out_dir / name).unlink(missing_ok=True)
    stages = out_dir / "stages"
    shutil.rmtree(stages, ignore_errors=True)
    stages.mkdir()
    from hwgen.compile.finn_env import init_finn

    finn_build = out_dir / "finn_build"
    shutil.rmtree(finn_build, ignore_errors=True)
    init_finn(finn_build)

    where = f"{board.name} ({board.part}) at {clock:g} MHz"
    if folding_cfg is not None:
        fold = lambda m: (apply_folding(m, folding_cfg, Path(folding)), {"folding_file": str(folding)})  # noqa: E731
    else:
        fold = partial(fold_for_fps, fps=DEFAULT_FPS if fps is None else fps, clock_mhz=clock,
                       fpgapart=board.part, budget=budget, where=where)
    ctx = StepContext(out_dir=out_dir, fpgapart=board.part, clock_mhz=clock, fold=fold)
    step_seconds = {}
    for index, (name, step) in enumerate(tqdm(STEPS, desc="compile", unit="step", disable=not progress, leave=False)):
        t = time.perf_counter()
        model = _run_step(name, step, model, ctx, stages)
        step_seconds[name] = round(time.perf_counter() - t, 3)
        model.save(str(stages / f"{index:02d}_{name}.onnx"))

    inner = model
    model.save(str(out_dir / "dataflow.onnx"))
    t = time.perf_counter()
    shutil.rmtree(out_dir / "rtl", ignore_errors=True)  # no stale memory images from an earlier build
    stitch(inner, out_dir / "rtl", clock_mhz=clock)
    step_seconds["stitch_rtl"] = round(time.perf_counter() - t, 3)
    _repoint_partition(ctx.parent, out_dir / "dataflow.onnx").save(str(out_dir / "parent.onnx"))
    shutil.rmtree(finn_build, ignore_errors=True)

    estimates = est.estimate(inner, board.part, clock, budget)
    if not estimates["fits_budget"]:
        over = est.over_budget(estimates["resources_total"], budget)
        raise HwgenError(f"the folded design with FIFOs and width converters exceeds the budget of {where} in "
                         f"{', '.join(over)} (see {out_dir / 'estimates.json'}); ask for a lower --fps")
    estimates["folding"] = ctx.folding_info
    software = extract_software(ctx.parent, inner, model_onnx)
    _write_json(out_dir / "folding.json", folding_config(inner))
    _write_json(out_dir / "estimates.json", estimates)
    _write_json(out_dir / "software.json", software)

    verify = {"skipped": "no golden folder (give --golden DIR/golden)"}
    if golden is not None:
        frames, expected = golden
        n = len(frames) if verify_frames is None else min(verify_frames, len(frames))
        t = time.perf_counter()
        verify = verify_python(inner, software, frames[:n], expected[:n], progress)
        step_seconds["verify_python"] = round(time.perf_counter() - t, 3)
        verify["golden_dir"] = str(Path(golden_dir).resolve())
    (out_dir / "verify_python.json").unlink(missing_ok=True)
    _write_json(out_dir / "verify_python.json", verify)
    if golden is not None and not verify["passed"]:
        first = verify["mismatches"][0] if verify["mismatches"] else {}
        raise HwgenError(f"Python golden check failed: {verify['mismatch_count']} mismatching outputs over "
                         f"{verify['frames']} frames (first: {first}); see {out_dir / 'verify_python.json'}")

    summary = {
        "model": str(model_onnx.resolve()),
        "board": board.name, "part": board.part, "clock_mhz": clock,
        "budget": budget, "limits_override": limits or {},
        "fps_requested": (DEFAULT_FPS if fps is None else fps) if folding is None else None,
        "folding_file": str(folding) if folding else None,
        "expected_fps": estimates["expected_fps"], "expected_ii_cycles": estimates["expected_ii_cycles"],
        "bottleneck_layer": estimates["bottleneck_layer"],
        "resources_total": estimates["resources_total"],
        "all_rtl": all(node.op_type.endswith("_rtl") for node in inner.graph.node),
        "nodes": node_interfaces(inner),
        "verify_python": {k: verify.get(k) for k in ("frames", "mismatch_count", "max_rel_error", "passed", "skipped")
                          if k in verify},
        "step_seconds": step_seconds,
        "seconds": round(time.perf_counter() - started, 2),
        "files": {"rtl": f"rtl/{TOP}.sv", "filelist": f"rtl/{TOP}.f", "rtl_info": f"rtl/{TOP}.json",
                  "dataflow": "dataflow.onnx", "parent": "parent.onnx", "ip": "ip", "stages": "stages",
                  "folding": "folding.json", "estimates": "estimates.json", "software": "software.json",
                  "verify_python": "verify_python.json"},
    }
    _write_json(out_dir / "compile.json", summary)
    return summary


def _repoint_partition(parent, inner_path: Path):
    """The parent graph's partition node, pointing at the final accelerator graph in the output folder."""
    from qonnx.custom_op.registry import getCustomOp

    for node in parent.graph.node:
        if node.op_type == "StreamingDataflowPartition":
            getCustomOp(node).set_nodeattr("model", str(inner_path.resolve()))
    return parent
