"""Simulation speed on this machine (`make bench`): a cold Verilator build of rtl/axis_fifo.sv, the
same run again from the build cache, and the cocotb cycles per second of the random-traffic test.
Written to out/bench/sim_runner.json."""
import json
import time
from xml.etree import ElementTree

import pytest

from hwgen.paths import ROOT, RTL_DIR
from sim.runner import run_cocotb
from sim.tb_axis_fifo import CLOCK_NS

RANDOM_TEST = "test_random_traffic_keeps_every_word_in_order"


def timed_run(build_dir, test_dir):
    started = time.monotonic()
    results = run_cocotb([RTL_DIR / "axis_fifo.sv"], "axis_fifo", "sim.tb_axis_fifo", build_dir=build_dir,
                         test_dir=test_dir, parameters={"WIDTH": 32, "DEPTH": 16}, testcase=RANDOM_TEST,
                         seed=1)
    return time.monotonic() - started, results


@pytest.mark.heavy
def test_sim_runner_speed(tmp_path):
    cold_seconds, _ = timed_run(tmp_path / "build", tmp_path / "cold")
    warm_seconds, results = timed_run(tmp_path / "build", tmp_path / "warm")
    case = ElementTree.parse(results).getroot().find(".//testcase")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    cycles = float(props["sim_time_duration"]) / CLOCK_NS
    result = {
        "design": "axis_fifo WIDTH=32 DEPTH=16",
        "cold_build_and_run_seconds": round(cold_seconds, 2),
        "cached_run_seconds": round(warm_seconds, 2),
        "random_test_cycles": int(cycles),
        "random_test_seconds": float(case.get("time")),
        "cocotb_cycles_per_second": round(cycles / float(case.get("time"))),
    }
    out = ROOT / "out" / "bench" / "sim_runner.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    # The build cache is the point: a rerun must not pay for Verilator and the C++ compile again.
    assert warm_seconds < cold_seconds / 4, result
