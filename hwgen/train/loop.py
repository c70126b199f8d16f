"""The training loop: seed loss 0.9 x NLL(steering class) + 0.1 x MSE(throttle), Adam, early stopping.

Every epoch writes best.pt (when validation loss improves), last.pt (to resume), metrics.json,
metrics.csv and metrics.png; run.json is written last, when the run has finished. Shuffling,
augmentation and dropout are seeded per epoch (seed, epoch), so a resumed run continues exactly as an
uninterrupted one would.
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hwgen.errors import HwgenError
from hwgen.train import checkpoint as ckpt
from hwgen.train.dataset import Split

STEER_WEIGHT, THROTTLE_WEIGHT = 0.9, 0.1
VAL_FRAMES_KEPT = 256  # validation frames saved in the run for `hwgen export` golden data
METRIC_COLUMNS = ["epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_throttle_mse",
                  "frozen_convs", "seconds"]


@dataclass
class TrainOptions:
    epochs: int = 20
    batch_size: int = 64
    lr: float = 5e-4
    seed: int = 0
    patience: int = 5  # epochs without validation-loss improvement before stopping
    val_fraction: float = 0.2
    augment: bool = True
    init: str | None = None  # run folder or .pt to initialize from (fine-tuning)
    freeze: int = 0  # first N conv blocks frozen ...
    freeze_epochs: int = 0  # ... during the first K epochs
    threads: int | None = None  # torch intra-op threads (None: torch's default)


def seed_loss(y, classes, throttle):
    """(loss, steering accuracy count) of a batch: the seed project's weighted loss."""
    import torch.nn.functional as F

    from hwgen.models import split_outputs

    steer_logits, throttle_pred = split_outputs(y)
    loss = STEER_WEIGHT * F.nll_loss(F.log_softmax(steer_logits, 1), classes) \
        + THROTTLE_WEIGHT * F.mse_loss(throttle_pred, throttle)
    return loss, int((steer_logits.argmax(1) == classes).sum())


def evaluate(model, frames: np.ndarray, classes: np.ndarray, throttle: np.ndarray, batch_size: int) -> dict:
    """Validation metrics of `model` in eval mode: loss, steering accuracy, throttle MSE."""
    import torch

    from hwgen.models import split_outputs

    model.eval()
    loss_sum, correct, sq_err = 0.0, 0, 0.0
    with torch.no_grad():
        for start in range(0, len(frames), batch_size):
            x = torch.from_numpy(frames[start:start + batch_size]).float()
            c = torch.from_numpy(classes[start:start + batch_size])
            t = torch.from_numpy(throttle[start:start + batch_size])
            y = model(x)
            loss, ok = seed_loss(y, c, t)
            loss_sum += float(loss) * len(x)
            correct += ok
            sq_err += float(((split_outputs(y)[1] - t) ** 2).sum())
    n = len(frames)
    return {"val_loss": loss_sum / n, "val_accuracy": correct / n, "val_throttle_mse": sq_err / n}


def _set_frozen(model, n_blocks: int) -> None:
    """Freeze conv weights and BatchNorm (parameters and statistics) of the first n conv blocks and
    unfreeze the rest. Activation quantizers stay trainable: their scales are new in QAT."""
    for i, block in enumerate(model.conv_blocks):
        frozen = i < n_blocks
        conv, batch_norm = block[0], block[1]
        for p in (*conv.parameters(), *batch_norm.parameters()):
            p.requires_grad_(not frozen)
        if frozen:
            batch_norm.eval()


