"""`hwgen compile` of pilotnet-w4a4 for pynq-z2 and kv260 on this machine (`make bench`): seconds per
board, nodes, the all-RTL check, FINN's expected II/FPS and resource estimate, and the Python golden
check over 64 frames. Written to out/bench/compile_pilotnet.json.

Issue 4's target: each board compiles, all nodes RTL, in under 3 minutes, with 0 mismatches over the
64 golden frames. The machine is shared: the load average is recorded with the timings."""
import json
import os
import time
from collections import Counter

import numpy as np
import pytest

from hwgen.paths import ROOT

BOARDS = ("pynq-z2", "kv260")
FRAMES = 64
TARGET_SECONDS = 180


@pytest.mark.heavy
def test_compile_pilotnet_w4a4_speed(tmp_path):
    from hwgen.compile import compile_model
    from hwgen.export import export_model
    from hwgen.models.calibrate import calibrated_model

    frames = np.random.default_rng(11).integers(0, 256, (FRAMES, 3, 66, 200), dtype=np.uint8)
    started = time.monotonic()
    export_model(calibrated_model("pilotnet-w4a4", frames), frames, tmp_path / "export", check_frames=4)
    result = {"model": "pilotnet-w4a4 (calibrated on the golden frames, untrained)", "golden_frames": FRAMES,
              "export_seconds": round(time.monotonic() - started, 1), "target_seconds": TARGET_SECONDS,
              "cpus": os.cpu_count(), "boards": {}}
    for board in BOARDS:
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        summary = compile_model(tmp_path / "export" / "model.onnx", board, tmp_path / board, progress=False)
        seconds = time.monotonic() - started
        check = json.loads((tmp_path / board / "verify_python.json").read_text())
        ops = [node["op_type"] for node in summary["nodes"]]
        result["boards"][board] = {
            "seconds": round(seconds, 1),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "step_seconds": summary["step_seconds"],
            "nodes": len(ops),
            "node_types": dict(Counter(ops)),
            "all_rtl": all(op.endswith("_rtl") for op in ops),
            "clock_mhz": summary["clock_mhz"],
            "expected_ii_cycles": summary["expected_ii_cycles"],
            "expected_fps": round(summary["expected_fps"], 1),
            "bottleneck_layer": summary["bottleneck_layer"],
            "finn_estimate": summary["resources_total"],
            "budget": {r: summary["budget"][r] for r in summary["resources_total"]},
            "verify_python": {"frames": check["frames"], "mismatch_count": check["mismatch_count"],
                              "max_rel_error": check["max_rel_error"], "passed": check["passed"]},
        }
    out = ROOT / "out" / "bench" / "compile_pilotnet.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for board, record in result["boards"].items():
        assert record["all_rtl"], (board, record["node_types"])
        assert record["verify_python"]["frames"] == FRAMES and record["verify_python"]["mismatch_count"] == 0, board
        assert record["seconds"] < TARGET_SECONDS, (board, record["seconds"], record["load_average_1min"])
