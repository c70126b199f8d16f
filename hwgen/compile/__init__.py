"""`hwgen compile`: a Brevitas QONNX model -> a folded, all-RTL FINN dataflow accelerator for a board.

See hwgen/compile/build.py for the output folder and docs/compile.md for the JSON files.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hwgen.errors import HwgenError


def compile_model(*args, **kwargs) -> dict:
    """See hwgen.compile.build.compile_model (imported lazily: it pulls in FINN)."""
    from hwgen.compile.build import compile_model as build

    return build(*args, **kwargs)


def _fps(text: str):
    if text == "max":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive number of frames per second or 'max'")
    return value


def _limits(text: str) -> dict:
    limits = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        try:
            limits[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{item}' is not RESOURCE=FRACTION (e.g. LUT=0.7)") from None
        if not 0 < limits[name.strip()] <= 1:
            raise argparse.ArgumentTypeError(f"'{item}': the fraction must be in (0, 1]")
    return limits


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="QONNX model (e.g. model.onnx from `hwgen export`)")
    parser.add_argument("--board", required=True, help="target board (see `hwgen boards`)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--clock-mhz", type=float, help="fabric clock (default: the board's default)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--fps", type=_fps, help="frames/s to fold for, or 'max' for the fastest that fits "
                                                "the board's budget (default 1000)")
    group.add_argument("--folding", type=Path, help="a folding.json (e.g. an edited one from an earlier build)")
    parser.add_argument("--golden", type=Path, help="folder with input.npy/expected.npy for the Python check "
                                                    "(default: golden/ next to the model)")
    parser.add_argument("--limits", type=_limits, help="usable fraction per resource, e.g. LUT=0.7,DSP=0.8 "
                                                       "(default: the board's practical limits)")
    parser.add_argument("--verify-frames", type=int, help="check only the first N golden frames")


def main(args: argparse.Namespace) -> int:
    summary = compile_model(args.model, args.board, args.out, clock_mhz=args.clock_mhz, fps=args.fps,
                            folding=args.folding, golden_dir=args.golden, limits=args.limits,
                            verify_frames=args.verify_frames)
    res = summary["resources_total"]
    check = summary["verify_python"]
    print(f"compiled {args.model} for {summary['board']} at {summary['clock_mhz']:g} MHz in {summary['seconds']:.1f} s: "
          f"{len(summary['nodes'])} RTL nodes, {summary['expected_fps']:,.1f} FPS expected "
          f"(II {summary['expected_ii_cycles']:,} cycles, bottleneck {summary['bottleneck_layer']}); "
          f"FINN estimate LUT {res['LUT']:,.0f}, BRAM18 {res['BRAM_18K']:,.0f}, URAM {res['URAM']:,.0f}, "
          f"DSP {res['DSP']:,.0f}")
    if "skipped" in check:
        print(f"Python golden check skipped: {check['skipped']}")
    else:
        print(f"Python golden check: {check['frames']} frames, {check['mismatch_count']} mismatches "
              f"(max rel error {check['max_rel_error']:.2g})")
    print(f"outputs in {args.out} (compile.json, estimates.json, software.json, folding.json, ip/)")
    return 0


__all__ = ["compile_model", "configure", "main", "HwgenError"]
