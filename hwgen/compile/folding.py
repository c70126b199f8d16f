"""Folding: how many parallel lanes (PE, SIMD, ...) each layer gets.

Either derived from a frames-per-second target at the clock, within the board's resource budget
(FINN's SetFolding, whose weight-width cap is raised when it is what stops it), or read back from a
folding.json (FINN's folding-config format: {node name: {attribute: value}}, plus "Defaults").
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from hwgen.compile import estimates as est
from hwgen.errors import HwgenError

# The node attributes that make up a layer's folding (whichever the node has)
FOLDING_ATTRS = ("PE", "SIMD", "parallel_window", "ram_style", "resType", "mem_mode")
DEFAULT_MVAU_WWIDTH_MAX = 36  # FINN's default cap on SIMD x weight bits
# Inserted after folding (their size follows from their neighbours), so not part of folding.json
INSERTED_OPS = ("StreamingFIFO", "StreamingDataWidthConverter")


def _full_weight_width(model) -> int:
    """The SetFolding weight-width cap that never limits SIMD (every MVAU may take all its inputs at once)."""
    from qonnx.custom_op.registry import getCustomOp

    widths = [getCustomOp(n).get_nodeattr("MW") * getCustomOp(n).get_input_datatype(1).bitwidth()
              for n in model.graph.node if n.op_type.startswith("MVAU")]
    return max(widths + [DEFAULT_MVAU_WWIDTH_MAX])


def fold_to_cycles(model, target_cycles: int):
    """SetFolding for target_cycles per frame; raise the weight-width cap if it is what falls short."""
    from finn.transformation.fpgadataflow.set_folding import SetFolding

    folded = model.transform(SetFolding(target_cycles_per_frame=target_cycles,
                                        mvau_wwidth_max=DEFAULT_MVAU_WWIDTH_MAX))
    if max(est.layer_cycles(folded).values()) > target_cycles:
        folded = model.transform(SetFolding(target_cycles_per_frame=target_cycles,
                                            mvau_wwidth_max=_full_weight_width(model)))
    return folded


class _Trial:
    """One folding of the graph for a cycles target, with what it achieves and costs."""

    def __init__(self, model, target_cycles: int, fpgapart: str, budget: dict):
        self.target = target_cycles
        self.model = fold_to_cycles(model, target_cycles)
        self.cycles = est.layer_cycles(self.model)
        self.ii = max(self.cycles.values())
        self.resources = est.layer_resources(self.model, fpgapart)
        self.totals = est.total(self.resources)
        self.over = est.over_budget(self.totals, budget)

    @property
    def fits(self) -> bool:
        return not self.over


def _describe_over(trial: _Trial, budget: dict) -> str:
    return ", ".join(f"{r} {trial.totals[r]:,.0f} > budget {budget[r]:,} (largest: "
                     f"{est.biggest_user(trial.resources, r)} with {trial.resources[est.biggest_user(trial.resources, r)][r]:,.0f})"
                     for r in trial.over)


def fold_for_fps(model, fps, clock_mhz: float, fpgapart: str, budget: dict, where: str):
    """Fold for `fps` (a number, or "max" for the fastest that fits the budget). Returns (model, info).

    Raises HwgenError with the best FPS that fits and what limits it when the target is out of reach.
    where: the board/clock, for messages."""
    clock_hz = clock_mhz * 1e6
    slowest = _Trial(model, 1 << 40, fpgapart, budget)  # everything fully folded (1 lane each)
    if not slowest.fits:
        raise HwgenError(f"the model does not fit {where} even fully folded: {_describe_over(slowest, budget)}; "
                         "pick a larger board, raise --limits, or shrink the model")
    fastest = _Trial(model, 1, fpgapart, budget)  # every layer fully parallel
    if fps == "max":
        target = fastest.ii
    else:
        target = max(1, math.floor(clock_hz / float(fps)))
    trial = _Trial(model, target, fpgapart, budget)
    if trial.fits and trial.ii <= target:
        return trial.model, _info(trial, fps, clock_hz)

    # The best that fits: bisect on the cycles target (more cycles = fewer lanes = fewer resources)
    lo, hi = max(target, fastest.ii), slowest.ii  # hi always fits
    best = slowest
    while lo < hi:
        mid = (lo + hi) // 2
        t = _Trial(model, mid, fpgapart, budget)
        if t.fits:
            best, hi = t, min(mid, t.ii)
        else:
            lo = mid + 1
    if fps == "max":
        return best.model, _info(best, fps, clock_hz)
    best_fps = clock_hz / best.ii
    if not trial.fits:
        limit = f"at {fps} FPS the estimate exceeds the budget: {_describe_over(trial, budget)}"
    else:
        limit = (f"layer {est.bottleneck(trial.cycles)} needs at least {trial.ii:,} cycles per frame even fully "
                 f"parallel ({clock_hz / trial.ii:,.1f} FPS)")
    raise HwgenError(f"--fps {fps} does not fit {where}: {limit}; the best that fits is {best_fps:,.1f} FPS "
                     f"(bottleneck {est.bottleneck(best.cycles)}, {best.ii:,} cycles); ask for --fps "
                     f"{math.floor(best_fps)} or less, raise --limits or --clock-mhz, or pick a larger board")


def _info(trial: _Trial, fps, clock_hz: float) -> dict:
    return {"requested_fps": fps, "target_cycles": trial.target, "achieved_ii_cycles": trial.ii,
            "achieved_fps": clock_hz / trial.ii}


def folding_config(model) -> dict:
    """The folding.json content: FINN's folding-config format for every HW layer."""
    from qonnx.custom_op.registry import getCustomOp

    config = {"Defaults": {}}
    for node in model.graph.node:
        if node.op_type.startswith(INSERTED_OPS):
            continue
        inst = getCustomOp(node)
        attrs = inst.get_nodeattr_types()
        config[node.name] = {a: inst.get_nodeattr(a) for a in FOLDING_ATTRS if a in attrs}
    return config


def load_folding(path: Path) -> dict:
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise HwgenError(f"{path}: not a readable folding JSON file ({err})") from err
    if not isinstance(config, dict) or not all(isinstance(v, dict) for v in config.values()):
        raise HwgenError(f"{path}: a folding file maps node names to {{attribute: value}} objects")
    return config


def apply_folding(model, config: dict, path: Path):
    """Apply a folding.json; every node it names must exist and every folding must divide the layer."""
    from qonnx.custom_op.registry import getCustomOp

    from finn.transformation.general import ApplyConfig

    names = {node.name for node in model.graph.node}
    unknown = sorted(set(config) - names - {"Defaults"})
    if unknown:
        raise HwgenError(f"{path}: no layer named {', '.join(unknown)} in this model; layers: {', '.join(sorted(names))}")
    model = model.transform(ApplyConfig(config))
    for node in model.graph.node:
        inst = getCustomOp(node)
        attrs = inst.get_nodeattr_types()
        # SIMD splits the input channels, PE the output channels: both must divide evenly
        lanes = {"SIMD": int(inst.get_normal_input_shape()[-1]), "PE": int(inst.get_normal_output_shape()[-1])}
        for attr, channels in lanes.items():
            if attr in attrs and channels % int(inst.get_nodeattr(attr)) != 0:
                raise HwgenError(f"{path}: {attr}={inst.get_nodeattr(attr)} does not divide the {channels} "
                                 f"{'input' if attr == 'SIMD' else 'output'} channels of {node.name} ({node.op_type})")
    return model
