"""`hwgen verify`: stream frames through the stitched accelerator RTL on Verilator and check every
output against the PyTorch model, bit-exactly, under random stalls.

Reads DIR/compile.json, DIR/software.json, DIR/rtl/hwgen_top.{f,json} (written by compile) and the
golden frames (the ones compile checked, or --input/--expected). Writes DIR/verify_rtl.json and
DIR/fifo_depths.json (each FIFO's depth, its reason and its measured high-water marks; fifos.py).
Frames go in as raw uint8 in the model's layout (NCHW) or the accelerator's (NHWC).
"""
from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.paths import RTL_DIR, SIM_DIR
from hwgen.rtlgen.stitch import TOP, load_top
from hwgen.verify.fifos import write_fifo_depths

CALM_FRAMES = 3  # frames streamed without stalls first, to measure the design's own II and latency
WATCHDOG_MIN_CYCLES = 200_000


def watchdog_cycles(compiled: dict) -> int:
    """Cycles without progress after which the harness gives up on a build (compile.json's dict):
    the first output of a large design comes after more than one II."""
    return max(WATCHDOG_MIN_CYCLES, 20 * int(compiled.get("expected_ii_cycles") or 0))


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise HwgenError(f"{path}: missing; {what}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise HwgenError(f"{path}: not valid JSON ({err})") from err


def _load_npy(path: Path, what: str) -> np.ndarray:
    try:
        return np.load(path)
    except (OSError, ValueError) as err:
        raise HwgenError(f"{path}: cannot read {what} ({err})") from err


def accelerator_frames(frames: np.ndarray, software: dict, path: Path) -> np.ndarray:
    """uint8 frames in the model's layout (e.g. NCHW) or the accelerator's (NHWC) -> accelerator's."""
    from hwgen.compile.software import apply_preprocess

    if frames.dtype != np.uint8:
        raise HwgenError(f"{path}: frames must be uint8 camera pixels, got {frames.dtype}")
    model_shape = tuple(software["model_input"]["shape"][1:])
    accel_shape = tuple(software["input"]["shape"][1:])
    if frames.shape[1:] == accel_shape:
        return frames
    if frames.shape[1:] == model_shape:
        return apply_preprocess(frames, software)
    raise HwgenError(f"{path}: frames of shape {frames.shape[1:]}; this accelerator takes "
                     f"{model_shape} ({software['model_input']['layout']}) or {accel_shape} "
                     f"({software['input']['layout']})")


def pack_beats(frames: np.ndarray, stream: dict) -> list[int]:
    """Frames -> one integer per AXI-Stream beat, packed as FINN's own RTL simulation packs them."""
    from finn.util.data_packing import npy_to_rtlsim_input
    from qonnx.core.datatype import DataType

    folded = [len(frames), *stream["folded_shape"][1:]]
    return npy_to_rtlsim_input(frames.astype(np.float32).reshape(folded), DataType[stream["datatype"]],
                               stream["width_bits"])


def unpack_beats(beats: list[int], frames: int, stream: dict) -> np.ndarray:
    """Output beats -> (frames, elements) integers, as FINN's RTL simulation unpacks them."""
    from finn.util.data_packing import rtlsim_output_to_npy
    from qonnx.core.datatype import DataType

    folded = [frames, *stream["folded_shape"][1:]]
    dtype = DataType[stream["datatype"]]
    out = rtlsim_output_to_npy(beats, None, dtype, folded, stream["width_bits"], dtype.bitwidth())
    return np.asarray(out).reshape(frames, -1)


def _timing(rows: list[tuple], calm: int, clock_mhz: float) -> dict:
    last_out = [r[2] for r in rows]
    # steady state: completion intervals between calm frames, skipping the first (pipeline fill)
    gaps = [b - a for a, b in zip(last_out[:calm], last_out[1:calm])]
    steady = gaps[1:] or gaps
    ii = int(statistics.median(steady)) if steady else None
    return {"ii_cycles": ii, "latency_cycles": last_out[0] - rows[0][1] + 1,
            "latency_us": round((last_out[0] - rows[0][1] + 1) / clock_mhz, 3),
            "fps": round(clock_mhz * 1e6 / ii, 1) if ii else None,
            "ii_measured_over_frames": len(steady) + 1 if steady else 0}


def simulation_sources(files: list[str]) -> list[Path]:
    """The top's file list with FINN's add_multi.sv (which Verilator cannot elaborate: a constant
    function inside a generate block) replaced by our cycle-equivalent rtl/add_multi.sv."""
    return [RTL_DIR / "add_multi.sv" if Path(f).name == "add_multi.sv" and "finn-rtllib" in Path(f).parts
            else Path(f) for f in files]


def run_stream(rtl_info: Path, frames: np.ndarray, work: Path, sim_build: Path, *, stall: float = 0.0,
               seed: int = 0, calm: int | None = None, watchdog: int = WATCHDOG_MIN_CYCLES, waves: bool = False,
               build_args: tuple = (), plusargs: tuple = ()) -> dict:
    """Stream accelerator-layout `frames` through the stitched top described by `rtl_info`
    (<top>.json from the stitcher) in the SV harness. Returns {"outputs": (N, K) integers or None
    if the run did not complete, "timing": [(frame, first_in, last_out)], "report": the testbench
    report, "error": str or None, "wall_seconds"}. Nothing per cycle runs in Python."""
    from sim.runner import run_cocotb

    rtl_dir = rtl_info.parent
    top = load_top(rtl_info)
    n = len(frames)
    work = work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    for name in top["meminit_files"]:  # HDL loads these relative to the simulator's folder
        link = work / name
        link.unlink(missing_ok=True)
        link.symlink_to((rtl_dir / name).resolve())
    (work / "input.hex").write_text("".join(f"{b:x}\n" for b in pack_beats(frames, top["s_axis"])))
    for name in ("output.hex", "timing.txt", "report.json"):
        (work / name).unlink(missing_ok=True)
    fifo = lambda b, signal: f"{b['node']}_{signal}" if b["module"] == "axis_fifo" else None  # noqa: E731
    streams = [{"name": f"{b['node']} input", "wire": f"st{i}", "count": fifo(b, "count"), "max": fifo(b, "max")}
               for i, b in enumerate(top["blocks"])]
    started = time.perf_counter()
    error = None
    try:
        # only the signals stream_tb.vlt names are visible to cocotb: 2.5x the speed of all public
        run_cocotb([SIM_DIR / "stream_tb.sv", SIM_DIR / "stream_tb.vlt", *simulation_sources(top["files"]),
                    rtl_dir / "lint.vlt"],
                   "stream_tb", "sim.tb_stream", build_dir=sim_build, test_dir=work,
                   parameters={"IN_W": top["s_axis"]["width_bits"], "OUT_W": top["m_axis"]["width_bits"],
                               "IN_BEATS": top["s_axis"]["beats_per_frame"],
                               "OUT_BEATS": top["m_axis"]["beats_per_frame"]},
                   defines={"DUT": top["top"]}, build_args=["--no-timing", "--no-public-flat-rw", "-Wno-fatal", *build_args],
                   waves=waves,
                   extra_env={"HWGEN_STREAMS": json.dumps(streams), "HWGEN_REPORT": str(work / "report.json")},
                   plusargs=[f"+in={work / 'input.hex'}", f"+out={work / 'output.hex'}",
                             f"+timing={work / 'timing.txt'}", f"+frames={n}",
                             f"+stall_permille={round(stall * 1000)}", f"+calm_frames={n if calm is None else calm}",
                             f"+watchdog={watchdog}", f"+verilator+seed+{seed}", *plusargs])
    except HwgenError as err:
        error = str(err)
    wall = time.perf_counter() - started
    report = json.loads((work / "report.json").read_text()) if (work / "report.json").is_file() else {}
    lines = (work / "output.hex").read_text().split() if (work / "output.hex").is_file() else []
    complete = len(lines) == n * top["m_axis"]["beats_per_frame"] and not report.get("stalled")
    timing_file = work / "timing.txt"
    return {"outputs": unpack_beats([int(v, 16) for v in lines], n, top["m_axis"]) if complete else None,
            "output_beats": len(lines),
            "timing": [tuple(int(v) for v in line.split()) for line in timing_file.read_text().splitlines()
                       if line.strip()] if complete else [],
            "report": report, "wall_seconds": round(wall, 2),
            "error": None if complete else error or "simulation ended before every output beat arrived"}


def verify_rtl(build_dir, input_path=None, expected_path=None, frames: int | None = None,
               stall: float = 0.0, seed: int = 0, waves: bool = False) -> dict:
    """Simulate DIR's accelerator on golden (or given) frames; returns and writes verify_rtl.json."""
    from hwgen.compile.software import apply_postprocess, compare_outputs

    build_dir = Path(build_dir)
    summary = _read_json(build_dir / "compile.json", "run `hwgen compile` first (no finished build here)")
    software = _read_json(build_dir / "software.json", "re-run `hwgen compile`")
    rtl_info = build_dir / "rtl" / f"{TOP}.json"
    top = _read_json(rtl_info, "re-run `hwgen compile` (no stitched RTL)")
    if not 0.0 <= stall < 1.0:
        raise HwgenError(f"--stall {stall}: a probability in [0, 1) is needed")
    if input_path is None or expected_path is None:
        if input_path is not None or expected_path is not None:
            raise HwgenError("give --input and --expected together")
        golden = _read_json(build_dir / "verify_python.json", "re-run `hwgen compile`").get("golden_dir")
        if golden is None:
            raise HwgenError(f"{build_dir}: compile had no golden frames; give --input X.npy --expected Y.npy")
        input_path, expected_path = Path(golden) / "input.npy", Path(golden) / "expected.npy"
    input_path, expected_path = Path(input_path), Path(expected_path)
    x = _load_npy(input_path, "input frames")
    expected = _load_npy(expected_path, "expected outputs")
    if len(x) != len(expected):
        raise HwgenError(f"{input_path} has {len(x)} frames but {expected_path} has {len(expected)} outputs")
    n = len(x) if frames is None else min(frames, len(x))
    if n < 1:
        raise HwgenError(f"{input_path}: no frames to verify")
    x, expected = accelerator_frames(x[:n], software, input_path), expected[:n].reshape(n, -1)

    calm = n if stall == 0 else min(CALM_FRAMES, n // 2)
    expected_ii = int(summary.get("expected_ii_cycles") or 0)
    run = run_stream(rtl_info, x, build_dir / "verify", build_dir / "sim_build", stall=stall, seed=seed,
                     calm=calm, watchdog=watchdog_cycles(summary), waves=waves)
    report = run["report"]
    result = {"frames": n, "stall_probability": stall, "seed": seed, "calm_frames": calm,
              "input": str(input_path.resolve()), "expected": str(expected_path.resolve()),
              "clock_mhz": summary["clock_mhz"], "expected_ii_cycles": expected_ii or None,
              "wall_seconds": run["wall_seconds"], "frames_per_wall_second": round(n / run["wall_seconds"], 2),
              "sim_cycles": report.get("cycles"), "stalled": report.get("stalled"),
              "stall_report": report.get("streams", []), "tlast_errors": report.get("tlast_errors")}
    if run["outputs"] is not None:
        result.update(compare_outputs(apply_postprocess(run["outputs"], software), expected))
        result.update(_timing(run["timing"], calm, summary["clock_mhz"]))
        if result["ii_cycles"] and expected_ii:
            result["ii_vs_expected"] = round(result["ii_cycles"] / expected_ii, 3)
    else:
        result.update({"mismatch_count": None, "output_beats": run["output_beats"], "error": run["error"]})
    result["passed"] = bool(run["outputs"] is not None and result["mismatch_count"] == 0
                            and result["tlast_errors"] == 0)
    write_fifo_depths(build_dir, top, report, result, summary.get("bottleneck_layer"))
    tmp = build_dir / "verify_rtl.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, build_dir / "verify_rtl.json")
    return result


def configure(parser) -> None:
    parser.add_argument("dir", type=Path, help="a build folder written by `hwgen compile`")
    parser.add_argument("--input", type=Path, help="uint8 frames .npy, NCHW (model layout) or NHWC")
    parser.add_argument("--expected", type=Path, help="the PyTorch model's outputs for them (.npy)")
    parser.add_argument("--frames", type=int, help="verify only the first N frames")
    parser.add_argument("--stall", type=float, default=0.1,
                        help="probability of an input gap / output backpressure per cycle (default 0.1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random stalls")
    parser.add_argument("--waves", action="store_true", help="dump waveforms (slower; rebuilds the model)")
    parser.add_argument("--size-fifos", action="store_true",
                        help="first size every FIFO by simulation (one frame deep, then its high-water mark + 1), "
                             "rewrite DIR's dataflow.onnx and rtl/ with those depths (fifo_sizing.json), then verify")
    parser.add_argument("--per-node", action="store_true",
                        help="instead, check every node alone on random inputs against FINN's Python execution "
                             "of it (localizes a mismatch; --frames per node, default 2); writes verify_nodes.json")
    parser.add_argument("--node", action="append", metavar="NAME",
                        help="check only this node alone (repeatable; implies --per-node)")


def main(args) -> int:
    if args.per_node or args.node:
        from hwgen.verify.nodes import main as per_node_main

        return per_node_main(args)
    if args.size_fifos:
        from hwgen.verify.fifos import size_fifos

        sizing = size_fifos(args.dir)
        print(f"verify: FIFOs sized by simulation: {sizing['words_total']} words in all; II "
              f"{sizing['ii_cycles_frame_deep']} cycles with frame-deep FIFOs, {sizing['ii_cycles_sized']} sized "
              f"-> {Path(args.dir) / 'fifo_sizing.json'}")
    r = verify_rtl(args.dir, args.input, args.expected, args.frames, args.stall, args.seed, args.waves)
    if r.get("mismatch_count") is None:
        where = "; ".join(f"{s['stream']}: tvalid={s['tvalid']} tready={s['tready']}"
                          + (f" fifo={s['fifo_count']}" if "fifo_count" in s else "")
                          for s in r["stall_report"])
        print(f"verify: FAILED: {r['error']}" + (f"\nstreams at the stall: {where}" if where else ""))
        print(f"        to find the failing node: hwgen verify {args.dir} --per-node")
        return 1
    print(f"verify: {r['frames']} frames, {r['mismatch_count']} mismatching outputs "
          f"(max rel error {r['max_rel_error']:.2e}), stall p={r['stall_probability']}")
    print(f"        II {r['ii_cycles']} cycles (compile expected {r['expected_ii_cycles']}), latency "
          f"{r['latency_cycles']} cycles = {r['latency_us']} us, {r['fps']} FPS at {r['clock_mhz']:g} MHz; "
          f"{r['frames_per_wall_second']} frames per wall-clock second")
    for m in r["mismatches"]:
        print(f"        mismatch: frame {m['frame']} output {m['index']}: expected {m['expected']}, got {m['got']}")
    if r["tlast_errors"]:
        print(f"        {r['tlast_errors']} output beats with a wrong tlast")
    if not r["passed"]:
        print(f"        to find the failing node: hwgen verify {args.dir} --per-node")
    print(f"        -> {Path(args.dir) / 'verify_rtl.json'}")
    return 0 if r["passed"] else 1
