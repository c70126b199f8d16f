"""Print the markdown accuracy table of docs/training.md from finished `hwgen train` run folders."""
import json
import sys
from pathlib import Path


def main(out: str) -> None:
    print("| run | preset | init | epochs run | best epoch | val steering acc | val loss | val throttle MSE | s/epoch |")
    print("|---|---|---|---|---|---|---|---|---|")
    baseline = None
    for run_json in sorted(Path(out).glob("*/run.json")):
        run = json.loads(run_json.read_text())
        best, history = run["best"], json.loads((run_json.parent / "metrics.json").read_text())
        seconds = sum(h["seconds"] for h in history) / len(history)
        init = Path(run["options"]["init"]).name if run["options"]["init"] else "scratch"
        print(f"| {run_json.parent.name} | {run['preset']} | {init} | {run['epochs_run']} | {run['best_epoch'] + 1} "
              f"| {100 * best['val_accuracy']:.1f}% | {best['val_loss']:.4f} | {best['val_throttle_mse']:.4f} "
              f"| {seconds:.0f} |")
        baseline = run
    if baseline:
        print(f"\nvalidation: {baseline['val_frames']} frames from sessions {', '.join(baseline['val_sessions'])}; "
              f"training: {baseline['train_frames']} frames; class counts {baseline['val_class_counts']}; "
              f"majority-class baseline {100 * baseline['val_majority_baseline']:.1f}%")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/train")
