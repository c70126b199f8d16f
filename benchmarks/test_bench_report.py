"""`hwgen report` of pilotnet-w4a4 (calibrated, untrained) on pynq-z2 and kv260 (`make bench`):
compile, verify 2 frames, report (Yosys per layer, SAIF activity), then a comparison of the two and
a headless-Chromium screenshot of each report.html when /usr/bin/chromium exists. Numbers go to
out/bench/report_pilotnet.json; the builds stay in out/bench/report_pilotnet/<board>/."""
import json
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import pytest

from hwgen.paths import ROOT

BOARDS = ("pynq-z2", "kv260")
CHROMIUM = "/usr/bin/chromium"


def _export(out):
    from hwgen.export import export_model
    from hwgen.models.calibrate import calibrated_model

    export = out / "export"
    if not (export / "model.onnx").is_file():
        frames = np.random.default_rng(0).integers(0, 256, (6, 3, 66, 200), dtype=np.uint8)
        export_model(calibrated_model("pilotnet-w4a4", frames), frames, export, check_frames=0)
    return export


def screenshot(page, png) -> bool:
    """report.html -> PNG with headless Chromium (a throw-away profile, no network services)."""
    if not os.path.exists(CHROMIUM):
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run",
                        f"--user-data-dir={profile}", f"--screenshot={png}", "--window-size=1280,2400",
                        f"file://{page}"], check=True, capture_output=True, timeout=180)
    return png.is_file() and png.stat().st_size > 10_000


@pytest.mark.heavy
def test_report_pilotnet_w4a4_on_pynq_z2_and_kv260():
    from hwgen.compile import compile_model
    from hwgen.report import report
    from hwgen.verify import verify_rtl

    out = ROOT / "out" / "bench" / "report_pilotnet"
    export = _export(out)
    record = {"design": "pilotnet-w4a4 (calibrated, untrained)", "load_average": os.getloadavg()[0], "boards": {}}
    builds, seconds = [], {}
    for board in BOARDS:
        build = out / board
        started = time.monotonic()
        if not (build / "compile.json").is_file():
            shutil.rmtree(build, ignore_errors=True)
            compile_model(export / "model.onnx", board, build, verify_frames=2, progress=False)
        compile_s = time.monotonic() - started
        started = time.monotonic()
        assert verify_rtl(build, frames=2, stall=0.0)["passed"]
        seconds[board] = {"compile_seconds": round(compile_s, 1), "verify_seconds": round(time.monotonic() - started, 1)}
        builds.append(build)
    started = time.monotonic()
    report(builds, out=out / "compare", progress=False)  # each build's report, then the comparison
    record["report_seconds_both"] = round(time.monotonic() - started, 1)
    for board, build in zip(BOARDS, builds):
        result = json.loads((build / "report.json").read_text())
        verified = json.loads((build / "verify_rtl.json").read_text())
        estimates = json.loads((build / "estimates.json").read_text())
        assert result["throughput"]["fps"] == verified["fps"]
        assert result["totals"]["finn"]["LUT"] == estimates["resources_total"]["LUT"]
        png = out / f"report_{board}.png"
        shot = screenshot(build / "report.html", png)
        t, totals, p = result["throughput"], result["totals"], result["power"]
        record["boards"][board] = {
            **seconds[board], "synthesis_seconds": result["synthesis"]["seconds"],
            "layers": len(result["layers"]), "layers_cached": result["synthesis"]["layers_cached"],
            "layers_failed": sorted(result["synthesis"]["layers_failed"]),
            "fps": t["fps"], "ii_cycles": t["ii_cycles"], "expected_ii_cycles": t["expected_ii_cycles"],
            "latency_cycles": t["latency_cycles"], "latency_us": t["latency_us"],
            "finn": totals["finn"], "yosys": totals["yosys"], "yosys_complete": totals["yosys_complete"],
            "utilization_pct": totals["utilization_pct"], "warnings": totals["warnings"],
            "discrepancy_layers": result["discrepancy_layers"],
            "toggle_rate": p["activity"]["toggle_rate"], "toggle_rate_measured": p["activity"]["measured"],
            "static_w": p["static_w"], "dynamic_w": p["dynamic_w"], "power_w": p["total_w"],
            "dynamic_by_component_w": p["dynamic_by_resource_w"],
            "energy_per_frame_mj": p["energy_per_frame_mj"],
            "screenshot": str(png) if shot else None}
    record["compare"] = str(out / "compare" / "compare.html")
    (ROOT / "out" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "out" / "bench" / "report_pilotnet.json").write_text(json.dumps(record, indent=2))
