"""Run folder files: best.pt (model for export), last.pt (everything to resume), run.json (finished marker).

best.pt: {"spec", "model" (state_dict), "epoch", "metrics"}.
last.pt: best.pt's fields for the latest epoch plus "optimizer", "history", "best", "stale_epochs",
         "scale_stats" (see scale_stats()).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from hwgen.errors import HwgenError

BEST, LAST, RUN_JSON, VAL_FRAMES = "best.pt", "last.pt", "run.json", "val_frames.npy"


def save(obj: dict, path: Path) -> None:
    import torch

    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # an interruption never leaves a truncated checkpoint


def load(path: Path) -> dict:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except (OSError, RuntimeError, EOFError) as err:
        raise HwgenError(f"{path}: unreadable checkpoint ({err})") from None


def scale_stats(model) -> dict:
    """State of Brevitas activation scales still collecting statistics (the first training steps).

    Brevitas keeps the step counter and running statistics outside the state_dict, and loading a
    state_dict ends collection, so a resumed run would diverge from an uninterrupted one."""
    return {name: {"counter": module.counter, "buffer": module.buffer.clone()}
            for name, module in model.named_modules()
            if hasattr(module, "collect_stats_steps") and module.counter <= module.collect_stats_steps}


def restore_scale_stats(model, stats: dict) -> None:
    import torch

    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, state in stats.items():
            module = modules[name]
            module.counter = state["counter"]
            module.buffer.copy_(state["buffer"])
            module.value.fill_(1.0)  # Brevitas multiplies this initial 1.0 by the statistics when collection ends


def checkpoint_path(run_or_ckpt: Path | str) -> Path:
    """A run folder means its best.pt; a file is used as is."""
    path = Path(run_or_ckpt)
    if path.is_dir():
        path = path / BEST
    if not path.is_file():
        raise HwgenError(f"{path}: no checkpoint; pass a `hwgen train` run folder or a .pt file")
    return path


def load_run(run_dir: Path | str) -> dict:
    path = Path(run_dir) / RUN_JSON
    if not Path(run_dir).is_dir():
        raise HwgenError(f"{run_dir}: no such run folder; pass the --out folder of `hwgen train`")
    if not path.is_file():
        raise HwgenError(f"{path}: missing; {run_dir} is not a finished `hwgen train` run "
                         "(resume it with `hwgen train ... --resume`)")
    return json.loads(path.read_text())


def load_run_model(run_dir: Path | str):
    """(eval-mode model with the run's best weights, run.json dict) of a finished run."""
    from hwgen.models import build_model

    run = load_run(run_dir)
    ckpt = load(checkpoint_path(run_dir))
    model = build_model(ckpt["spec"])
    model.load_state_dict(ckpt["model"])
    return model.eval(), run


def load_init_weights(model, run_or_ckpt: Path | str) -> None:
    """Initialize `model` from another run (e.g. float weights before QAT). Only quantizer state may be
    absent from the source; any other difference in parameter names or shapes is an error."""
    path = checkpoint_path(run_or_ckpt)
    state = load(path)["model"]
    own = model.state_dict()
    bad_shapes = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    unexpected = [k for k in state if k not in own]
    missing = [k for k in own if k not in state and "quant" not in k]
    if bad_shapes or unexpected or missing:
        raise HwgenError(f"{path}: does not fit preset '{model.spec['name']}' (shape differs: {bad_shapes[:3]}, "
                         f"unknown: {unexpected[:3]}, missing: {missing[:3]}); initialize from a run of the "
                         "same architecture (e.g. its float preset)")
    model.load_state_dict(state, strict=False)
