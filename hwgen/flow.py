"""`hwgen flow`: the whole path in one command, resumable.

record (or the given tubs) -> train -> export -> compile -> verify -> report -> package, each stage
through its own module's function, into one folder:

  DIR/data/tub/      hwgen data record (skipped when --data names tubs)
  DIR/train/         hwgen train
  DIR/export/        hwgen export
  DIR/build/         hwgen compile, then verify (verify_rtl.json), report, package (deploy/<board>/)
  DIR/logs/<stage>.log   everything the stage printed (the terminal shows one line per stage)
  DIR/flow.json      per stage {key, status, seconds, outputs}, and the summary; rewritten after
                     every stage

Resumption: a stage's key is the hash of its options and of the contents of the files it reads. A
stage whose recorded key matches, whose status is "done" and whose outputs exist is skipped; any
other stage runs, and so does everything after it whose inputs changed as a result. A stage is
recorded as done only after its function returned and its outputs are checked (verify: passed).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.quiet import output_to

FLOW_JSON = "flow.json"
# `make demo`: small enough to finish in about 20 minutes on 2 cores from a fresh machine
DEFAULTS = {"preset": "tiny", "board": "pynq-z2", "episodes": 3, "max_steps": 1000, "record_every": 2,
            "steer_noise": 0.0, "epochs": 10, "seed": 0, "golden_frames": 64, "verify_frames": 16,
            "stall": 0.1}


@dataclass
class Stage:
    name: str
    options: dict  # everything that changes the stage's result
    inputs: list  # files or folders whose contents it reads
    outputs: list  # files that exist after it finished
    run: object  # () -> None, or (resume: bool) -> None when resumable
    resumable: bool = False  # an interrupted attempt with the same key can continue (training)


def _hash_inputs(name: str, options: dict, inputs: list[Path]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"stage": name, "options": options}, sort_keys=True, default=str).encode())
    for root in inputs:
        root = Path(root)
        if not root.exists():
            raise HwgenError(f"{root}: missing; the stage before `{name}` did not write it")
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            digest.update(f"{path.relative_to(root) if root.is_dir() else path.name}\0".encode())
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _stages(out: Path, o: dict) -> list[Stage]:
    """The flow's stages for options `o` (DEFAULTS plus the caller's), in order."""
    from hwgen.compile import compile_model
    from hwgen.data.carracing import record
    from hwgen.deploy.package import package
    from hwgen.export import export_run
    from hwgen.report import report
    from hwgen.train import TrainOptions, train_run
    from hwgen.train.checkpoint import BEST, RUN_JSON, VAL_FRAMES
    from hwgen.verify import verify_rtl

    tub, train, export, build = out / "data" / "tub", out / "train", out / "export", out / "build"
    tubs = [Path(t) for t in o["data"]] if o.get("data") else [tub]
    stages = []

    if not o.get("data"):
        def run_record():
            shutil.rmtree(tub, ignore_errors=True)
            record(tub, o["episodes"], seed=o["seed"], max_steps=o["max_steps"], record_every=o["record_every"],
                   steer_noise=o["steer_noise"], progress=False)
        stages.append(Stage("record", {k: o[k] for k in ("episodes", "seed", "max_steps", "record_every",
                                                         "steer_noise")},
                            [], [tub / "record.json"], run_record))

    def run_train(resume: bool = False):
        if not resume:
            shutil.rmtree(train, ignore_errors=True)
        train_run(tubs, o["preset"], train, TrainOptions(epochs=o["epochs"], seed=o["seed"], threads=o.get("threads")),
                  resume=resume)
    stages.append(Stage("train", {k: o[k] for k in ("preset", "epochs", "seed")}, tubs,
                        [train / RUN_JSON, train / BEST], run_train, resumable=True))

    def run_export():
        shutil.rmtree(export, ignore_errors=True)
        export_run(train, export, frames=o["golden_frames"])
    stages.append(Stage("export", {"frames": o["golden_frames"]}, [train / BEST, train / VAL_FRAMES],
                        [export / "export.json", export / "model.onnx"], run_export))

    def run_compile():
        compile_model(export / "model.onnx", o["board"], build, fps=o.get("fps"), progress=False)
    stages.append(Stage("compile", {"board": o["board"], "fps": o.get("fps")},
                        [export / "model.onnx", export / "golden", export / "export.json"],
                        [build / "compile.json"], run_compile))

    def run_verify():
        result = verify_rtl(build, frames=o["verify_frames"], stall=o["stall"], seed=o["seed"])
        if not result["passed"]:
            raise HwgenError(f"RTL verification failed ({result.get('mismatch_count')} mismatching outputs, "
                             f"error: {result.get('error')}); see {build / 'verify_rtl.json'}")
    stages.append(Stage("verify", {"frames": o["verify_frames"], "stall": o["stall"], "seed": o["seed"]},
                        [build / "compile.json"], [build / "verify_rtl.json"], run_verify))

    stages.append(Stage("report", {}, [build / "compile.json", build / "verify_rtl.json"],
                        [build / "report.json"], lambda: report([build])))

    stages.append(Stage("package", {"board": o["board"]}, [build / "compile.json", build / "software.json"],
                        [build / "deploy" / o["board"] / "deploy.json"], lambda: package(build, o["board"])))
    return stages


def _done(entry: dict | None, key: str, outputs: list[Path]) -> bool:
    return bool(entry) and entry.get("status") == "done" and entry.get("key") == key \
        and all(p.exists() for p in outputs)


def run_flow(out, progress=print, **options) -> dict:
    """Run (or resume) the flow into `out`; returns flow.json. Options: see DEFAULTS, plus `data`
    (tub folders to use instead of recording), `fps` (compile's target) and `threads` (torch).
    progress: called like print with one status line per stage (a running stage's line is
    finished by the next call)."""
    unknown = sorted(set(options) - set(DEFAULTS) - {"data", "fps", "threads"})
    if unknown:
        raise HwgenError(f"flow: unknown option(s) {', '.join(unknown)}")
    o = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    for name in ("episodes", "max_steps", "record_every", "epochs", "golden_frames", "verify_frames"):
        if int(o[name]) < 1:
            raise HwgenError(f"flow: --{name.replace('_', '-')} must be at least 1")
    from hwgen.boards import load_board
    from hwgen.models import resolve_preset

    load_board(o["board"])
    resolve_preset(o["preset"])
    out = Path(out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    flow_path = out / FLOW_JSON
    state = _read_json(flow_path) if flow_path.is_file() else {}
    state.setdefault("stages", {})
    state["options"] = o
    stages = _stages(out, o)
    started = time.perf_counter()
    if o.get("data"):
        state["stages"]["record"] = {"status": "given", "tubs": [str(Path(t).resolve()) for t in o["data"]]}
    for index, stage in enumerate(stages, 1):
        label = f"[{index}/{len(stages)}] {stage.name:<8}"
        key = _hash_inputs(stage.name, stage.options, stage.inputs)
        previous = state["stages"].get(stage.name)
        if _done(previous, key, stage.outputs):
            progress(f"{label} unchanged, skipped (took {previous['seconds']:.1f} s when it ran)")
            continue
        log = out / "logs" / f"{stage.name}.log"
        resume = stage.resumable and bool(previous) and previous.get("key") == key \
            and previous.get("status") != "done"
        state["stages"][stage.name] = {"key": key, "status": "running", "log": str(log)}
        _write_json(flow_path, state)
        progress(f"{label} running ... ", end="", flush=True)
        t = time.perf_counter()
        try:
            with output_to(log):
                stage.run(resume=True) if resume else stage.run()
            missing = [str(p) for p in stage.outputs if not p.exists()]
            if missing:
                raise HwgenError(f"stage {stage.name} finished without writing {', '.join(missing)}")
        except BaseException as err:
            seconds = round(time.perf_counter() - t, 1)
            state["stages"][stage.name].update(status="failed", seconds=seconds,
                                               error=str(err) or type(err).__name__)
            _write_json(flow_path, state)
            progress(f"FAILED after {seconds:.1f} s; see {log}")
            if isinstance(err, HwgenError):
                raise HwgenError(f"stage {stage.name}: {err}") from err
            raise
        seconds = round(time.perf_counter() - t, 1)
        state["stages"][stage.name] = {"key": key, "status": "done", "seconds": seconds,
                                       "outputs": [str(p) for p in stage.outputs], "log": str(log)}
        _write_json(flow_path, state)
        progress(f"done in {seconds:.1f} s")
    state["summary"] = summarize(out, o)
    state["seconds_this_run"] = round(time.perf_counter() - started, 1)
    _write_json(flow_path, state)
    return state


def summarize(out: Path, o: dict) -> dict:
    """The numbers the stages wrote, side by side (nothing here is computed by the flow itself)."""
    build = out / "build"
    run = _read_json(out / "train" / "run.json")
    compiled = _read_json(build / "compile.json")
    verified = _read_json(build / "verify_rtl.json")
    summary = {
        "preset": run["preset"], "board": compiled["board"], "clock_mhz": compiled["clock_mhz"],
        "train_frames": run["train_frames"], "val_frames": run["val_frames"],
        "val_accuracy": run["best"]["val_accuracy"], "val_majority_baseline": run["val_majority_baseline"],
        "expected_fps": compiled["expected_fps"], "fps_rtl": verified["fps"],
        "ii_cycles_rtl": verified["ii_cycles"], "latency_us_rtl": verified["latency_us"],
        "resources_finn_estimate": compiled["resources_total"],
        "bit_exact_frames": verified["frames"] if verified["passed"] else 0, "verified_frames": verified["frames"],
        "verify_stall_probability": verified["stall_probability"],
        "package": str(build / "deploy" / o["board"]),
        "report": _read_json(build / "report.json"),
    }
    if not o.get("data"):
        recorded = _read_json(out / "data" / "tub" / "record.json")
        summary["expert"] = {"episodes": len(recorded["episodes"]), "frames": recorded["frames"],
                             "mean_reward": recorded["mean_reward"], "mean_completion": recorded["mean_completion"]}
    return summary


def _summary_rows(state: dict) -> list[tuple[str, str]]:
    s = state["summary"]
    res = s["resources_finn_estimate"]
    rows = []
    if "expert" in s:
        e = s["expert"]
        rows.append(("data", f"{e['frames']} frames from {e['episodes']} expert episodes "
                             f"(mean reward {e['mean_reward']:.1f}, completion {100 * e['mean_completion']:.1f}%)"))
    rows += [
        ("model", f"{s['preset']}, {s['train_frames']} train / {s['val_frames']} val frames"),
        ("accuracy", f"val steering accuracy {s['val_accuracy']:.3f} (majority baseline "
                     f"{s['val_majority_baseline']:.3f})"),
        ("bit-exact", f"{s['bit_exact_frames']}/{s['verified_frames']} frames identical to PyTorch in RTL "
                      f"simulation (stall p={s['verify_stall_probability']})"),
        ("FPS", f"{s['fps_rtl']:,.0f} measured in RTL simulation at {s['clock_mhz']:g} MHz (II "
                f"{s['ii_cycles_rtl']:,} cycles); FINN estimate {s['expected_fps']:,.0f}"),
        ("latency", f"{s['latency_us_rtl']} us (RTL simulation)"),
        ("resources", f"FINN estimate: LUT {res['LUT']:,.0f}, BRAM18 {res['BRAM_18K']:,.0f}, "
                      f"URAM {res['URAM']:,.0f}, DSP {res['DSP']:,.0f} ({s['board']})"),
    ]
    yosys = s["report"]["totals"]["yosys"]
    if yosys:
        partial = "" if s["report"]["totals"]["yosys_complete"] else ", some layers not synthesized"
        rows.append(("synthesis", f"Yosys synth_xilinx: LUT {yosys['LUT']:,}, FF {yosys['FF']:,}, "
                                  f"BRAM18 {yosys['BRAM_18K']:,}, DSP {yosys['DSP']:,}{partial}"))
    rows.append(("power", _report_power(s["report"])))
    rows.append(("package", s["package"]))
    stages = state["stages"]
    times = [f"{name} {entry['seconds']:.0f} s" for name, entry in stages.items() if "seconds" in entry]
    rows.append(("stage time", ", ".join(times) + " (when each last ran)"))
    return rows


def _report_power(report: dict) -> str:
    parts = []
    if report.get("power_w") is not None:
        parts.append(f"{report['power_w']:.3f} W")
    if report.get("energy") is not None:
        parts.append(f"energy {report['energy']}")
    return ", ".join(parts) or "report has no power figure"


def configure(parser: argparse.ArgumentParser) -> None:
    from hwgen.compile import _fps

    d = DEFAULTS
    parser.add_argument("--preset", default=d["preset"], help=f"model preset (default {d['preset']})")
    parser.add_argument("--board", default=d["board"], help=f"target board (default {d['board']})")
    parser.add_argument("--fps", type=_fps, help="frames/s to fold for, or 'max' (default: compile's default)")
    parser.add_argument("--out", type=Path, default=Path("out/flow"), help="output folder (default out/flow)")
    parser.add_argument("--data", nargs="+", metavar="TUB", help="train on these tubs instead of recording")
    parser.add_argument("--episodes", type=int, default=d["episodes"], help="expert episodes to record")
    parser.add_argument("--max-steps", type=int, default=d["max_steps"], help="steps per recorded episode")
    parser.add_argument("--record-every", type=int, default=d["record_every"], help="record every K-th step")
    parser.add_argument("--steer-noise", type=float, default=d["steer_noise"],
                        help="steering noise while recording (see hwgen data record)")
    parser.add_argument("--epochs", type=int, default=d["epochs"], help="training epochs")
    parser.add_argument("--seed", type=int, default=d["seed"], help="seed of recording, training and stalls")
    parser.add_argument("--golden-frames", type=int, default=d["golden_frames"], help="golden frames exported")
    parser.add_argument("--verify-frames", type=int, default=d["verify_frames"], help="frames simulated in RTL")
    parser.add_argument("--stall", type=float, default=d["stall"], help="verify's stall probability")
    parser.add_argument("--threads", type=int, help="torch CPU threads for training")


def main(args) -> int:
    options = {k: getattr(args, k) for k in (*DEFAULTS, "data", "fps", "threads")}
    print(f"hwgen flow -> {args.out}")
    state = run_flow(args.out, **options)
    rows = _summary_rows(state)
    width = max(len(name) for name, _ in rows)
    print(f"\nsummary ({args.out / FLOW_JSON}):")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    return 0
