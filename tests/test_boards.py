"""Board data (boards/*.json), `hwgen boards`, and the unknown-board error."""
import json

import pytest

from hwgen import cli
from hwgen.boards import RESOURCES, board_names, load_board
from hwgen.errors import HwgenError

BOARDS = ["kr260", "kv260", "pynq-z1", "pynq-z2", "ultra96-v2", "zcu104"]
# Capacities from AMD's product tables (DS190 Zynq-7000, DS891 Zynq UltraScale+, the K26 SOM data
# sheet DS987), BRAM in 18 kbit halves: written here by hand, not read from the board files.
DATASHEET = {
    "xc7z020": {"LUT": 53200, "FF": 106400, "BRAM_18K": 280, "URAM": 0, "DSP": 220},
    "xczu3eg": {"LUT": 70560, "FF": 141120, "BRAM_18K": 432, "URAM": 0, "DSP": 360},
    "xczu7ev": {"LUT": 230400, "FF": 460800, "BRAM_18K": 624, "URAM": 96, "DSP": 1728},
    "xck26": {"LUT": 117120, "FF": 234240, "BRAM_18K": 288, "URAM": 64, "DSP": 1248},
}


def test_every_board_file_loads_with_consistent_data():
    assert board_names() == BOARDS
    for name in BOARDS:
        board = load_board(name)
        assert board.name == name
        assert board.capacity == DATASHEET[board.part.split("-")[0].removesuffix("clg400")], name
        assert set(board.limits) == set(RESOURCES) and all(0 < v <= 1 for v in board.limits.values())
        assert board.default_clock_mhz in board.allowed_clock_mhz
        if board.family == "zynq-7000":
            assert (board.ps, board.dsp, board.yosys_family, board.load) == (
                "processing_system7", "DSP48E1", "xc7", "pynq")
            assert board.ps_config["memory_port"] in board.axi_hp_ports and board.dfx is None
        else:
            assert (board.family, board.ps, board.dsp, board.yosys_family) == (
                "zynq-ultrascale+", "zynq_ultra_ps_e", "DSP48E2", "xcup")
            assert board.ps_config["memory_port"] in board.axi_hp_ports
        is_kria = name in ("kv260", "kr260")
        assert (board.load == "kria-xmutil") == is_kria and (board.dfx is not None) == is_kria
        assert (board.board_connections is not None) == is_kria
        assert board.ps_ip.endswith(":" + board.ps)


def test_budget_is_capacity_times_limit_with_overrides():
    board = load_board("pynq-z2")
    assert board.budget() == {"LUT": 37240, "FF": 53200, "BRAM_18K": 224, "URAM": 0, "DSP": 176}
    assert board.budget({"DSP": 0.5})["DSP"] == 110


def test_hwgen_boards_lists_every_board(capsys):
    assert cli.main(["boards"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["board", "part", "family"]
    rows = {line.split()[0]: line.split() for line in lines[2:]}
    assert sorted(rows) == BOARDS
    assert rows["kv260"][1:3] == ["xck26-sfvc784-2LV-c", "zynq-ultrascale+"] and rows["kv260"][-1] == "kria-xmutil"
    assert rows["pynq-z2"][3] == "53200" and rows["pynq-z2"][-1] == "pynq"
    assert cli.main(["boards", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [b["name"] for b in data] == BOARDS and data[0]["part"] == "xck26-sfvc784-2LV-c"


def test_unknown_board_names_the_known_ones(capsys):
    with pytest.raises(HwgenError, match="unknown board 'zybo'; known boards: " + ", ".join(BOARDS)):
        load_board("zybo")
    assert cli.main(["compile", "model.onnx", "--board", "zybo", "--out", "o"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "unknown board 'zybo'" in err and "pynq-z2" in err
