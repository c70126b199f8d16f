"""Whole-design stream test: frames in, every output beat recorded, stalls on both sides.

The stimulus, the random stalls, the capture and the cycle counting run inside stream_tb.sv; this
test only resets the design, waits for the harness to finish, and on a stall reports which internal
stream stopped. The comparison against the golden outputs is done by the caller (hwgen verify), on
the files the harness wrote. Settings come from the environment:
  HWGEN_STREAMS  JSON list of internal streams to probe on a stall: [{"name", "wire", "count", "max"}]
                 ("count"/"max": a FIFO's occupancy and high-water mark signals, or null)
  HWGEN_REPORT   where to write {"stalled": bool, "cycles": int, "tlast_errors": int, "streams": [...],
                 "fifo_max_unstalled": {signal: words}, "fifo_max": {signal: words}}
The high-water marks are read when the calm (unstalled) frames are out and at the end.
"""
import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, First, RisingEdge


def _probe(dut, streams):
    """Handshake state of every internal stream (and FIFO fill) at the moment the harness gave up."""
    top = dut.dut
    state = []
    for stream in streams:
        valid = int(getattr(top, f"{stream['wire']}_tvalid").value)
        ready = int(getattr(top, f"{stream['wire']}_tready").value)
        entry = {"stream": stream["name"], "tvalid": valid, "tready": ready}
        if stream.get("count"):
            entry["fifo_count"] = int(getattr(top, stream["count"]).value)
        state.append(entry)
    return state


def _high_water(dut, streams):
    return {s["max"]: int(getattr(dut.dut, s["max"]).value) for s in streams if s.get("max")}


@cocotb.test()
async def stream_frames(dut):
    """Stream all frames through the design; fail if the watchdog saw no output for too long."""
    streams = json.loads(os.environ.get("HWGEN_STREAMS", "[]"))
    cocotb.start_soon(Clock(dut.ap_clk, 10, unit="ns").start())
    dut.ap_rst_n.value = 0
    await ClockCycles(dut.ap_clk, 16)
    dut.ap_rst_n.value = 1
    if not dut.calm_done.value:
        await First(RisingEdge(dut.calm_done), RisingEdge(dut.done))
    unstalled = _high_water(dut, streams)
    if not dut.done.value:
        await RisingEdge(dut.done)
    stalled = bool(dut.stalled.value)
    report = {"stalled": stalled, "cycles": int(dut.cycle.value),
              "tlast_errors": int(dut.tlast_errors.value),
              "streams": _probe(dut, streams) if stalled else [],
              "fifo_max_unstalled": unstalled, "fifo_max": _high_water(dut, streams)}
    with open(os.environ["HWGEN_REPORT"], "w") as f:
        json.dump(report, f, indent=2)
    if stalled:
        stuck = [s["stream"] for s in report["streams"] if s["tvalid"] and not s["tready"]]
        idle = [s["stream"] for s in report["streams"] if not s["tvalid"]]
        raise AssertionError(f"watchdog: no output for too long; backpressured streams: {stuck or 'none'}; "
                             f"first idle stream: {idle[0] if idle else 'none'}")
