"""`hwgen drive`: a trained model drives CarRacing-v3 in closed loop, computed by PyTorch, by FINN's
Python execution of the compiled dataflow graph, or by the Verilator-simulated accelerator RTL
(hardware in the loop); the scripted expert drives through the same loop for comparison.

Control loop (documented in docs/flow.md):
- CarRacing runs at 50 Hz (FPS). The driver decides at CONTROL_HZ = 20 Hz: at env steps whose
  index i (counted from the end of the intro) has i * 20 mod 50 < 20, i.e. i = 0, 3, 5, 8, 10, ...
  (holds of 3 and 2 steps: exactly 20 decisions per simulated second). Each decision takes the
  camera frame of that step (hwgen.data.carracing.camera_frame, then the model's crop and resize by
  hwgen.data.frames.to_model_input, as in training) and sets (angle, throttle) until the next one.
  Gas and brake follow the held throttle setpoint every env step (action_from_controls: the speed
  loop of a DonkeyCar ESC runs on its own, faster than the camera).
- The first INTRO_STEPS (1 s, CarRacing's camera zoom, never recorded for training) the car waits.
- Steering: the class with the highest score; left / straight / right = CLASS_ANGLE (-0.35, 0,
  +0.35), about the mean angle of each class in the expert's recordings (left -0.38, right +0.32
  on the 6,922-frame tub). Throttle: the model's throttle output clipped to [0, 1].
- Agreement: with a reference engine (default for finn/rtl: PyTorch on the run the export came
  from), every decision frame also goes through the reference, and drive.json counts the decisions
  whose steering class and outputs agree under the bit-exact rule (hwgen.compile.software).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.verify import _read_json, watchdog_cycles

CONTROL_HZ = 20
CLASS_ANGLE = (-0.35, 0.0, 0.35)
ENGINES = ("torch", "finn", "rtl", "expert")


def decides(step: int) -> bool:
    """Does the driver take a new decision at env step `step` (1-based, as in drive_episode)?"""
    from hwgen.data.carracing import FPS, INTRO_STEPS

    i = step - 1 - INTRO_STEPS
    return i >= 0 and i * CONTROL_HZ % FPS < CONTROL_HZ


class TorchEngine:
    """The PyTorch model (eval mode) on one uint8 NCHW frame."""
    name = "torch"

    def __init__(self, model):
        self.model, self.spec = model, model.spec

    @classmethod
    def from_run(cls, run_dir: Path) -> "TorchEngine":
        from hwgen.train.checkpoint import load_run_model

        return cls(load_run_model(run_dir)[0])

    def outputs(self, frame: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.model(torch.from_numpy(frame[None]).float()).numpy()[0]


class QonnxEngine:
    """An export folder's model.onnx executed by qonnx (what FINN's front end starts from)."""
    name = "finn"

    def __init__(self, export_dir: Path):
        info = _read_json(export_dir / "export.json", "not a finished `hwgen export` folder")
        self.onnx, self.spec = export_dir / info["model"], info["spec"]

    def outputs(self, frame: np.ndarray) -> np.ndarray:
        from hwgen.export import run_qonnx

        return run_qonnx(self.onnx, frame[None])[0]


class _BuildEngine:
    """Common to the engines that run a `hwgen compile` build: its software pre/post-processing and
    the export it was compiled from (for the model's camera crop and resize)."""

    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        compiled = _read_json(build_dir / "compile.json", "run `hwgen compile` first (no finished build here)")
        self.software = _read_json(build_dir / "software.json", "re-run `hwgen compile`")
        export_json = Path(compiled["model"]).parent / "export.json"
        self.export = _read_json(export_json, f"{build_dir} was compiled from a model without `hwgen export`'s "
                                              "export.json, which says how camera frames are cropped and resized")
        self.spec, self.compiled = self.export["spec"], compiled

    def outputs(self, frame: np.ndarray) -> np.ndarray:
        from hwgen.compile.software import apply_postprocess, apply_preprocess

        raw = self.raw_outputs(apply_preprocess(frame[None], self.software))
        return apply_postprocess(raw, self.software).reshape(-1)


class FinnEngine(_BuildEngine):
    """The compiled dataflow graph executed in Python by FINN (the RTL layers' Python models), as
    compile's golden check runs it."""
    name = "finn"

    def __init__(self, build_dir: Path):
        super().__init__(build_dir)
        from qonnx.core.modelwrapper import ModelWrapper

        from hwgen.compile.finn_env import init_finn

        init_finn(build_dir / "finn_drive")
        self.graph = ModelWrapper(str(build_dir / "dataflow.onnx"))

    def raw_outputs(self, x: np.ndarray) -> np.ndarray:
        from finn.core.onnx_exec import execute_onnx

        name_in, name_out = self.software["input"]["name"], self.software["output"]["name"]
        return execute_onnx(self.graph, {name_in: x.astype(np.float32)})[name_out]


class RtlEngine(_BuildEngine):
    """Every frame through the stitched accelerator RTL on Verilator: one simulation run per frame
    (hwgen.verify.run_stream, no stalls) on the cached simulator build of `hwgen verify`. The
    simulator's console output goes to WORK/sim.log."""
    name = "rtl"

    def __init__(self, build_dir: Path, work: Path):
        super().__init__(build_dir)
        from hwgen.rtlgen.stitch import TOP

        self.rtl_info, self.work = build_dir / "rtl" / f"{TOP}.json", work
        _read_json(self.rtl_info, "re-run `hwgen compile` (no stitched RTL)")
        self.watchdog = watchdog_cycles(self.compiled)
        self.latency_cycles, self.sim_seconds = [], 0.0

    def raw_outputs(self, x: np.ndarray) -> np.ndarray:
        from hwgen.quiet import output_to
        from hwgen.verify import run_stream

        self.work.mkdir(parents=True, exist_ok=True)
        with output_to(self.work / "sim.log", "a"):
            run = run_stream(self.rtl_info, x, self.work / "sim", self.build_dir / "sim_build",
                             watchdog=self.watchdog)
        if run["outputs"] is None:
            raise HwgenError(f"RTL simulation of frame {len(self.latency_cycles)} failed: {run['error']} "
                             f"(see {self.work / 'sim.log'})")
        self.sim_seconds += run["wall_seconds"]
        (frame, first_in, last_out), = run["timing"]
        self.latency_cycles.append(last_out - first_in + 1)
        return run["outputs"]


def model_engine(engine: str, model: Path, work: Path):
    """The engine object for a model folder: torch takes a `hwgen train` run; finn a build (or an
    export folder: its QONNX through qonnx); rtl a build folder."""
    model = Path(model)
    if not model.is_dir():
        raise HwgenError(f"{model}: no such folder; pass a train run (torch) or a build folder (finn, rtl)")
    if engine == "torch":
        return TorchEngine.from_run(model)
    if engine == "finn":
        return QonnxEngine(model) if (model / "export.json").is_file() else FinnEngine(model)
    if engine == "rtl":
        return RtlEngine(model, work)
    raise HwgenError(f"--engine {engine}: one of {', '.join(ENGINES)}")


def reference_run(engine) -> Path | None:
    """The train run a build or export came from (export.json 'run'), if it is still there."""
    export = getattr(engine, "export", None)
    if export is None and isinstance(engine, QonnxEngine):
        export = json.loads((engine.onnx.parent / "export.json").read_text())
    run = (export or {}).get("run")
    return Path(run) if run and (Path(run) / "run.json").is_file() else None


def decode(outputs: np.ndarray) -> tuple[int, float, float]:
    """Model outputs (4,) -> (steering class, angle, throttle) as the car executes them."""
    from hwgen.models import OUTPUT_SPLIT

    a, b = OUTPUT_SPLIT["steering"]
    steering = int(np.argmax(outputs[a:b]))
    throttle = float(np.clip(outputs[OUTPUT_SPLIT["throttle"][0]], 0.0, 1.0))
    return steering, CLASS_ANGLE[steering], throttle


def drive(engine, episodes: int = 3, seed: int = 0, max_steps: int = 1000, reference=None,
          out_dir: Path | None = None, model: str | None = None, progress=print) -> dict:
    """Drive `episodes` CarRacing episodes (episode k reset with seed + k) with `engine` (an engine
    object, or None for the expert) and return the drive.json dict (also written to out_dir).
    `reference`: an engine run on every decision frame alongside, for the agreement counts."""
    from hwgen.compile.software import compare_outputs
    from hwgen.data.carracing import (FPS, INTRO_STEPS, Expert, camera_frame, drive_episode, episode_line,
                                      make_env)
    from hwgen.data.frames import to_model_input

    if episodes < 1 or max_steps < 1:
        raise HwgenError("drive: --episodes and --max-steps must be at least 1")
    env = make_env(max_steps)
    expert = Expert(env)
    spec = engine.spec if engine is not None else None
    results, agreement = [], {"decisions": 0, "same_steering_class": 0, "same_outputs": 0, "max_rel_error": 0.0}
    started = time.perf_counter()
    for episode in range(episodes):
        held, decisions = (0.0, 0.0), []

        def policy(step, obs):
            nonlocal held
            if step <= INTRO_STEPS:
                return 0.0, 0.0
            if decides(step):
                if engine is None:
                    held = expert.controls()
                else:
                    frame = to_model_input(camera_frame(obs), tuple(spec["input"][1:]), spec.get("crop_top", 0),
                                           spec.get("crop_bottom", 0))
                    y = np.asarray(engine.outputs(frame), dtype=np.float32)
                    steering, angle, throttle = decode(y)
                    held = (angle, throttle)
                    if reference is not None:
                        y_ref = np.asarray(reference.outputs(frame), dtype=np.float32)
                        check = compare_outputs(y[None], y_ref[None])
                        agreement["same_steering_class"] += int(decode(y_ref)[0] == steering)
                        agreement["same_outputs"] += int(check["mismatch_count"] == 0)
                        agreement["max_rel_error"] = max(agreement["max_rel_error"], check["max_rel_error"])
                        agreement["decisions"] += 1
                decisions.append(step)
            return held

        t = time.perf_counter()
        result = drive_episode(env, expert, seed + episode, max_steps, policy=policy)
        results.append({"episode": episode, "seed": seed + episode, **result, "decisions": len(decisions),
                        "wall_seconds": round(time.perf_counter() - t, 1)})
        progress(episode_line(results[-1]))
    env.close()
    wall = time.perf_counter() - started
    summary = {
        "engine": engine.name if engine is not None else "expert",
        "model": model, "preset": spec.get("name") if spec else None,
        "episodes": results, "seed": seed, "max_steps": max_steps,
        "mean_reward": round(float(np.mean([r["reward"] for r in results])), 2),
        "mean_completion": round(float(np.mean([r["completion"] for r in results])), 4),
        "laps_finished": sum(r["lap_finished"] for r in results),
        "decisions": sum(r["decisions"] for r in results),
        "wall_seconds": round(wall, 1),
        "decisions_per_wall_second": round(sum(r["decisions"] for r in results) / wall, 2),
        "agreement": ({"reference": reference.name, **agreement} if reference is not None else None),
        "control": {"sim_fps": FPS, "control_hz": CONTROL_HZ, "class_angle": list(CLASS_ANGLE),
                    "intro_steps_waiting": INTRO_STEPS,
                    "decision_steps": "i * 20 mod 50 < 20, i = env step counted from the end of the intro"},
    }
    if isinstance(engine, RtlEngine):
        summary["rtl"] = {"frames": len(engine.latency_cycles), "sim_wall_seconds": round(engine.sim_seconds, 1),
                          "latency_cycles_min": min(engine.latency_cycles, default=None),
                          "latency_cycles_max": max(engine.latency_cycles, default=None),
                          "one_simulation_per_frame": True}
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / "drive.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
        os.replace(tmp, out_dir / "drive.json")
    return summary


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", type=Path,
                        help="train run folder (torch), build folder (finn, rtl) or export folder (finn)")
    parser.add_argument("--sim", choices=["carracing"], default="carracing", help="simulator (CarRacing-v3)")
    parser.add_argument("--engine", choices=ENGINES, default="torch",
                        help="who computes the actions: PyTorch, FINN's Python execution, the RTL on "
                             "Verilator, or the scripted expert (no MODEL)")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="episode k uses seed + k")
    parser.add_argument("--max-steps", type=int, default=1000, help="env steps per episode (50 per second)")
    parser.add_argument("--out", type=Path, help="folder for drive.json (default MODEL/drive_<engine>)")
    parser.add_argument("--no-compare", action="store_true",
                        help="finn/rtl: do not run PyTorch alongside on every decision frame")