def _write_metrics(out: Path, history: list[dict]) -> None:
    (out / "metrics.json").write_text(json.dumps(history, indent=2) + "\n")
    with open(out / "metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=METRIC_COLUMNS)
        writer.writeheader()
        writer.writerows(history)
    _plot(out / "metrics.png", history)


def _plot(path: Path, history: list[dict]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss (0.9 NLL + 0.1 MSE)", title="loss")
    ax_acc.plot(epochs, [h["train_accuracy"] for h in history], label="train")
    ax_acc.plot(epochs, [h["val_accuracy"] for h in history], label="validation")
    ax_acc.set(xlabel="epoch", ylabel="steering class accuracy", title="steering accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def train_on_split(split: Split, spec: dict, out: Path | str, options: TrainOptions, resume: bool = False,
                   data_info: dict | None = None) -> dict:
    """Train the preset `spec` on `split`, writing the run folder `out`. Returns the run.json dict."""
    import torch
    from tqdm import tqdm

    from hwgen.models import build_model
    from hwgen.train.augment import augment

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    last_path = out / ckpt.LAST
    if not resume and (last_path.exists() or (out / ckpt.RUN_JSON).exists()):
        raise HwgenError(f"{out}: already holds a run; pass --resume to continue it or choose another --out")
    if options.threads:
        torch.set_num_threads(options.threads)
    if len(split.train_frames) == 0 or len(split.val_frames) == 0:
        raise HwgenError("training data: the session split left no training or no validation frames; "
                         "record more sessions (episodes) or change --val-fraction")

    torch.manual_seed(options.seed)
    model = build_model(spec)
    optimizer = torch.optim.Adam(model.parameters(), lr=options.lr)
    history: list[dict] = []
    best = {"epoch": None, "val_loss": float("inf")}
    stale_epochs, first_epoch = 0, 0
    if resume and last_path.exists():
        state = ckpt.load(last_path)
        if state["spec"] != model.spec:
            raise HwgenError(f"{last_path}: was trained with preset '{state['spec']['name']}' and other "
                             "settings; resume with the same preset and options")
        model.load_state_dict(state["model"])
        ckpt.restore_scale_stats(model, state["scale_stats"])
        optimizer.load_state_dict(state["optimizer"])
        history, best, stale_epochs = state["history"], state["best"], state["stale_epochs"]
        first_epoch = state["epoch"] + 1
        print(f"resuming {out} after epoch {state['epoch']}")
    elif options.init:
        ckpt.load_init_weights(model, options.init)
    np.save(out / ckpt.VAL_FRAMES, split.val_frames[:VAL_FRAMES_KEPT])

    started = time.time()
    n_train = len(split.train_frames)
    for epoch in range(first_epoch, options.epochs):
        if stale_epochs >= options.patience:
            break
        epoch_start = time.time()
        torch.manual_seed(options.seed * 100_003 + epoch)  # dropout, per epoch
        generator = torch.Generator().manual_seed(options.seed * 100_003 + epoch)
        frozen = options.freeze if epoch < options.freeze_epochs else 0
        model.train()
        _set_frozen(model, frozen)
        order = torch.randperm(n_train, generator=generator).numpy()
        loss_sum, correct = 0.0, 0
        batches = range(0, n_train, options.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{options.epochs}", unit="batch", leave=False)
        for start in bar:
            idx = np.sort(order[start:start + options.batch_size])
            x = torch.from_numpy(split.train_frames[idx])
            x = augment(x, generator) if options.augment else x.float()
            c = torch.from_numpy(split.train_classes[idx])
            t = torch.from_numpy(split.train_throttle[idx])
            loss, ok = seed_loss(model(x), c, t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(idx)
            correct += ok
            bar.set_postfix(loss=f"{loss_sum / (start + len(idx)):.4f}")
        metrics = {"epoch": epoch, "train_loss": loss_sum / n_train, "train_accuracy": correct / n_train,
                   **evaluate(model, split.val_frames, split.val_classes, split.val_throttle, options.batch_size),
                   "frozen_convs": frozen, "seconds": round(time.time() - epoch_start, 2)}
        history.append(metrics)
        if metrics["val_loss"] < best["val_loss"]:
            best, stale_epochs = dict(metrics), 0
            ckpt.save({"spec": model.spec, "model": model.state_dict(), "epoch": epoch, "metrics": metrics},
                      out / ckpt.BEST)
        else:
            stale_epochs += 1
        ckpt.save({"spec": model.spec, "model": model.state_dict(), "epoch": epoch, "metrics": metrics,
                   "optimizer": optimizer.state_dict(), "history": history, "best": best,
                   "stale_epochs": stale_epochs, "scale_stats": ckpt.scale_stats(model)}, last_path)
        _write_metrics(out, history)
        print(f"epoch {epoch + 1}/{options.epochs}: train loss {metrics['train_loss']:.4f} "
              f"acc {metrics['train_accuracy']:.3f} | val loss {metrics['val_loss']:.4f} "
              f"acc {metrics['val_accuracy']:.3f} throttle mse {metrics['val_throttle_mse']:.4f}"
              + (f" (first {frozen} convs frozen)" if frozen else ""))

    if best["epoch"] is None:
        raise HwgenError(f"{out}: no epoch was trained (--epochs {options.epochs}); raise --epochs")
    counts = np.bincount(split.val_classes, minlength=3)
    run = {
        "preset": model.spec["name"],
        "spec": model.spec,
        "options": asdict(options),
        **(data_info or {}),
        "train_frames": int(n_train),
        "val_frames": int(len(split.val_frames)),
        "train_sessions": split.train_sessions,
        "val_sessions": split.val_sessions,
        "val_class_counts": {"left": int(counts[0]), "straight": int(counts[1]), "right": int(counts[2])},
        # accuracy of always answering the most frequent validation class: the bar a model must clear
        "val_majority_baseline": float(counts.max() / counts.sum()),
        "epochs_run": len(history),
        "stopped_early": len(history) < options.epochs,
        "best_epoch": best["epoch"],
        "best": best,
        "seconds_this_session": round(time.time() - started, 1),
    }
    tmp = out / (ckpt.RUN_JSON + ".tmp")
    tmp.write_text(json.dumps(run, indent=2) + "\n")
    os.replace(tmp, out / ckpt.RUN_JSON)
    return run


def train_run(tubs: list[str | Path], preset: str | dict, out: Path | str, options: TrainOptions | None = None,
              resume: bool = False, **overrides) -> dict:
    """`hwgen train` as a function: read tubs, split by session, train, write the run folder."""
    from hwgen.models import resolve_preset
    from hwgen.train.dataset import load_split

    options = options or TrainOptions()
    spec = resolve_preset(preset, **overrides)
    tubs = [str(Path(t).resolve()) for t in tubs]
    split = load_split(tubs, spec, options.val_fraction, options.seed)
    return train_on_split(split, spec, out, options, resume, data_info={"data": tubs})
