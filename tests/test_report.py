"""hwgen report on the tiny build: numbers consistent with estimates.json and verify_rtl.json,
per-layer Yosys counts with a cache, a comparison of two builds, one-line errors.

The session's tiny_build is copied first (report writes into the build folder). The first
report synthesizes every distinct layer (about 1.5 min on 2 cores with a cold
~/.cache/hwgen/synth); the verify + SAIF activity test builds two Verilator models (about 3 min).
"""
import json
import shutil
import uuid

import pytest

from hwgen.errors import HwgenError


@pytest.fixture(scope="module")
def reported(tiny_build, tmp_path_factory):
    """A copy of the tiny build with a report (Yosys on, no activity simulation), and its result."""
    from hwgen.report import report

    build = tmp_path_factory.mktemp("report") / "tiny"
    # without what other tests' verify runs on the shared build left in it: this copy is unverified
    shutil.copytree(tiny_build, build, symlinks=True,
                    ignore=shutil.ignore_patterns("verify", "verify_rtl.json", "fifo_depths.json", "report*"))
    return build, report([build], progress=False, activity=False)


def _json(path):
    return json.loads(path.read_text())


def test_report_without_verify_is_labelled_expected(reported):
    build, result = reported
    estimates = _json(build / "estimates.json")
    assert not (build / "verify_rtl.json").exists()
    t = result["throughput"]
    assert t["source"] == "finn_estimate" and t["label"].startswith("expected (FINN estimate)")
    assert t["fps"] == pytest.approx(estimates["expected_fps"])
    assert t["ii_cycles"] == estimates["expected_ii_cycles"]
    assert t["latency_cycles"] == estimates["critical_path_cycles"]
    assert _json(build / "report.json") == json.loads(json.dumps(result))
    # no SAIF: the power's activity says it is Vivado's default, never a made-up measurement
    activity = result["power"]["activity"]
    assert activity["measured"] is False and activity["toggle_rate"] == 0.125 and "default" in activity["source"]
    assert result["power"]["estimate"] is True


def test_layers_match_estimates_and_yosys_counts_weights(reported):
    build, result = reported
    estimates = _json(build / "estimates.json")
    top = _json(build / "rtl" / "hwgen_top.json")
    folding = _json(build / "folding.json")
    assert [layer["name"] for layer in result["layers"]] == [b["node"] for b in top["blocks"]]
    for layer in result["layers"]:
        est = estimates["layers"][layer["name"]]
        assert layer["cycles"] == est["cycles"] and layer["op_type"] == est["op_type"]
        assert layer["finn"] == {r: est[r] for r in ("LUT", "BRAM_18K", "URAM", "DSP")}
        assert layer["bottleneck"] == (layer["name"] == estimates["bottleneck_layer"])
        for key, value in folding.get(layer["name"], {}).items():
            assert layer["folding"][key] == value
    mvaus = [layer for layer in result["layers"] if layer["op_type"].startswith("MVAU")]
    assert mvaus
    for layer in mvaus:
        y = layer["yosys"]
        assert y is not None, layer["synth"]
        assert y["LUT"] > 0 and y["FF"] > 0
        # the weight memory made it into the netlist (LUTRAM or BRAM), so memblock.dat was found
        assert y["LUTRAM"] + y["BRAM_18K"] > 0, layer["name"]
    fifos = [layer for layer in result["layers"] if layer["op_type"].startswith("StreamingFIFO")]
    assert fifos and all(layer["yosys"] and layer["yosys"]["LUT"] > 0 for layer in fifos)
    totals = result["totals"]
    assert totals["yosys_complete"], result["synthesis"]["layers_failed"]  # every layer type synthesizes
    assert totals["finn"]["LUT"] == estimates["resources_total"]["LUT"]
    synthesized = [layer["yosys"] for layer in result["layers"] if layer["yosys"]]
    assert totals["yosys"]["LUT"] == sum(y["LUT"] for y in synthesized)
    assert totals["utilization_pct"]["yosys"]["LUT"] == pytest.approx(100 * totals["yosys"]["LUT"] / 53200, abs=0.01)
    for layer in result["layers"]:  # every >2x disagreement is flagged, with a reason
        for d in layer["discrepancies"]:
            big, small = max(d["finn"], d["yosys"]), min(d["finn"], d["yosys"])
            assert big > 2 * small and d["reason"]
        assert (layer["name"] in result["discrepancy_layers"]) == bool(layer["discrepancies"])


