"""Model presets are data (presets.json); a preset may name a `base` and override some fields."""
from __future__ import annotations

import json
from pathlib import Path

from hwgen.errors import HwgenError

PRESETS_FILE = Path(__file__).with_name("presets.json")
REQUIRED_FIELDS = ("input", "crop_top", "crop_bottom", "convs", "fc", "dropout", "weight_bits", "act_bits")


def _load_presets() -> dict[str, dict]:
    raw = json.loads(PRESETS_FILE.read_text())
    return {name: spec for name, spec in raw.items() if not name.startswith("_")}


PRESETS = _load_presets()


def _flatten(name: str, seen: tuple[str, ...] = ()) -> dict:
    if name not in PRESETS:
        raise HwgenError(f"preset '{name}': unknown; choose one of {', '.join(sorted(PRESETS))}")
    if name in seen:
        raise HwgenError(f"{PRESETS_FILE}: preset '{name}' has a cyclic 'base' chain")
    spec = dict(PRESETS[name])
    base = spec.pop("base", None)
    return {**_flatten(base, seen + (name,)), **spec} if base else spec


def resolve_preset(preset: str | dict, **overrides) -> dict:
    """A full model spec from a preset name or dict, with overrides (None values are ignored)."""
    spec = _flatten(preset) if isinstance(preset, str) else dict(preset)
    if isinstance(preset, dict) and "base" in spec:
        spec = {**_flatten(spec.pop("base")), **spec}
    spec.update({k: v for k, v in overrides.items() if v is not None})
    spec.setdefault("name", preset if isinstance(preset, str) else "custom")
    missing = [f for f in REQUIRED_FIELDS if f not in spec]
    if missing:
        raise HwgenError(f"preset '{spec['name']}': missing field(s) {', '.join(missing)}")
    for field in ("weight_bits", "act_bits"):
        bits = spec[field]
        if bits is not None and not (isinstance(bits, int) and 1 <= bits <= 8):
            raise HwgenError(f"preset '{spec['name']}': {field}={bits!r}; use an integer 1..8 or null (float)")
    if (spec["weight_bits"] is None) != (spec["act_bits"] is None):
        raise HwgenError(f"preset '{spec['name']}': weight_bits and act_bits must both be null (float) or both set")
    if len(spec["input"]) != 3 or spec["input"][0] != 3:
        raise HwgenError(f"preset '{spec['name']}': input must be [3, H, W] (RGB), got {spec['input']}")
    return spec
