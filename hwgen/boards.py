"""Board data: one JSON file per board in boards/ (part, family, capacities, clocks, PS, loading)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.paths import BOARDS_DIR

RESOURCES = ("LUT", "FF", "BRAM_18K", "URAM", "DSP")


@dataclass(frozen=True)
class Board:
    name: str
    title: str
    part: str
    board_part: str
    family: str  # "zynq-7000" or "zynq-ultrascale+"
    yosys_family: str  # synth_xilinx -family: xc7 or xcup
    dsp: str
    ps: str
    ps_ip: str
    axi_hp_ports: list
    fclk: str
    default_clock_mhz: float
    allowed_clock_mhz: list
    capacity: dict  # resource -> count (BRAM in 18 kbit halves)
    limits: dict  # resource -> practical fraction of capacity
    limits_source: str
    load: str  # "pynq" or "kria-xmutil"
    jtag_cable: str | None
    openfpgaloader_board: str | None
    # Vivado block-design facts for the PS: property and pin names, the ports the DMA uses
    ps_config: dict
    board_connections: str | None  # Kria SOMs: the carrier card, set as the project's board_connections
    dfx: dict | None  # Kria: what dfx-mgr (`xmutil loadapp`) needs; None on PYNQ boards

    def budget(self, overrides: dict | None = None) -> dict:
        """Usable count per resource: capacity x practical limit (overridable per resource)."""
        limits = {**self.limits, **(overrides or {})}
        return {r: int(self.capacity[r] * limits[r]) for r in RESOURCES}


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS_DIR.glob("*.json"))


def load_board(name: str) -> Board:
    path = BOARDS_DIR / f"{name}.json"
    if not path.is_file():
        raise HwgenError(f"unknown board '{name}'; known boards: {', '.join(board_names())}")
    try:
        return Board(**json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError) as err:
        raise HwgenError(f"{path}: not a valid board file ({err})") from err


def configure(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the board data as JSON")


def main(args) -> int:
    boards = [load_board(n) for n in board_names()]
    if args.json:
        print(json.dumps([b.__dict__ for b in boards], indent=2))
        return 0
    header = f"{'board':<11} {'part':<22} {'family':<17} {'LUT':>7} {'BRAM18':>6} {'URAM':>4} {'DSP':>5} {'clock':>6}  load"
    print(header)
    print("-" * len(header))
    for b in boards:
        c = b.capacity
        print(f"{b.name:<11} {b.part:<22} {b.family:<17} {c['LUT']:>7} {c['BRAM_18K']:>6} {c['URAM']:>4} "
              f"{c['DSP']:>5} {b.default_clock_mhz:>4g}MHz  {b.load}")
    return 0
