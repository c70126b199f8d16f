"""DIR/fifo_depths.json: each stream FIFO's depth, why it has that depth, and what the whole-network
simulation (`hwgen verify`) measured about it.

Why the depths are what they are: compile gives every stream between two layers the same depth
(hwgen.compile.steps.DEFAULT_FIFO_DEPTH, set before FINN's InsertFIFO; FINN's own sizing,
InsertAndSetFIFODepths, needs Vivado's simulator). The accelerator is one chain of nodes whose only
side inputs (weight streamers) depend on nothing else, so it cannot deadlock at any depth: a full
FIFO only holds its producer back. The depth therefore only decides whether bursty producers and
consumers (a sliding window emitting a window, an MVAU consuming it at its own pace) slow the
pipeline below its slowest layer; the simulation shows whether the chain reached its II, and each
FIFO's high-water mark shows how much of its depth the unstalled stream used.
"""
from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np

POLICY = ("compile default: every inter-layer stream gets a FIFO of hwgen.compile.steps.DEFAULT_FIFO_DEPTH "
          "words (set before FINN's InsertFIFO); a single chain of nodes cannot deadlock at any depth, so "
          "the depth only decides whether bursty producers and consumers hold the pipeline below its "
          "slowest layer's rate; checked by simulation (II reached, high-water marks below)")
SIZED = ("sized by simulation (hwgen verify --size-fifos): every FIFO made one frame of its stream deep; "
         "unstalled frames streamed as fast as the design takes them give the II it can reach; streamed "
         "again with the input paced evenly to one frame per that II (a source at the design's frame rate, "
         "so FIFOs in front of the slowest layer do not just pile up the input), each FIFO's depth is set to its "
         "high-water mark + 1 (our FIFO refuses a word when full, so one more than the most it ever held "
         "never holds its producer back); the sized design is simulated again to confirm the II")
SIZING_FRAMES = 4  # unstalled frames: the II is measured from the gaps between frames 1, 2 and 3
II_TOLERANCE = 0.10  # measured II within 10 % of FINN's per-layer cycle estimate


def fifo_depths(top: dict, report: dict, verify: dict, bottleneck: str | None, sizing: dict | None = None) -> dict:
    """The fifo_depths.json record from the stitcher's top (hwgen_top.json), the harness report and
    the verify_rtl.json result of the same run, and the sizing run's record when the depths came
    from one. A FIFO in front of the slowest layer (`bottleneck`, FINN's estimate) fills up by
    design; behind it, a full FIFO means a producer faster than its consumer, harmless while the II
    is reached. A FIFO whose high-water mark stays far below its depth could be smaller."""
    unstalled, overall = report.get("fifo_max_unstalled") or {}, report.get("fifo_max") or {}
    nodes = [b["node"] for b in top["blocks"]]
    slowest = nodes.index(bottleneck) if bottleneck in nodes else None
    sized = {f["node"]: f for f in (sizing or {}).get("fifos", [])}
    fifos = []
    for index, block in enumerate(top["blocks"]):
        if block["module"] != "axis_fifo":
            continue
        depth, signal = int(block["parameters"]["DEPTH"]), f"{block['node']}_max"
        entry = {"node": block["node"], "width_bits": block["in_width"], "depth": depth,
                 **({"frame_depth": sized[block["node"]]["frame_depth"],
                     "max_fill_sizing": sized[block["node"]]["max_fill"]} if block["node"] in sized else {}),
                 "max_fill_unstalled": unstalled.get(signal), "max_fill": overall.get(signal),
                 "before_bottleneck": None if slowest is None else index < slowest}
        if entry["max_fill_unstalled"] is not None:
            entry["full_while_unstalled"] = entry["max_fill_unstalled"] >= depth
        fifos.append(entry)
    ii, expected = verify.get("ii_cycles"), verify.get("expected_ii_cycles")
    reached = bool(ii and expected and ii <= (1 + II_TOLERANCE) * expected)
    deadlock_free = bool(verify.get("mismatch_count") is not None and not verify.get("stalled"))
    return {"chosen_by": SIZED if sizing else POLICY,
            "sizing": {k: v for k, v in sizing.items() if k != "fifos"} if sizing else None,
            "frames": verify.get("frames"), "calm_frames": verify.get("calm_frames"),
            "stall_probability": verify.get("stall_probability"), "deadlock_free": deadlock_free,
            "ii_cycles": ii, "expected_ii_cycles": expected, "ii_tolerance": II_TOLERANCE,
            "ii_reached": reached, "sufficient": deadlock_free and reached, "bottleneck_layer": bottleneck,
            "fifos": fifos}


