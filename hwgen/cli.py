"""The `hwgen` command: one thin subcommand per stage.

Each built stage is a module that exposes `configure(parser)` (its options) and `main(args) -> int`
(the work). Modules keep heavy imports (torch, FINN) inside functions so `hwgen --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from hwgen.errors import HwgenError

# name: (module implementing it, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "doctor": ("hwgen.doctor", "check every tool the flow needs"),
    "boards": ("hwgen.boards", "list the supported FPGA boards"),
    "data": ("hwgen.data.cli", "record or inspect driving data (DonkeyCar tubs)"),
    "train": ("hwgen.train", "train the steering CNN with Brevitas QAT"),
    "export": ("hwgen.export", "export a trained run to QONNX plus golden frames"),
    "compile": ("hwgen.compile", "lower QONNX with FINN to a folded all-RTL dataflow design"),
    "verify": ("hwgen.verify", "bit-exact cocotb/Verilator check of the accelerator RTL"),
    "report": ("hwgen.report", "throughput, latency, resources and power report"),
    "package": ("hwgen.deploy.package", "Vivado scripts, driver and board files for deployment"),
    "build-bitstream": ("hwgen.deploy.bitstream", "run the generated Vivado scripts (needs Vivado)"),
    "flash": ("hwgen.deploy.flash", "load a built accelerator onto a board"),
    "flow": ("hwgen.flow", "the whole path: record, train, export, compile, verify, report, package"),
    "drive": ("hwgen.drive", "closed-loop driving in CarRacing with torch, FINN or RTL engines"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text) in COMMANDS.items():
        importlib.import_module(module).configure(sub.add_parser(name, help=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.main(args) or 0)
    except HwgenError as err:
        print(f"hwgen {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
