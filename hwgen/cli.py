"""The `hwgen` command: one thin subcommand per stage.

Each built stage is a module that exposes `configure(parser)` (its options) and `main(args) -> int`
(the work). Modules keep heavy imports (torch, FINN) inside functions so `hwgen --help` stays fast.
A stage that is not built yet says so and exits 2; it never prints made-up output.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from hwgen.errors import HwgenError

# name: (module implementing it, or None while unbuilt; one-line help; issue that builds it)
COMMANDS: dict[str, tuple[str | None, str, int]] = {
    "doctor": ("hwgen.doctor", "check every tool the flow needs", 2),
    "boards": ("hwgen.boards", "list the supported FPGA boards", 7),
    "data": ("hwgen.data.cli", "record or inspect driving data (DonkeyCar tubs)", 3),
    "train": ("hwgen.train", "train the steering CNN with Brevitas QAT", 3),
    "export": ("hwgen.export", "export a trained run to QONNX plus golden frames", 3),
    "compile": ("hwgen.compile", "lower QONNX with FINN to a folded all-RTL dataflow design", 4),
    "verify": ("hwgen.verify", "bit-exact cocotb/Verilator check of the accelerator RTL", 5),
    "report": ("hwgen.report", "throughput, latency, resources and power report", 6),
    "package": ("hwgen.deploy.package", "Vivado scripts, driver and board files for deployment", 7),
    "build-bitstream": ("hwgen.deploy.bitstream", "run the generated Vivado scripts (needs Vivado)", 7),
    "flash": ("hwgen.deploy.flash", "load a built accelerator onto a board", 7),
    "flow": ("hwgen.flow", "the whole path: record, train, export, compile, verify, report, package", 8),
    "drive": ("hwgen.drive", "closed-loop driving in CarRacing with torch, FINN or RTL engines", 8),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hwgen", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_text, issue) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text if module else f"{help_text} (not built yet)")
        if module:
            importlib.import_module(module).configure(p)
        else:
            p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
            p.set_defaults(unbuilt_issue=issue)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    issue = getattr(args, "unbuilt_issue", None)
    if issue is not None:
        print(f"hwgen {args.command}: not built yet (tracked in issue #{issue})", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.main(args) or 0)
    except HwgenError as err:
        print(f"hwgen {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
