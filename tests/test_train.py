"""Training: the tiny preset goes from a recorded tub through training to an export; the loop's
session split, resume, fine-tuning and freezing do what they promise."""
import json

import numpy as np
import pytest
import torch

from hwgen.cli import main as hwgen
from hwgen.errors import HwgenError
from hwgen.export import run_qonnx
from hwgen.train import TrainOptions, train_on_split
from hwgen.train.augment import augment
from hwgen.train.checkpoint import load
from hwgen.train.dataset import Split, validation_mask


def _synthetic_split(n_train=48, n_val=16, seed=0):
    rng = np.random.default_rng(seed)

    def part(n):
        return (rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8), rng.integers(0, 3, n).astype(np.int64),
                rng.uniform(0, 1, n).astype(np.float32))
    return Split(*part(n_train), *part(n_val), val_sessions=["b"], train_sessions=["a"])


def test_tiny_preset_records_trains_and_exports(tmp_path):
    from hwgen.data.carracing import INTRO_STEPS, record

    tub = tmp_path / "tub"
    record(tub, episodes=3, max_steps=INTRO_STEPS + 40, progress=False)  # 40 frames per episode
    run, export = tmp_path / "run", tmp_path / "export"
    assert hwgen(["train", "--data", str(tub), "--preset", "tiny", "--out", str(run), "--epochs", "2",
                  "--batch-size", "16"]) == 0
    info = json.loads((run / "run.json").read_text())
    assert info["preset"] == "tiny" and info["epochs_run"] == 2
    assert info["train_frames"] + info["val_frames"] == 120
    assert info["val_frames"] == 40  # one whole session of three
    assert set(info["val_sessions"]).isdisjoint(info["train_sessions"])
    history = json.loads((run / "metrics.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    assert history[info["best_epoch"]]["val_loss"] == min(h["val_loss"] for h in history)
    assert (run / "metrics.csv").read_text().splitlines()[0].startswith("epoch,train_loss")
    assert (run / "metrics.png").stat().st_size > 0

    assert hwgen(["export", str(run), "--out", str(export), "--frames", "10"]) == 0
    frames = np.load(export / "golden" / "input.npy")
    expected = np.load(export / "golden" / "expected.npy")
    assert frames.shape == (10, 3, 32, 32) and frames.dtype == np.uint8
    np.testing.assert_allclose(run_qonnx(export / "model.onnx", frames), expected, rtol=1e-5, atol=1e-6)
    assert json.loads((export / "export.json").read_text())["best_epoch"] == info["best_epoch"]


def test_session_split_is_deterministic_and_keeps_sessions_whole():
    sessions = np.repeat(np.array(["s0", "s1", "s2", "s3", "s4"]), 10)
    mask, val = validation_mask(sessions, 0.2, seed=3)
    again, _ = validation_mask(sessions, 0.2, seed=3)
    assert np.array_equal(mask, again) and len(val) == 1
    assert set(sessions[mask]) == set(val) and set(val).isdisjoint(sessions[~mask])
    single, _ = validation_mask(np.array(["only"] * 10), 0.2, seed=0)
    assert single.tolist() == [False] * 8 + [True] * 2  # one contiguous block at the end


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    split = _synthetic_split()
    options = TrainOptions(epochs=3, batch_size=16, patience=10)
    straight = train_on_split(split, _spec(), tmp_path / "straight", options)
    train_on_split(split, _spec(), tmp_path / "resumed", TrainOptions(epochs=1, batch_size=16, patience=10))
    (tmp_path / "resumed" / "run.json").unlink()  # as if interrupted after epoch 1
    resumed = train_on_split(split, _spec(), tmp_path / "resumed", options, resume=True)
    def without_time(metrics):
        return {k: v for k, v in metrics.items() if k != "seconds"}
    assert without_time(resumed["best"]) == without_time(straight["best"])
    a, b = load(tmp_path / "straight" / "last.pt"), load(tmp_path / "resumed" / "last.pt")
    assert [without_time(h) for h in a["history"]] == [without_time(h) for h in b["history"]]
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key


def test_an_existing_run_is_not_overwritten(tmp_path):
    split = _synthetic_split()
    train_on_split(split, _spec(), tmp_path, TrainOptions(epochs=1, batch_size=16))
    with pytest.raises(HwgenError, match="--resume"):
        train_on_split(split, _spec(), tmp_path, TrainOptions(epochs=1, batch_size=16))


def test_fine_tuning_starts_from_the_float_run_with_frozen_convs(tmp_path):
    split = _synthetic_split()
    train_on_split(split, _spec("tiny-float"), tmp_path / "float", TrainOptions(epochs=1, batch_size=16))
    float_weights = load(tmp_path / "float" / "best.pt")["model"]
    options = TrainOptions(epochs=1, batch_size=16, init=str(tmp_path / "float"), freeze=2, freeze_epochs=1,
                           patience=10)
    train_on_split(split, _spec(), tmp_path / "qat", options)
    after_frozen = load(tmp_path / "qat" / "last.pt")["model"]
    for key in ("features.0.0.weight", "features.1.0.weight", "features.0.1.running_mean"):
        assert torch.equal(after_frozen[key], float_weights[key]), key  # frozen: untouched
    assert not torch.equal(after_frozen["features.2.0.weight"], float_weights["features.2.0.weight"])
    (tmp_path / "qat" / "run.json").unlink()
    options.epochs = 2
    train_on_split(split, _spec(), tmp_path / "qat", options, resume=True)
    unfrozen = load(tmp_path / "qat" / "last.pt")["model"]
    assert not torch.equal(unfrozen["features.0.0.weight"], float_weights["features.0.0.weight"])


def test_init_from_another_architecture_is_refused(tmp_path):
    split = _synthetic_split()
    train_on_split(split, _spec("tiny-float"), tmp_path / "float", TrainOptions(epochs=1, batch_size=16))
    wider = _spec()
    wider["fc"] = [32]
    with pytest.raises(HwgenError, match="does not fit"):
        train_on_split(split, wider, tmp_path / "qat", TrainOptions(epochs=1, init=str(tmp_path / "float")))


def test_augmentation_keeps_whole_8bit_pixels_and_changes_frames():
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8))
    out = augment(frames, torch.Generator().manual_seed(0))
    assert out.shape == frames.shape
    assert out.min() >= 0 and out.max() <= 255 and torch.equal(out, out.round())
    assert not torch.equal(out, frames.float())
    assert torch.equal(out, augment(frames, torch.Generator().manual_seed(0)))


def _spec(name="tiny"):
    from hwgen.models import resolve_preset
    return resolve_preset(name)
