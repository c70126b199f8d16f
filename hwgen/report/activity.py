"""Switching activity for the power estimate: a short simulation of the stitched top with
Verilator's SAIF tracing (`--trace-saif`), then the mean toggle rate per net bit per clock cycle,
for the whole accelerator and for each block (by the stitcher's instance names).

Toggle rate here is Vivado's: transitions per clock cycle (a net that changes every cycle has
100 %, the clock itself 200 %). Clock nets are left out (the clock tree is not logic activity);
nets of the testbench are left out (only the DUT's hierarchy counts). The nets are RTL signals,
not the synthesized netlist's nets, and every net bit weighs the same.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

from hwgen.errors import HwgenError
from hwgen.report.power import DEFAULT_TOGGLE_RATE, DEFAULT_TOGGLE_SOURCE

FRAMES = 2  # enough to pass the pipeline fill; each extra frame costs a frame of traced simulation
CLOCKS = {"ap_clk", "ap_clk2x", "clk", "aclk"}
DUT_INSTANCE = "dut"  # the stitched top's instance name in sim/stream_tb.sv
BLOCK_INSTANCE = re.compile(r"u\d+_(.+)")  # the stitcher's instance name of a block
STREAMER_INSTANCE = re.compile(r"(.+)_wstrm")  # ... and of an MVAU's weight streamer
NET_TOGGLES = re.compile(r"^\s*\((\S+)\s+\(T0 \d+\)\s*\(T1 \d+\).*?\(TC (\d+)\)")


def default(reason: str) -> dict:
    """Vivado's default toggle rate, labelled as such, when no activity was measured."""
    return {"measured": False, "toggle_rate": DEFAULT_TOGGLE_RATE, "source": f"{DEFAULT_TOGGLE_SOURCE}: {reason}",
            "per_layer": {}, "saif": None, "cycles": None, "nets": 0}


def parse_saif(path: Path) -> dict:
    """Toggle counts from a Verilator SAIF file: {"cycles", "nets", "toggle_rate", "per_block"}.

    The SAIF nesting is (INSTANCE name (NET (net (T0 ..) (T1 ..) ... (TC n)) ...) (INSTANCE ...)).
    Verilator writes one net per line and one INSTANCE per line, so a line scan with a scope stack
    (by parenthesis depth) is enough."""
    stack: list[tuple[str, int]] = []  # (instance name, depth at which it opened)
    depth, clock_toggles = 0, None
    sums: dict[str | None, list[int]] = {}  # block (None: the top's own nets) -> [toggles, nets]
    with open(path, errors="replace") as f:
        for line in f:
            stripped = line.strip()
            if stripped.startswith("(INSTANCE"):
                stack.append((stripped.split()[1].strip(")"), depth))
            match = NET_TOGGLES.match(line)
            if match:
                net, toggles = match.group(1).split("\\[")[0].replace("\\", ""), int(match.group(2))
                scope = [name for name, _ in stack]
                if net == "ap_clk" and clock_toggles is None and scope[-1:] != [DUT_INSTANCE] and DUT_INSTANCE not in scope:
                    clock_toggles = toggles  # the testbench's clock: two transitions per cycle
                if DUT_INSTANCE in scope and net not in CLOCKS:
                    below = scope[scope.index(DUT_INSTANCE) + 1:]
                    block = _block_of(below[0]) if below else None
                    entry = sums.setdefault(block, [0, 0])
                    entry[0] += toggles
                    entry[1] += 1
            depth += line.count("(") - line.count(")")
            while stack and depth <= stack[-1][1]:
                stack.pop()
    if not clock_toggles:
        raise HwgenError(f"{path}: no ap_clk toggles found; cannot tell the simulated cycles")
    cycles = clock_toggles / 2
    toggles, nets = (sum(v[i] for v in sums.values()) for i in (0, 1))
    if not nets:
        raise HwgenError(f"{path}: no nets of the accelerator (instance `{DUT_INSTANCE}`) found")
    return {"cycles": int(cycles), "nets": nets, "toggle_rate": toggles / nets / cycles,
            "per_block": {b: t / n / cycles for b, (t, n) in sums.items() if b is not None and n}}


