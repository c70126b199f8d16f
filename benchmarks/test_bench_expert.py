"""How well the scripted CarRacing expert drives: 3 full episodes (seeds 0-2), track completion and
reward per episode, written to out/bench/expert_carracing.json (`make bench`)."""
import json

import pytest

from hwgen.data.carracing import record
from hwgen.data.tub import read_tubs, summarize
from hwgen.paths import ROOT


@pytest.mark.heavy
def test_expert_full_episodes(tmp_path):
    summary = record(tmp_path / "tub", episodes=3, seed=0, progress=False)
    labels = summarize(read_tubs(tmp_path / "tub"))
    result = {
        "episodes": summary["episodes"],
        "mean_reward": summary["mean_reward"],
        "mean_completion": summary["mean_completion"],
        "steps_per_second": summary["steps_per_second"],
        "frames": summary["frames"],
        "classes": labels["classes"],
        "angle": labels["angle"],
        "throttle": labels["throttle"],
    }
    out = ROOT / "out" / "bench" / "expert_carracing.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    assert summary["mean_completion"] >= 0.95
