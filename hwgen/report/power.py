"""Power ESTIMATE of the accelerator: static power of the part plus dynamic power from the Yosys
resource counts, the clock and the switching activity (a SAIF dump of an RTL simulation, see
activity.py).

This is not Vivado's power report and cannot replace one: there is no placement, no routing and
no vendor power model here. The coefficients come from Vivado itself: vivado_power_reports.json
holds the report_power results of routed designs on the same dies, published in public
repositories (each with repository, path and commit). A coefficient is the median over those
reports of one component's power per used unit per MHz; docs/report.md lists the reports, the
coefficients and their spread.
"""
from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from statistics import median

REPORTS_FILE = Path(__file__).with_name("vivado_power_reports.json")

# Vivado's and XPE's default toggle rate for logic when nothing better is known: a net changes on
# one clock edge in eight. The reports are vectorless (no SAIF), so their dynamic power is taken
# to be at this rate, and the activity-driven coefficients scale linearly from it to the measured rate.
DEFAULT_TOGGLE_RATE = 0.125
DEFAULT_TOGGLE_SOURCE = ("Vivado/XPE default toggle rate for logic (12.5 %: one transition every eight cycles, "
                         "Xilinx Power Estimator UG440, Logic sheet), no simulation activity used")

DIE = re.compile(r"xc7z\d{3}|xczu\d+(?:eg|ev|cg)|xck\d+")
MIN_WATTS = 0.001  # Vivado prints less as "<0.001" (null in the JSON): such a row carries no number
REFERENCE_VCCINT = {"xc7": 1.0, "xcup": 0.85}  # a family's reports are compared at its nominal Vccint

# coefficient -> (Vivado rows whose power it is, Vivado rows whose "Used" counts the units, units
# per Vivado unit, scales with the toggle rate). Yosys' counts map onto the same units in units().
COMPONENTS = {
    "LUT": (("LUT as Logic",), ("LUT as Logic",), 1, True),
    "LUTRAM": (("LUT as Distributed RAM", "LUT as Shift Register"), ("LUT as Distributed RAM", "LUT as Shift Register"), 1, True),
    "FF": (("Register",), ("Register",), 1, True),
    # routing: Vivado's "Signals", per logic cell (logic LUT or flip-flop) that drives the nets
    "ROUTING": (("Signals",), ("LUT as Logic", "Register"), 1, True),
    # the clock tree toggles every cycle whatever the data do: per flip-flop it reaches, not scaled
    "CLOCK": (("Clocks",), ("Register",), 1, False),
    "BRAM_18K": (("Block RAM",), ("Block RAM",), 2, True),  # Vivado counts 36 kbit tiles
    "URAM": (("URAM",), ("URAM",), 1, True),
    "DSP": (("DSPs",), ("DSPs",), 1, True),
}
UNITS = {"LUT": "logic LUT", "LUTRAM": "LUT used as memory", "FF": "flip-flop", "ROUTING": "logic LUT or flip-flop",
         "CLOCK": "flip-flop", "BRAM_18K": "18 kbit block RAM", "URAM": "UltraRAM", "DSP": "DSP slice"}


@lru_cache(maxsize=1)
def reports() -> tuple[dict, ...]:
    return tuple(json.loads(REPORTS_FILE.read_text())["reports"])


def family_of(device: str) -> str:
    return "xc7" if device.lower().startswith("xc7") else "xcup"


def die(part: str) -> str:
    """The die name of a full part name: xc7z020clg400-1 -> xc7z020, xck26-sfvc784-2LV-c -> xck26."""
    match = DIE.match(part.lower())
    return match.group(0) if match else part.lower().split("-")[0]


def citation(report: dict) -> str:
    return f"github.com/{report['repo']}/blob/{report['commit'][:10]}/{report['path']}"


def sample(report: dict, component: str) -> tuple[float, bool] | None:
    """One report's figure for a component in microwatts per MHz per unit at the family's
    reference Vccint, and whether it is only an upper bound (every row of it printed as <0.001 W);
    None when the report has no row for it or runs its logic on several clocks."""
    power_rows, unit_rows, per_vivado_unit, _ = COMPONENTS[component]
    rows = report["rows"]
    if report["clock_period_ns"] is None or not any(r in rows for r in power_rows):
        return None
    # a <0.001 row next to one with a number adds less than a milliwatt: left out of the sum
    watts = sum(rows[r][0] for r in power_rows if r in rows and rows[r][0] is not None)
    units = sum(rows[r][1] for r in unit_rows if r in rows) * per_vivado_unit
    unprinted = sum(1 for r in power_rows if r in rows and rows[r][0] is None)
    bound = unprinted == sum(1 for r in power_rows if r in rows)
    if units <= 0 or (watts < MIN_WATTS and not bound):  # a 0.000 W row says the logic does not toggle
        return None
    clock_mhz = 1e3 / report["clock_period_ns"]
    voltage = (REFERENCE_VCCINT[family_of(report["device"])] / report["vccint_v"]) ** 2  # dynamic power ~ V^2
    return (MIN_WATTS * unprinted if bound else watts) / units / clock_mhz * 1e6 * voltage, bound


def reports_of(part: str) -> list[dict]:
    """The reports of the part's die."""
    return [r for r in reports() if die(r["device"]) == die(part)]


def vccint(part: str) -> float:
    """The part's core voltage as its die's reports give it, else its family's nominal one."""
    own = reports_of(part)
    return median(r["vccint_v"] for r in own) if own else REFERENCE_VCCINT[family_of(part)]


