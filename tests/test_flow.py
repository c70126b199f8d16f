"""hwgen flow end to end on the tiny preset with a very small recording, and its resumption."""
import json

import pytest

from hwgen.errors import HwgenError
from hwgen.flow import run_flow

SMALL = {"episodes": 1, "max_steps": 110, "epochs": 1, "golden_frames": 8, "verify_frames": 3, "stall": 0.0}


def _flow(out, **options):
    lines = []
    state = run_flow(out, progress=lambda *a, **k: lines.append("".join(a)), **{**SMALL, **options})
    status = {}
    for line in lines:  # "[i/n] stage    unchanged, skipped ..." or "... running ... " then "done in"
        if line.startswith("["):
            status[line.split()[1]] = "skipped" if "skipped" in line else "ran"
    return state, status


@pytest.fixture(scope="module")
def flow_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("flow")
    state, status = _flow(out)
    return out, state, status


def test_every_stage_runs_and_the_summary_is_the_stages_numbers(flow_dir):
    out, state, status = flow_dir
    expected = ["record", "train", "export", "compile", "verify", "report", "package"]
    assert [s for s in status] == expected and set(status.values()) == {"ran"}
    for name in expected:
        assert state["stages"][name]["status"] == "done" and state["stages"][name]["seconds"] >= 0
        assert (out / "logs" / f"{name}.log").is_file()
    assert json.loads((out / "flow.json").read_text()) == state

    s = state["summary"]
    run = json.loads((out / "train" / "run.json").read_text())
    verified = json.loads((out / "build" / "verify_rtl.json").read_text())
    compiled = json.loads((out / "build" / "compile.json").read_text())
    assert s["val_accuracy"] == run["best"]["val_accuracy"] and s["preset"] == "tiny"
    assert verified["passed"] and s["bit_exact_frames"] == verified["frames"] == 3
    assert s["fps_rtl"] == verified["fps"] and s["latency_us_rtl"] == verified["latency_us"]
    assert s["resources_finn_estimate"] == compiled["resources_total"]
    assert (out / "build" / "deploy" / "pynq-z2" / "deploy.json").is_file()
    assert s["expert"]["frames"] == json.loads((out / "data" / "tub" / "record.json").read_text())["frames"]
    reported = json.loads((out / "build" / "report.json").read_text())
    assert s["report"] == reported and reported["throughput"]["fps"] == verified["fps"]


def test_second_run_skips_everything_and_a_changed_option_reruns_from_its_stage(flow_dir):
    out, first, _ = flow_dir
    state, status = _flow(out)
    assert set(status.values()) == {"skipped"}
    assert state["stages"] == first["stages"]

    state, status = _flow(out, golden_frames=4)  # export's option: export and everything fed by it
    assert [name for name, how in status.items() if how == "skipped"] == ["record", "train"]
    assert json.loads((out / "export" / "export.json").read_text())["golden"]["frames"] == 4

    state, status = _flow(out, golden_frames=4, verify_frames=2)  # verify's option only
    assert [name for name, how in status.items() if how == "ran"] == ["verify", "report"]
    assert state["summary"]["verified_frames"] == 2


def test_a_failed_stage_is_not_recorded_as_done(flow_dir, monkeypatch):
    import hwgen.verify

    out, _, _ = flow_dir
    monkeypatch.setattr(hwgen.verify, "verify_rtl", lambda *a, **k: {"passed": False, "mismatch_count": 5})
    with pytest.raises(HwgenError, match="stage verify: RTL verification failed \\(5 mismatching"):
        _flow(out, verify_frames=1)
    recorded = json.loads((out / "flow.json").read_text())["stages"]["verify"]
    assert recorded["status"] == "failed" and "5 mismatching" in recorded["error"]
    monkeypatch.undo()
    _, status = _flow(out, verify_frames=1)
    assert status["verify"] == "ran"


def test_bad_options_are_clear_errors(tmp_path):
    with pytest.raises(HwgenError, match="--epochs must be at least 1"):
        run_flow(tmp_path, epochs=0)
    with pytest.raises(HwgenError, match="nosuchboard"):
        run_flow(tmp_path, board="nosuchboard")
