"""`hwgen train`: Brevitas QAT (or float) training of the steering CNN on DonkeyCar tubs.

Run folder: best.pt, last.pt, val_frames.npy, metrics.json, metrics.csv, metrics.png and, written
last, run.json (see hwgen.train.loop and docs/training.md). Fine-tuning: train a float preset, then
a quantized one with `--init FLOAT_RUN` and optionally `--freeze N --freeze-epochs K`.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from hwgen.train.loop import TrainOptions, train_on_split, train_run

__all__ = ["TrainOptions", "train_on_split", "train_run", "configure", "main"]


def configure(parser: argparse.ArgumentParser) -> None:
    defaults = TrainOptions()
    parser.add_argument("--data", nargs="+", required=True, metavar="TUB", help="DonkeyCar tub v2 folder(s)")
    parser.add_argument("--preset", required=True, help="model preset (hwgen/models/presets.json), e.g. pilotnet-w4a4")
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--patience", type=int, default=defaults.patience,
                        help="stop after this many epochs without validation-loss improvement")
    parser.add_argument("--val-fraction", type=float, default=defaults.val_fraction,
                        help="share of sessions (episodes) held out for validation")
    parser.add_argument("--no-augment", action="store_true", help="train on the frames as recorded")
    parser.add_argument("--init", metavar="RUN_OR_CKPT", help="initialize weights from a run (e.g. the float run)")
    parser.add_argument("--freeze", type=int, default=0, metavar="N", help="freeze the first N conv layers ...")
    parser.add_argument("--freeze-epochs", type=int, default=0, metavar="K", help="... for the first K epochs")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--weight-bits", type=int, help="override the preset's weight bit width")
    parser.add_argument("--act-bits", type=int, help="override the preset's activation bit width")
    parser.add_argument("--crop-top", type=int, help="override the preset's camera rows cut at the top")
    parser.add_argument("--crop-bottom", type=int, help="override the preset's camera rows cut at the bottom")


def main(args: argparse.Namespace) -> int:
    options = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                           patience=args.patience, val_fraction=args.val_fraction, augment=not args.no_augment,
                           init=args.init, freeze=args.freeze, freeze_epochs=args.freeze_epochs,
                           threads=args.threads)
    run = train_run(args.data, args.preset, args.out, options, resume=args.resume,
                    weight_bits=args.weight_bits, act_bits=args.act_bits, crop_top=args.crop_top,
                    crop_bottom=args.crop_bottom)
    best = run["best"]
    print(f"{args.out}: best epoch {run['best_epoch'] + 1}: val steering accuracy {best['val_accuracy']:.3f} "
          f"(majority baseline {run['val_majority_baseline']:.3f}), val loss {best['val_loss']:.4f}")
    return 0