def main(args) -> int:
    if args.engine == "expert":
        engine, out = None, args.out or Path("out/drive_expert")
    else:
        if args.model is None:
            raise HwgenError(f"--engine {args.engine} needs a MODEL folder")
        out = args.out or args.model / f"drive_{args.engine}"
        engine = model_engine(args.engine, args.model, out)
    reference = None
    if engine is not None and engine.name != "torch" and not args.no_compare:
        run = reference_run(engine)
        if run is None:
            print("no train run recorded for this model (export.json 'run'): driving without a PyTorch reference")
        else:
            reference = TorchEngine.from_run(run)
    r = drive(engine, args.episodes, args.seed, args.max_steps, reference, out,
              str(args.model.resolve()) if args.model else None)
    print(f"{r['engine']}: mean reward {r['mean_reward']:.1f}, mean completion {100 * r['mean_completion']:.1f}%, "
          f"{r['laps_finished']}/{len(r['episodes'])} laps, {r['decisions_per_wall_second']} decisions/wall-s")
    a = r["agreement"]
    if a:
        print(f"agreement with {a['reference']}: steering class {a['same_steering_class']}/{a['decisions']}, "
              f"all outputs (bit-exact rule) {a['same_outputs']}/{a['decisions']}, max rel error {a['max_rel_error']:.2e}")
    print(f"-> {out / 'drive.json'}")
    return 0