def _sizing_record(build_dir: Path, top: dict) -> dict | None:
    """The sizing run's record (DIR/fifo_sizing.json) if the stitched depths are still the ones it chose."""
    path = Path(build_dir) / "fifo_sizing.json"
    if not path.is_file():
        return None
    sizing = json.loads(path.read_text())
    depths = {b["node"]: int(b["parameters"]["DEPTH"]) for b in top["blocks"] if b["module"] == "axis_fifo"}
    return sizing if {f["node"]: f["depth"] for f in sizing["fifos"]} == depths else None


def write_fifo_depths(build_dir: Path, top: dict, report: dict, verify: dict, bottleneck: str | None) -> dict:
    record = fifo_depths(top, report, verify, bottleneck, _sizing_record(build_dir, top))
    tmp = Path(build_dir) / "fifo_depths.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, Path(build_dir) / "fifo_depths.json")
    return record


def size_fifos(build_dir, frames: int = SIZING_FRAMES, seed: int = 0) -> dict:
    """Size DIR's FIFOs by simulation (see SIZED), write the depths into DIR/dataflow.onnx, re-stitch
    DIR/rtl and record the run in DIR/fifo_sizing.json. Returns that record."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.custom_op.registry import getCustomOp

    from hwgen.compile.finn_env import init_finn
    from hwgen.errors import HwgenError
    from hwgen.rtlgen.stitch import TOP, stitch
    from hwgen.verify import _read_json, _timing, run_stream, watchdog_cycles

    build_dir = Path(build_dir)
    summary = _read_json(build_dir / "compile.json", "run `hwgen compile` first (no finished build here)")
    if frames < 3:
        raise HwgenError(f"--frames {frames}: sizing needs at least 3 frames to see the steady state")
    init_finn(build_dir / "fifo_sizing" / "finn_build")
    model = ModelWrapper(str(build_dir / "dataflow.onnx"))
    fifos = [n for n in model.graph.node if n.op_type.startswith("StreamingFIFO")]
    frame_depth = {}
    for node in fifos:
        inst = getCustomOp(node)
        frame_depth[node.name] = max(2, math.prod(inst.get_folded_input_shape()[:-1]))
    shape = model.get_tensor_shape(model.graph.input[0].name)
    x = np.random.default_rng(seed).integers(0, 256, (frames, *shape[1:])).astype(np.uint8)

    def simulate(depths: dict, rtl: Path, work: str, save: bool = False, interval: int = 0) -> tuple[dict, dict]:
        for node in fifos:
            getCustomOp(node).set_nodeattr("depth", int(depths[node.name]))
        if save:
            model.save(str(build_dir / "dataflow.onnx"))
        shutil.rmtree(rtl, ignore_errors=True)
        stitch(model, rtl, clock_mhz=summary["clock_mhz"])
        run = run_stream(rtl / f"{TOP}.json", x, build_dir / "fifo_sizing" / work, build_dir / "sim_build",
                         calm=frames, watchdog=watchdog_cycles(summary),
                         plusargs=(f"+frame_interval={interval}",))
        if run["outputs"] is None:
            raise HwgenError(f"{build_dir}: FIFO sizing simulation ({work}) failed: {run['error']}")
        return run, _timing(run["timing"], frames, summary["clock_mhz"])

    deep_rtl = build_dir / "fifo_sizing" / "rtl"
    _, deep_timing = simulate(frame_depth, deep_rtl, "frame_deep")
    paced, _ = simulate(frame_depth, deep_rtl, "frame_deep_paced", interval=deep_timing["ii_cycles"])
    fills = {node.name: paced["report"]["fifo_max"][f"{node.name}_max"] for node in fifos}
    depths = {name: max(2, fill + 1) for name, fill in fills.items()}
    # from here on the build's own graph and RTL carry the sized depths
    _, sized_timing = simulate(depths, build_dir / "rtl", "sized", save=True)
    record = {"frames": frames, "seed": seed, "ii_cycles_frame_deep": deep_timing["ii_cycles"],
              "ii_cycles_sized": sized_timing["ii_cycles"], "expected_ii_cycles": summary.get("expected_ii_cycles"),
              "latency_cycles_sized": sized_timing["latency_cycles"],
              "words_total": sum(depths.values()),
              "fifos": [{"node": n, "frame_depth": frame_depth[n], "max_fill": fills[n], "depth": depths[n]}
                        for n in depths]}
    tmp = build_dir / "fifo_sizing.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, build_dir / "fifo_sizing.json")
    return record
