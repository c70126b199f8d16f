"""The power model's coefficients come from the Vivado reports in vivado_power_reports.json:
checked against numbers copied by hand from the reports, the voltage scaling, the toggle scaling
and the cases without a figure."""
import json
import re
from pathlib import Path

import pytest

from hwgen.paths import BOARDS_DIR
from hwgen.report import power


def _report(repo, path):
    return next(r for r in power.reports() if r["repo"] == repo and r["path"] == path)


def test_a_sample_is_power_per_unit_per_mhz_as_in_the_report():
    # theCow61/AES-Accelerator (xc7z020, 7.0 ns): LUT as Logic 0.154 W for 15428 LUTs, Block RAM
    # 0.027 W for 18.5 tiles of 36 kbit, Clocks 0.091 W over 17979 registers
    aes = _report("theCow61/AES-Accelerator", "project_1/project_1.runs/impl_1/design_1_wrapper_power_routed.rpt")
    mhz = 1000 / 7.0
    assert power.sample(aes, "LUT") == (pytest.approx(0.154 / 15428 / mhz * 1e6), False)
    assert power.sample(aes, "BRAM_18K") == (pytest.approx(0.027 / 37 / mhz * 1e6), False)
    assert power.sample(aes, "CLOCK") == (pytest.approx(0.091 / 17979 / mhz * 1e6), False)
    # its two LUTRAM rows print <0.001 W each: an upper bound of 0.002 W over 42 + 3120 LUTs; no DSP row
    assert power.sample(aes, "LUTRAM") == (pytest.approx(0.002 / 3162 / mhz * 1e6), True)
    assert power.sample(aes, "DSP") is None


def test_reports_on_several_clocks_or_idle_rows_give_no_figure():
    multi = [r for r in power.reports() if r["clock_period_ns"] is None]
    assert multi and all(power.sample(r, c) is None for r in multi for c in power.COMPONENTS)
    # JustABear1210's 148 DSPs print 0.000 W: the vectorless activity left them idle, not a figure
    idle = _report("JustABear1210/64-conv-ecg-LSTM-GRU", "project_1/project_1.runs/impl_1/design_1_wrapper_power_routed.rpt")
    assert idle["rows"]["DSPs"] == [0.0, 148] and power.sample(idle, "DSP") is None


def test_the_coefficient_is_the_median_of_the_family_at_the_parts_vccint():
    k26, zu7 = power.coefficients("xck26-sfvc784-2LV-c"), power.coefficients("xczu7ev-ffvc1156-2-e")
    assert power.vccint("xck26-sfvc784-2LV-c") == 0.72 and power.vccint("xczu7ev-ffvc1156-2-e") == 0.85
    for component, c in zu7.items():
        if c["uw_per_mhz"] is not None:  # same reports, the K26's lower core voltage: ~V^2
            assert k26[component]["uw_per_mhz"] == pytest.approx(c["uw_per_mhz"] * (0.72 / 0.85) ** 2)
    # the ZU7EV synthetic load (0.85 V, 100 MHz): DSPs 0.164 W for 513 is one of the DSP samples
    assert any(r.startswith("github.com/I-am-VarunM/ZCU104_src_power/") for r in zu7["DSP"]["reports"])
    lo, hi = zu7["LUT"]["spread"]
    assert lo <= zu7["LUT"]["uw_per_mhz"] <= hi and len(zu7["LUT"]["reports"]) >= 3
    xc7 = power.coefficients("xc7z020clg400-1")
    assert xc7["LUTRAM"]["upper_bound"] is True and xc7["LUT"]["upper_bound"] is False
    assert xc7["URAM"]["uw_per_mhz"] is None  # no Zynq-7000 has URAM, no report has a row


def test_every_board_has_static_power_and_every_report_is_citable():
    for board in BOARDS_DIR.glob("*.json"):
        part = json.loads(board.read_text())["part"]
        static = power.static_power(part)
        assert static["watts"] and 0.05 < static["watts"] < 1.0, board.name
        assert power.die(part) in static["source"] and all(c.startswith("github.com/") for c in static["reports"])
        assert static["reports"], board.name
    for r in power.reports():
        assert re.fullmatch(r"[0-9a-f]{40}", r["commit"]) and r["path"].endswith(".rpt"), r["repo"]
        assert power.die(r["device"]) in {"xc7z020", "xck26", "xczu3eg", "xczu7ev"}
    assert power.die("xck26-sfvc784-2LV-c") == "xck26" and power.die("xc7z020clg400-1") == "xc7z020"


def test_activity_scales_everything_but_the_clock_tree():
    table = power.coefficients("xc7z020clg400-1")
    counts = {"LUT": 1000, "LUTRAM": 100, "FF": 2000, "BRAM_18K": 4, "URAM": 0, "DSP": 3}
    full = power.dynamic_power(counts, table, 100.0, power.DEFAULT_TOGGLE_RATE)
    half = power.dynamic_power(counts, table, 100.0, power.DEFAULT_TOGGLE_RATE / 2)
    assert half["CLOCK"] == full["CLOCK"] == pytest.approx(2000 * table["CLOCK"]["uw_per_mhz"] * 1e-6 * 100)
    for component in ("LUT", "LUTRAM", "FF", "ROUTING", "BRAM_18K", "DSP"):
        assert half[component] == pytest.approx(full[component] / 2) and full[component] > 0
    assert full["LUT"] == pytest.approx(900 * table["LUT"]["uw_per_mhz"] * 1e-6 * 100)  # LUTRAM is not logic
    assert full["ROUTING"] == pytest.approx(2900 * table["ROUTING"]["uw_per_mhz"] * 1e-6 * 100)


def test_a_resource_without_a_figure_is_named_not_guessed():
    activity = {"toggle_rate": 0.01, "per_layer": {}, "measured": True}
    layers = [{"name": "a", "yosys": {"LUT": 100, "FF": 100, "URAM": 2}}, {"name": "b", "yosys": None}]
    result = power.estimate(layers, "xczu7ev-ffvc1156-2-e", 200.0, activity, fps=50.0)
    assert result["resources_without_coefficient"] == ["URAM"] and result["layers_without_counts"] == ["b"]
    assert result["dynamic_w"] == pytest.approx(sum(result["dynamic_by_resource_w"].values()))
    assert result["dynamic_by_resource_w"]["URAM"] == 0.0
    assert result["total_w"] == pytest.approx(result["static_w"] + result["dynamic_w"])
    assert result["energy_per_frame_mj"] == pytest.approx(result["total_w"] / 50.0 * 1e3)
    without_uram = [{"name": "a", "yosys": {"LUT": 100, "FF": 100, "URAM": 0}}]
    assert power.estimate(without_uram, "xczu7ev-ffvc1156-2-e", 200.0, activity, None)["resources_without_coefficient"] == []