def test_html_is_self_contained_with_the_numbers(reported):
    build, result = reported
    page = (build / "report.html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == 3
    assert f"{result['throughput']['fps']:,.0f}" in page and "expected (FINN estimate)" in page
    assert "ESTIMATE" in page
    assert f"{result['totals']['yosys']['LUT']:,.0f}" in page
    for layer in result["layers"]:
        assert layer["name"] in page


def test_second_report_hits_the_cache_and_a_changed_layer_is_resynthesized(reported):
    from hwgen.report import report

    build, first = reported
    again = report([build], progress=False, activity=False)
    assert all(layer["synth"]["cached"] for layer in again["layers"] if layer["synth"]["error"] is None)
    assert [layer["yosys"] for layer in again["layers"]] == [layer["yosys"] for layer in first["layers"]]
    wrapper = build / "ip" / "MVAU_rtl_1" / "MVAU_rtl_1_wrapper.v"
    original = wrapper.read_text()
    wrapper.write_text(original + f"\n// changed by test_report {uuid.uuid4()}\n")  # never seen by any cache
    try:
        changed = report([build], progress=False, activity=False)
    finally:
        wrapper.write_text(original)
    synth = {layer["name"]: layer["synth"] for layer in changed["layers"]}
    assert synth["MVAU_rtl_1"]["cached"] is False and synth["MVAU_rtl_1"]["error"] is None
    assert all(s["cached"] for name, s in synth.items() if name != "MVAU_rtl_1" and s["error"] is None)


def test_after_verify_throughput_is_measured_and_activity_comes_from_saif(reported):
    from hwgen.report import report
    from hwgen.verify import verify_rtl

    build, _ = reported
    verify_rtl(build, stall=0.0, frames=4)
    verified = _json(build / "verify_rtl.json")
    assert verified["passed"]
    result = report([build], progress=False)
    t = result["throughput"]
    assert t["source"] == "rtl_simulation" and t["label"].startswith("measured in RTL simulation")
    assert t["fps"] == verified["fps"] and t["ii_cycles"] == verified["ii_cycles"]
    assert t["latency_cycles"] == verified["latency_cycles"] and t["latency_us"] == verified["latency_us"]
    activity = result["power"]["activity"]
    assert activity["measured"] is True and (build / activity["saif"]).is_file()
    assert 0 < activity["toggle_rate"] < 1 and activity["nets"] > 100
    power = result["power"]
    assert power["total_w"] == pytest.approx(power["static_w"] + power["dynamic_w"])
    assert power["energy_per_frame_mj"] == pytest.approx(1e3 * power["total_w"] / verified["fps"])
    assert result["power_w"] == power["total_w"] and "mJ/frame" in result["energy"]
    assert activity["cached"] is False

    # an unchanged build reuses the measurement; the key follows the RTL and the frames
    again = report([build], progress=False)["power"]["activity"]
    assert again["cached"] is True and again["toggle_rate"] == activity["toggle_rate"]
    assert again["key"] == activity["key"]


def test_activity_key_follows_the_rtl_weights_and_frames(tiny_build, tmp_path):
    import numpy as np

    from hwgen.report.activity import activity_key
    from hwgen.rtlgen.stitch import TOP, load_top

    build = tmp_path / "tiny"
    shutil.copytree(tiny_build, build, symlinks=True, ignore=shutil.ignore_patterns("sim_build", "verify", "report*"))
    rtl = build / "rtl"
    frames = np.arange(12, dtype=np.int64).reshape(2, 6)

    def key(frames=frames):
        return activity_key(load_top(rtl / f"{TOP}.json"), rtl, frames)

    # the copied weight streamers still name the shared build's memblock.dat; point one at the copy's
    streamer = sorted(build.glob("ip/*/*_memstream_wrapper.v"))[0]
    streamer.write_text(streamer.read_text().replace(str(tiny_build.resolve()), str(build.resolve())))
    weights = streamer.parent / "memblock.dat"
    thresholds = rtl / load_top(rtl / f"{TOP}.json")["meminit_files"][0]
    first = key()
    assert key(frames.copy()) == first and key(frames[::-1].copy()) != first
    for changed in (rtl / f"{TOP}.sv", weights, thresholds):
        original = changed.read_text()
        changed.write_text(original + "\n")
        assert key() != first, f"{changed.name} changed but the key did not"
        changed.write_text(original)
    assert key() == first


def test_two_builds_side_by_side(reported, tmp_path, capsys):
    from hwgen.cli import main
    from hwgen.report import report

    build, _ = reported
    other = tmp_path / "other"
    shutil.copytree(build, other, symlinks=True)
    comparison = report([build, other], out=tmp_path / "cmp", progress=False, activity=False)
    assert len(comparison["builds"]) == 2
    for row, folder in zip(comparison["builds"], (build, other)):
        assert row["finn"]["LUT"] == _json(folder / "estimates.json")["resources_total"]["LUT"]
        assert row["yosys"]["LUT"] == _json(folder / "report.json")["totals"]["yosys"]["LUT"]
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert str(build) in page and str(other) in page and "data:image/png;base64," in page
    assert _json(tmp_path / "cmp" / "compare.json") == json.loads(json.dumps(comparison))
    capsys.readouterr()
    assert main(["report", str(build), str(other), "--out", str(tmp_path / "cli"), "--no-activity"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("report: ") == 2 and str(tmp_path / "cli" / "compare.html") in printed


def test_errors_name_the_file(tmp_path, capsys):
    from hwgen.cli import main
    from hwgen.report import report

    with pytest.raises(HwgenError, match="compile.json: missing"):
        report([tmp_path], progress=False)
    assert main(["report", str(tmp_path / "nowhere")]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_utilization_warns_over_the_practical_limit_and_on_a_missing_resource():
    from hwgen.boards import load_board
    from hwgen.report import utilization

    board = load_board("pynq-z2")  # 53,200 LUT at a 70 % limit, no URAM
    percent, warnings = utilization({"LUT": 40_000, "FF": 1_000, "BRAM_18K": 0, "URAM": 2, "DSP": None}, board, "yosys")
    assert percent["LUT"] == pytest.approx(100 * 40_000 / 53_200, abs=0.01) and percent["DSP"] is None
    assert len(warnings) == 2
    assert warnings[0].startswith("LUT: yosys 40,000 is 75.2 % of 53,200, over the practical limit of 70 %")
    assert "URAM" in warnings[1] and "has none" in warnings[1]
    assert utilization({"LUT": 30_000, "URAM": 0}, board, "finn")[1] == []


def test_lutram_mapping_bug_is_retried_without_lutram_and_said_so(monkeypatch, tmp_path):
    from hwgen.report import synth

    scripts = []

    def fake_yosys(src, text):
        scripts.append(text)
        if len(scripts) == 1:
            raise HwgenError(f"yosys.log: Yosys failed (exit 1): lutrams_xc5v_map.v:181: ERROR:{synth.LUTRAM_MAPPING_BUG}.")
        return {"modules": {"\\hwgen_layer": {"num_cells_by_type": {"LUT6": 3, "FDRE": 2}}}}

    monkeypatch.setattr(synth, "run_yosys", fake_yosys)
    staged = {"src": tmp_path, "hdl": ["a.sv"], "family": "xcup", "script": synth.script(["a.sv"], "xcup")}
    cells, note = synth.synthesize_staged(staged)
    assert cells == {"LUT6": 3, "FDRE": 2} and note == synth.NO_LUTRAM_NOTE
    assert "-nolutram" not in scripts[0] and "-nolutram" in scripts[1]
    monkeypatch.setattr(synth, "run_yosys", lambda src, text: (_ for _ in ()).throw(HwgenError("other failure")))
    with pytest.raises(HwgenError, match="other failure"):
        synth.synthesize_staged(staged)


def test_a_failed_synthesis_is_retried_and_a_good_one_cached(monkeypatch, tmp_path):
    from hwgen.report import synth

    calls = []
    monkeypatch.setattr(synth, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(synth, "stage", lambda *a: {"src": tmp_path, "hdl": [], "family": "xc7", "script": "s",
                                                    "key": "k1"})

    def failing(src, text):
        calls.append(text)
        raise HwgenError("boom")

    monkeypatch.setattr(synth, "run_yosys", failing)
    for _ in range(2):
        result = synth.synthesize({}, {}, {}, tmp_path / "layer", "xc7")
        assert result["error"] == "boom" and result["cached"] is False
    assert len(calls) == 2
    monkeypatch.setattr(synth, "run_yosys", lambda src, text: {"modules": {"\\hwgen_layer": {"num_cells_by_type": {"LUT6": 1}}}})
    assert synth.synthesize({}, {}, {}, tmp_path / "layer", "xc7")["cached"] is False
    again = synth.synthesize({}, {}, {}, tmp_path / "layer", "xc7")
    assert again["cached"] is True and again["counts"]["LUT"] == 1
