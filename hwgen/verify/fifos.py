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
import os
from pathlib import Path

POLICY = ("compile default: every inter-layer stream gets a FIFO of hwgen.compile.steps.DEFAULT_FIFO_DEPTH "
          "words (set before FINN's InsertFIFO); a single chain of nodes cannot deadlock at any depth, so "
          "the depth only decides whether bursty producers and consumers hold the pipeline below its "
          "slowest layer's rate; checked by simulation (II reached, high-water marks below)")
II_TOLERANCE = 0.10  # measured II within 10 % of FINN's per-layer cycle estimate


def fifo_depths(top: dict, report: dict, verify: dict, bottleneck: str | None) -> dict:
    """The fifo_depths.json record from the stitcher's top (hwgen_top.json), the harness report and
    the verify_rtl.json result of the same run. A FIFO in front of the slowest layer (`bottleneck`,
    FINN's estimate) fills up by design; behind it, a full FIFO means a producer faster than its
    consumer, harmless while the II is reached. A FIFO whose high-water mark stays far below its
    depth is a candidate for a smaller one."""
    unstalled, overall = report.get("fifo_max_unstalled") or {}, report.get("fifo_max") or {}
    nodes = [b["node"] for b in top["blocks"]]
    slowest = nodes.index(bottleneck) if bottleneck in nodes else None
    fifos = []
    for index, block in enumerate(top["blocks"]):
        if block["module"] != "axis_fifo":
            continue
        depth, signal = int(block["parameters"]["DEPTH"]), f"{block['node']}_max"
        entry = {"node": block["node"], "width_bits": block["in_width"], "depth": depth,
                 "max_fill_unstalled": unstalled.get(signal), "max_fill": overall.get(signal),
                 "before_bottleneck": None if slowest is None else index < slowest}
        if entry["max_fill_unstalled"] is not None:
            entry["full_while_unstalled"] = entry["max_fill_unstalled"] >= depth
        fifos.append(entry)
    ii, expected = verify.get("ii_cycles"), verify.get("expected_ii_cycles")
    reached = bool(ii and expected and ii <= (1 + II_TOLERANCE) * expected)
    deadlock_free = bool(verify.get("mismatch_count") is not None and not verify.get("stalled"))
    return {"policy": POLICY, "frames": verify.get("frames"), "calm_frames": verify.get("calm_frames"),
            "stall_probability": verify.get("stall_probability"), "deadlock_free": deadlock_free,
            "ii_cycles": ii, "expected_ii_cycles": expected, "ii_tolerance": II_TOLERANCE,
            "ii_reached": reached, "sufficient": deadlock_free and reached, "bottleneck_layer": bottleneck,
            "fifos": fifos}


def write_fifo_depths(build_dir: Path, top: dict, report: dict, verify: dict, bottleneck: str | None) -> dict:
    record = fifo_depths(top, report, verify, bottleneck)
    tmp = Path(build_dir) / "fifo_depths.json.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, Path(build_dir) / "fifo_depths.json")
    return record
