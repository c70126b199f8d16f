"""Power ESTIMATE of the accelerator: static power of the part plus dynamic power from the Yosys
resource counts, the clock and the switching activity (a SAIF dump of an RTL simulation, see
activity.py).

This is not Vivado's power report and cannot replace one: there is no placement, no routing and
no vendor power model here. Every coefficient below says where it comes from; where no public
source could be checked from this machine the source says "assumed" and why. docs/report.md
explains the model and its limits.
"""
from __future__ import annotations

# Vivado's and XPE's default toggle rate for logic when nothing better is known: a net changes on
# one clock edge in eight. The dynamic coefficients below are given at this rate.
DEFAULT_TOGGLE_RATE = 0.125
DEFAULT_TOGGLE_SOURCE = ("Vivado/XPE default toggle rate for logic (12.5 %: one transition every eight cycles, "
                         "Xilinx Power Estimator UG440, Logic sheet), no simulation activity used")

# Static (leakage) power of the programmable logic at a typical 25 C junction, per die.
# assumed: XPE's typical-process values could not be looked up from this machine; these are the
# order of magnitude XPE shows for an empty design on each die (a few hundred mW for the 16 nm
# UltraScale+ MPSoC dies, about 0.1 W for the 28 nm xc7z020's PL), and the PS is not counted.
STATIC_W = {
    "xc7z020": (0.10, "assumed: order of magnitude of XPE's typical PL static power for the 28 nm "
                      "Zynq-7020 at 25 C (PS not counted); not checked against XPE here"),
    "xczu3eg": (0.25, "assumed: order of magnitude of XPE's typical PL static power for the 16 nm "
                      "ZU3EG at 25 C (PS not counted); not checked against XPE here"),
    "xczu7ev": (0.45, "assumed: order of magnitude of XPE's typical PL static power for the 16 nm "
                      "ZU7EV at 25 C (PS not counted); not checked against XPE here"),
    "xck26": (0.35, "assumed: the K26 SOM's die is a ZU5EV-class MPSoC; order of magnitude of XPE's "
                    "typical PL static power at 25 C (PS not counted); not checked against XPE here"),
}

# Dynamic energy per clock cycle per used unit at DEFAULT_TOGGLE_RATE, in microwatts per MHz
# (the same number in pJ per cycle), logic and its local routing together.
# assumed: per-unit values of the order XPE's sheets give for a 12.5 % toggle rate (BRAM and URAM
# at 50 % enable, DSP fully pipelined), 28 nm HPL at 1.0 V for xc7 and 16 nm FinFET at 0.85 V for
# xcup (about 0.6x). They were not checked against XPE here: use them to compare designs with each
# other, not as an absolute figure for a board's power supply.
DYNAMIC_UW_PER_MHZ = {
    "xc7": {"LUT": 0.08, "LUTRAM": 0.20, "FF": 0.03, "BRAM_18K": 8.0, "URAM": 0.0, "DSP": 5.0},
    "xcup": {"LUT": 0.05, "LUTRAM": 0.12, "FF": 0.02, "BRAM_18K": 5.0, "URAM": 12.0, "DSP": 3.0},
}
DYNAMIC_SOURCE = ("assumed: XPE-like per-unit dynamic power at 12.5 % toggle (BRAM/URAM 50 % enable), "
                  "28 nm HPL 1.0 V (xc7) / 16 nm 0.85 V (xcup); not checked against XPE here; "
                  "scaled linearly with the toggle rate")
POWERED = ("LUT", "LUTRAM", "FF", "BRAM_18K", "URAM", "DSP")


def die(part: str) -> str:
    """The die name of a full part name: xc7z020clg400-1 -> xc7z020, xck26-sfvc784-2LV-c -> xck26."""
    for name in STATIC_W:
        if part.lower().startswith(name):
            return name
    return part.split("-")[0]


def static_power(part: str) -> dict:
    name = die(part)
    if name not in STATIC_W:
        return {"die": name, "watts": None, "source": f"no static power known for {name}: not estimated"}
    watts, source = STATIC_W[name]
    return {"die": name, "watts": watts, "source": source}


def dynamic_power(counts: dict, family: str, clock_mhz: float, toggle_rate: float) -> dict:
    """Watts per resource type for `counts` (Yosys counts of one layer or of the design). Yosys'
    LUT count includes the LUTs used as memory; those are weighed as LUTRAM, the rest as logic."""
    coefficients = DYNAMIC_UW_PER_MHZ[family]
    scale = toggle_rate / DEFAULT_TOGGLE_RATE
    units = {**counts, "LUT": counts.get("LUT", 0) - counts.get("LUTRAM", 0)}
    return {r: units.get(r, 0) * coefficients[r] * 1e-6 * clock_mhz * scale for r in POWERED}


def estimate(layers: list[dict], part: str, family: str, clock_mhz: float, activity: dict,
             fps: float | None) -> dict:
    """The report's `power` section. `layers` carry `name` and `yosys` counts (None when not
    synthesized); `activity` is activity.measure()'s result (mean and per-layer toggle rates)."""
    static = static_power(part)
    by_layer, by_resource, missing = {}, {r: 0.0 for r in POWERED}, []
    for layer in layers:
        if layer.get("yosys") is None:
            missing.append(layer["name"])
            continue
        rate = activity["per_layer"].get(layer["name"], activity["toggle_rate"])
        watts = dynamic_power(layer["yosys"], family, clock_mhz, rate)
        by_layer[layer["name"]] = {"toggle_rate": rate, "watts": sum(watts.values())}
        for r, w in watts.items():
            by_resource[r] += w
    dynamic = sum(by_resource.values()) if by_layer else None
    total = static["watts"] + dynamic if static["watts"] is not None and dynamic is not None else None
    energy_j = total / fps if total is not None and fps else None
    return {
        "estimate": True,
        "label": "ESTIMATE (no place and route, no vendor power model): compare designs, do not size supplies",
        "static_w": static["watts"], "static_source": static["source"], "die": static["die"],
        "dynamic_w": dynamic, "total_w": total, "clock_mhz": clock_mhz,
        "dynamic_by_resource_w": by_resource if by_layer else None,
        "dynamic_by_layer": by_layer,
        "layers_without_counts": missing,
        "activity": {k: v for k, v in activity.items() if k != "per_layer"},
        "coefficients_uw_per_mhz": DYNAMIC_UW_PER_MHZ[family], "coefficients_at_toggle_rate": DEFAULT_TOGGLE_RATE,
        "coefficients_source": DYNAMIC_SOURCE,
        "energy_per_frame_mj": energy_j * 1e3 if energy_j is not None else None,
    }
