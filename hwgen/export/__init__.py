"""`hwgen export`: a trained model -> QONNX (model.onnx) plus golden frames and expected outputs.

Output folder:
  model.onnx            QONNX from Brevitas' exporter, cleaned up by qonnx, input annotated UINT8
  golden/input.npy      uint8 (N, 3, H, W) camera frames (the run's validation set by default)
  golden/expected.npy   float32 (N, 4) PyTorch outputs for them in eval mode
  export.json           written last: preset, bits, input/output layout, output split, counts,
                        and the QONNX-vs-PyTorch check on the first frames
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError

# QONNX execution of the exported graph must reproduce PyTorch to float rounding (design.md: bit-exact)
CHECK_RTOL, CHECK_ATOL = 1e-5, 1e-5


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def _save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array)
    _write_atomic(path, write)


def run_qonnx(onnx_path: Path | str, frames: np.ndarray) -> np.ndarray:
    """Execute a QONNX model with qonnx, frame by frame (the export has batch size 1): (N, 4) float32."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    model = ModelWrapper(str(onnx_path))
    in_name, out_name = model.graph.input[0].name, model.graph.output[0].name
    outputs = [execute_onnx(model, {in_name: frame[None].astype(np.float32)})[out_name]
               for frame in frames]
    return np.concatenate(outputs).astype(np.float32)


def export_model(model, frames: np.ndarray, out_dir: Path | str, *, check_frames: int = 8,
                 extra: dict | None = None) -> dict:
    """Export `model` (a SteeringCNN or any Brevitas module taking uint8 NCHW frames as float) to out_dir.

    frames: uint8 (N, 3, H, W) golden frames. check_frames: how many of them to run through the
    exported QONNX with qonnx and compare against PyTorch (0 skips). Returns the export.json dict.
    """
    import torch

    import hwgen.models  # noqa: F401  (Brevitas shim)
    from brevitas.export import export_qonnx
    from qonnx.core.datatype import DataType
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.util.cleanup import cleanup_model

    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1] != 3 or len(frames) == 0:
        raise HwgenError(f"golden frames: need uint8 (N, 3, H, W) with N >= 1, got {frames.dtype} {frames.shape}")
    out_dir = Path(out_dir)
    (out_dir / "golden").mkdir(parents=True, exist_ok=True)
    (out_dir / "export.json").unlink(missing_ok=True)  # the marker goes last; a stale one would lie

    model = model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(frames).float()).numpy().astype(np.float32)

    onnx_path = out_dir / "model.onnx"
    tmp_onnx = out_dir / "model.onnx.tmp"
    export_qonnx(model, args=torch.from_numpy(frames[:1]).float(), export_path=str(tmp_onnx))
    wrapper = cleanup_model(ModelWrapper(str(tmp_onnx)))
    wrapper.set_tensor_datatype(wrapper.graph.input[0].name, DataType["UINT8"])
    wrapper.save(str(tmp_onnx))
    os.replace(tmp_onnx, onnx_path)
    _save_npy(out_dir / "golden" / "input.npy", frames)
    _save_npy(out_dir / "golden" / "expected.npy", expected)

    check = None
    if check_frames:
        n = min(check_frames, len(frames))
        got = run_qonnx(onnx_path, frames[:n])
        err = np.abs(got - expected[:n])
        check = {"frames": n, "max_abs_error": float(err.max()),
                 "max_rel_error": float((err / np.maximum(np.abs(expected[:n]), 1e-12)).max()),
                 "passed": bool(np.allclose(got, expected[:n], rtol=CHECK_RTOL, atol=CHECK_ATOL))}
        if not check["passed"]:
            raise HwgenError(f"{onnx_path}: QONNX execution differs from PyTorch (max abs error "
                             f"{check['max_abs_error']:.3g}); the model has a layer the exporter does not reproduce")

    from hwgen.models import CLASS_NAMES, OUTPUT_SPLIT
    spec = getattr(model, "spec", {})
    info = {
        "preset": spec.get("name"),
        "spec": spec or None,
        "weight_bits": spec.get("weight_bits"),
        "act_bits": spec.get("act_bits"),
        "model": "model.onnx",
        "input": {"name": wrapper.graph.input[0].name, "shape": [1, *frames.shape[1:]],
                  "layout": "NCHW uint8", "datatype": "UINT8"},
        "output": {"name": wrapper.graph.output[0].name, "shape": [1, expected.shape[1]], "dtype": "float32"},
        "output_split": OUTPUT_SPLIT,
        "class_names": list(CLASS_NAMES),
        "golden": {"input": "golden/input.npy", "expected": "golden/expected.npy", "frames": len(frames)},
        "qonnx_check": check,
        **(extra or {}),
    }
    _write_atomic(out_dir / "export.json", lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
    return info


def export_run(run_dir: Path | str, out_dir: Path | str, frames: int = 64, input_npy: Path | str | None = None,
               check_frames: int = 8) -> dict:
    """Export a finished `hwgen train` run's best checkpoint with golden frames from its validation set
    (the run's val_frames.npy) or from input_npy (uint8 (N, 3, H, W))."""
    from hwgen.train.checkpoint import VAL_FRAMES, load_run_model

    model, run = load_run_model(run_dir)
    source = Path(input_npy) if input_npy is not None else Path(run_dir) / VAL_FRAMES
    if not source.is_file():
        raise HwgenError(f"{source}: missing; pass golden frames with --input FRAMES.npy")
    golden = np.load(source)[:frames]
    expected_shape = tuple(model.spec["input"])
    if golden.ndim != 4 or golden.shape[1:] != expected_shape:
        raise HwgenError(f"{source}: frames of shape {golden.shape}; preset '{model.spec['name']}' needs "
                         f"(N, {', '.join(map(str, expected_shape))}) uint8 (see hwgen.data.frames.to_model_input)")
    return export_model(model, golden, out_dir, check_frames=check_frames,
                        extra={"run": str(Path(run_dir).resolve()), "best_epoch": run.get("best_epoch")})


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="a finished `hwgen train` output folder")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--frames", type=int, default=64, help="golden frames from the validation set (default 64)")
    parser.add_argument("--input", type=Path, help="use these uint8 (N,3,H,W) frames (.npy) as golden input instead")
    parser.add_argument("--check-frames", type=int, default=8,
                        help="frames run through the QONNX with qonnx and compared with PyTorch (0 skips)")


def main(args: argparse.Namespace) -> int:
    info = export_run(args.run, args.out, frames=args.frames, input_npy=args.input, check_frames=args.check_frames)
    check = info["qonnx_check"]
    print(f"exported {info['preset']} to {args.out / 'model.onnx'} with {info['golden']['frames']} golden frames"
          + (f"; QONNX matches PyTorch on {check['frames']} frames (max abs error {check['max_abs_error']:.2g})"
             if check else ""))
    return 0