def coefficients(part: str) -> dict:
    """Per component: {"uw_per_mhz", "unit", "activity_scaled", "spread" [min, max], "reports"
    (citations), "upper_bound"} for the part's die and Vccint. The median of the reports with a
    number; without any, the tightest upper bound of the <0.001 W rows; None without any row."""
    family = family_of(part)
    scale = (vccint(part) / REFERENCE_VCCINT[family]) ** 2
    result = {}
    for component, (_, _, _, scaled) in COMPONENTS.items():
        found = [(sample(r, component), r) for r in reports() if family_of(r["device"]) == family]
        numbers = [(s[0] * scale, r) for s, r in found if s is not None and not s[1]]
        bounds = [(s[0] * scale, r) for s, r in found if s is not None and s[1]]
        used = numbers or sorted(bounds, key=lambda vr: vr[0])[:1]
        values = [v for v, _ in used]
        result[component] = {"uw_per_mhz": median(values) if values else None, "unit": UNITS[component],
                             "activity_scaled": scaled, "upper_bound": not numbers and bool(bounds),
                             "spread": [min(values), max(values)] if values else None,
                             "reports": [citation(r) for _, r in used]}
    return result


def static_power(part: str) -> dict:
    """Median static power of the die's reports: PL static on Zynq UltraScale+ (Vivado splits PS
    and PL), the whole device's on Zynq-7000 (Vivado does not split it there)."""
    name = die(part)
    own = reports_of(part)
    if not own:
        return {"die": name, "watts": None, "reports": [],
                "source": f"no Vivado report for {name}: static power not estimated"}
    values = [r["pl_static_w"] if r["pl_static_w"] is not None else r["device_static_w"] for r in own]
    kind = "PL static" if own[0]["pl_static_w"] is not None else "device static (Vivado does not split PS and PL on Zynq-7000)"
    temps = [r["junction_c"] for r in own]
    return {"die": name, "watts": median(values), "reports": [citation(r) for r in own],
            "source": (f"median {kind} of {len(own)} Vivado report_power results for {name} "
                       f"({min(values):.3f}-{max(values):.3f} W, typical process, 25 C ambient, junction "
                       f"{min(temps):g}-{max(temps):g} C)")}


def units(counts: dict) -> dict:
    """Yosys counts in the coefficients' units. Yosys' LUT count includes the LUTs used as memory."""
    logic = counts.get("LUT", 0) - counts.get("LUTRAM", 0)
    ff = counts.get("FF", 0)
    return {"LUT": logic, "LUTRAM": counts.get("LUTRAM", 0), "FF": ff, "ROUTING": logic + ff, "CLOCK": ff,
            "BRAM_18K": counts.get("BRAM_18K", 0), "URAM": counts.get("URAM", 0), "DSP": counts.get("DSP", 0)}


def dynamic_power(counts: dict, table: dict, clock_mhz: float, toggle_rate: float) -> dict:
    """Watts per component for `counts` (Yosys counts of one layer or of the design); None for a
    component the design uses but no report gives a figure for."""
    scale = toggle_rate / DEFAULT_TOGGLE_RATE
    watts = {}
    for component, n in units(counts).items():
        c = table[component]
        if c["uw_per_mhz"] is None:
            watts[component] = None if n else 0.0
            continue
        watts[component] = n * c["uw_per_mhz"] * 1e-6 * clock_mhz * (scale if c["activity_scaled"] else 1.0)
    return watts


def estimate(layers: list[dict], part: str, clock_mhz: float, activity: dict, fps: float | None) -> dict:
    """The report's `power` section. `layers` carry `name` and `yosys` counts (None when not
    synthesized); `activity` is activity.measure()'s result (mean and per-layer toggle rates)."""
    static = static_power(part)
    table, volts = coefficients(part), vccint(part)
    by_layer, by_component, missing, unestimated = {}, {c: 0.0 for c in COMPONENTS}, [], set()
    for layer in layers:
        if layer.get("yosys") is None:
            missing.append(layer["name"])
            continue
        rate = activity["per_layer"].get(layer["name"], activity["toggle_rate"])
        watts = dynamic_power(layer["yosys"], table, clock_mhz, rate)
        unestimated |= {c for c, w in watts.items() if w is None}
        by_layer[layer["name"]] = {"toggle_rate": rate, "watts": sum(w for w in watts.values() if w is not None)}
        for c, w in watts.items():
            by_component[c] += w or 0.0
    dynamic = sum(by_component.values()) if by_layer else None
    total = static["watts"] + dynamic if static["watts"] is not None and dynamic is not None else None
    energy_j = total / fps if total is not None and fps else None
    return {
        "estimate": True,
        "label": "ESTIMATE (no place and route; coefficients from other designs' Vivado reports): "
                 "compare designs, do not size supplies",
        "static_w": static["watts"], "static_source": static["source"], "static_reports": static["reports"],
        "die": static["die"],
        "dynamic_w": dynamic, "total_w": total, "clock_mhz": clock_mhz, "vccint_v": volts,
        "dynamic_by_resource_w": by_component if by_layer else None,
        "dynamic_by_layer": by_layer,
        "layers_without_counts": missing,
        "resources_without_coefficient": sorted(unestimated),
        "activity": {k: v for k, v in activity.items() if k != "per_layer"},
        "coefficients": table, "coefficients_at_toggle_rate": DEFAULT_TOGGLE_RATE,
        "coefficients_source": (f"median over the {family_of(part)} reports in hwgen/report/vivado_power_reports.json "
                                f"(vectorless Vivado report_power of routed designs) of component power per used unit "
                                f"per MHz, compared at Vccint {REFERENCE_VCCINT[family_of(part)]} V (dynamic power "
                                f"~ V^2) and scaled to this part's {volts} V; activity-driven components scale "
                                f"linearly from the {100 * DEFAULT_TOGGLE_RATE:g} % default to the measured toggle rate"),
        "energy_per_frame_mj": energy_j * 1e3 if energy_j is not None else None,
    }
