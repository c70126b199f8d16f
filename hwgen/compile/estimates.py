"""FINN's analytic estimates of a folded dataflow graph: cycles, resources, operations and parameters."""
from __future__ import annotations

from functools import partial

# FINN estimates these; FF is not estimated by FINN's analytic models
ESTIMATED = ("LUT", "BRAM_18K", "URAM", "DSP")


def layer_cycles(model) -> dict[str, int]:
    from finn.analysis.fpgadataflow.exp_cycles_per_layer import exp_cycles_per_layer

    return {name: int(c) for name, c in model.analysis(exp_cycles_per_layer).items()}


def layer_resources(model, fpgapart: str) -> dict[str, dict[str, float]]:
    from finn.analysis.fpgadataflow.res_estimation import res_estimation

    estimates = model.analysis(partial(res_estimation, fpgapart=fpgapart))
    return {name: {r: float(est.get(r, 0)) for r in ESTIMATED} for name, est in estimates.items()}


def total(per_layer: dict[str, dict[str, float]]) -> dict[str, float]:
    return {r: sum(layer[r] for layer in per_layer.values()) for r in ESTIMATED}


def over_budget(totals: dict[str, float], budget: dict[str, int]) -> list[str]:
    """Resources whose estimate exceeds the budget (a resource the board lacks has budget 0)."""
    return [r for r in ESTIMATED if totals[r] > budget[r]]


def biggest_user(per_layer: dict[str, dict[str, float]], resource: str) -> str:
    return max(per_layer, key=lambda name: per_layer[name][resource])


def bottleneck(cycles: dict[str, int]) -> str:
    return max(cycles, key=cycles.get)


def estimate(model, fpgapart: str, clock_mhz: float, budget: dict[str, int]) -> dict:
    """The estimates.json content for a folded graph (see docs/compile.md)."""
    from finn.analysis.fpgadataflow.op_and_param_counts import op_and_param_counts

    cycles = layer_cycles(model)
    resources = layer_resources(model, fpgapart)
    counts = model.analysis(op_and_param_counts)
    slowest = bottleneck(cycles)
    ii = cycles[slowest]
    totals = total(resources)
    layers = {node.name: {"op_type": node.op_type, "cycles": cycles.get(node.name, 0),
                          **resources.get(node.name, {r: 0.0 for r in ESTIMATED}),
                          "ops_and_params": counts.get(node.name, {})}
              for node in model.graph.node}
    return {
        "clock_mhz": clock_mhz,
        "bottleneck_layer": slowest,
        "expected_ii_cycles": ii,
        "expected_fps": clock_mhz * 1e6 / ii,
        "critical_path_cycles": sum(cycles.values()),  # FINN's latency estimate (layers overlap in RTL)
        "resources_total": totals,
        "budget": {r: budget[r] for r in ESTIMATED},
        "utilization_of_budget": {r: (totals[r] / budget[r] if budget[r] else None) for r in ESTIMATED},
        "fits_budget": not over_budget(totals, budget),
        "ops_and_params_total": counts.get("total", {}),
        "layers": layers,
        "source": "FINN analytic models (exp_cycles_per_layer, res_estimation, op_and_param_counts)",
    }