def _block_of(instance: str) -> str:
    for pattern in (STREAMER_INSTANCE, BLOCK_INSTANCE):
        match = pattern.fullmatch(instance)
        if match:
            return match.group(1)
    return instance


def activity_key(top: dict, rtl_dir: Path, frames) -> str:
    """What the measured activity depends on: every HDL source of the stitched top (`load_top`'s
    absolute paths), the memory images they load (weights, thresholds), the simulated frames and
    this module's settings."""
    from hwgen.deploy.package import with_memory_images

    digest = hashlib.sha256(f"frames {FRAMES}\0clocks {sorted(CLOCKS)}\0".encode())
    for path in with_memory_images(top["files"]) + [Path(rtl_dir) / name for name in top["meminit_files"]]:
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
    digest.update(frames.tobytes())
    return digest.hexdigest()[:24]


def measure(build: dict, out: Path) -> dict:
    """Simulate FRAMES golden frames (no stalls) of a build (report.load_build's dict) with SAIF
    tracing; writes out/activity.saif and out/activity.json. An earlier measurement with the same
    activity_key is reused (`cached`). Falls back to default() with the reason when there are no
    golden frames or the run fails."""
    import numpy as np

    from hwgen.rtlgen.stitch import TOP
    from hwgen.quiet import output_to
    from hwgen.verify import _read_json, accelerator_frames, run_stream, watchdog_cycles

    build_dir = build["dir"]
    golden = _read_json(build_dir / "verify_python.json", "re-run `hwgen compile`").get("golden_dir")
    if golden is None or not (Path(golden) / "input.npy").is_file():
        return default("the build has no golden input frames to simulate")
    software = _read_json(build_dir / "software.json", "re-run `hwgen compile`")
    frames = accelerator_frames(np.load(Path(golden) / "input.npy")[:FRAMES], software, Path(golden) / "input.npy")
    rtl_info = build_dir / "rtl" / f"{TOP}.json"
    key = activity_key(build["top"], rtl_info.parent, frames)
    record = out / "activity.json"
    if record.is_file():
        earlier = json.loads(record.read_text())
        if earlier.get("key") == key and (build_dir / earlier["saif"]).is_file():
            return {**earlier, "cached": True}
    record.unlink(missing_ok=True)  # a stale measurement must not outlive a failed re-run
    work = out / "activity"
    work.mkdir(parents=True, exist_ok=True)
    # waves=True makes the runner pass --trace at build and run time; --trace-saif, given after it,
    # picks SAIF as the format (cocotb's Verilator main then writes dump.saif); --trace-structs names
    # packed struct members (FINN's thresholding pipeline) as nets of their own, bit counts unchanged
    with output_to(out / "activity.log"):  # Verilator's build and cocotb's run talk a lot
        run = run_stream(rtl_info, frames, work, build_dir / "sim_build", stall=0.0,
                         waves=True, build_args=("--trace-saif", "--trace-structs"),
                         watchdog=watchdog_cycles(build["compiled"]))
    saif = work / "dump.saif"
    if run["error"] or not saif.is_file():
        return default(f"the SAIF simulation did not complete ({run['error'] or 'no dump.saif written'}; "
                       f"see {out / 'activity.log'})")
    shutil.move(saif, out / "activity.saif")
    parsed = parse_saif(out / "activity.saif")
    result = {"measured": True, "toggle_rate": parsed["toggle_rate"], "per_layer": parsed["per_block"],
              "source": (f"measured: Verilator SAIF of {len(frames)} golden frames without stalls, "
                         f"{parsed['cycles']} cycles, mean over {parsed['nets']} RTL net bits of the accelerator "
                         "(clock nets excluded); per layer by instance hierarchy"),
              "saif": str((out / "activity.saif").relative_to(build_dir)), "cycles": parsed["cycles"],
              "nets": parsed["nets"], "frames": len(frames), "key": key}
    record.write_text(json.dumps(result, indent=2))
    return {**result, "cached": False}
