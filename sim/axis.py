"""cocotb helpers for AXI-Stream testbenches: packed numpy frames in, beats out, random stalls, watchdog.

Beats are packed as FINN does: several `bits`-wide elements per beat, element 0 in the lowest bits.
A StreamSource offers beats with random tvalid gaps and, as AXI-Stream requires, holds each beat
until it is accepted; a StreamSink drives tready with random backpressure and collects beats.
Both drive right after the falling clock edge and sample before the rising edge (ReadOnly phase),
so they see exactly the handshakes the design acts on. A Watchdog raises StreamStalled naming the
stream(s) with work left that saw no beat for too long.

Signals are found by prefix in either spelling: `s_axis_tdata` (our cores) or `in0_V_TDATA` (FINN).
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
from cocotb.triggers import FallingEdge, ReadOnly


def pack_beats(elements, bits: int, per_beat: int, signed: bool = False) -> list[int]:
    """Flatten `elements` (C order) and pack `per_beat` of them per beat, element 0 in the low bits."""
    flat = np.asarray(elements).reshape(-1)
    if flat.size % per_beat:
        raise ValueError(f"{flat.size} elements do not fill whole beats of {per_beat}")
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    values = [int(v) for v in flat.tolist()]
    if values and (min(values) < low or max(values) > high):
        raise ValueError(f"elements span {min(values)}..{max(values)}, outside {bits}-bit "
                         f"{'signed' if signed else 'unsigned'} range {low}..{high}")
    mask = (1 << bits) - 1
    beats = []
    for start in range(0, len(values), per_beat):
        word = 0
        for lane, value in enumerate(values[start:start + per_beat]):
            word |= (value & mask) << (lane * bits)
        beats.append(word)
    return beats


def unpack_beats(beats: Sequence[int], bits: int, per_beat: int, signed: bool = False) -> np.ndarray:
    """Inverse of pack_beats: a flat int64 array of len(beats) * per_beat elements."""
    mask = (1 << bits) - 1
    elements = []
    for word in beats:
        for lane in range(per_beat):
            value = (word >> (lane * bits)) & mask
            if signed and value >> (bits - 1):
                value -= 1 << bits
            elements.append(value)
    return np.array(elements, dtype=np.int64)


def _signal(dut, prefix: str, name: str):
    for spelling in (f"{prefix}_{name}", f"{prefix}_{name.upper()}"):
        if hasattr(dut, spelling):
            return getattr(dut, spelling)
    raise AttributeError(f"{dut._name}: no {prefix}_{name} / {prefix}_{name.upper()} signal")


class _Stream:
    """Common state: which stream, and when its last beat happened (for the watchdog)."""

    def __init__(self, dut, prefix: str, clock, rng: random.Random | None, name: str | None):
        self.name = name or prefix
        self.clock = clock
        self.rng = rng or random.Random()
        self.tdata = _signal(dut, prefix, "tdata")
        self.tvalid = _signal(dut, prefix, "tvalid")
        self.tready = _signal(dut, prefix, "tready")
        self.cycle = 0
        self.last_beat_cycle = 0

    @property
    def busy(self) -> bool:
        raise NotImplementedError

    def state(self) -> str:
        return f"tvalid={self.tvalid.value} tready={self.tready.value}"


class StreamSource(_Stream):
    """Drives beats into a design's input stream; tvalid drops with probability `gap_probability`
    between beats (never while a beat waits)."""

    def __init__(self, dut, prefix: str, clock, *, gap_probability: float = 0.0,
                 rng: random.Random | None = None, name: str | None = None):
        super().__init__(dut, prefix, clock, rng, name)
        self.gap_probability = gap_probability
        self.pending: list[int] = []
        self.sent = 0

    @property
    def busy(self) -> bool:
        return bool(self.pending)

    async def send(self, beats: Sequence[int]) -> None:
        """Drive all `beats`; returns once the last one was accepted."""
        self.pending = list(beats)
        offered: int | None = None
        while self.pending:
            await FallingEdge(self.clock)
            self.cycle += 1
            if offered is None and self.rng.random() >= self.gap_probability:
                offered = self.pending[0]
            self.tvalid.value = int(offered is not None)
            if offered is not None:
                self.tdata.value = offered
            await ReadOnly()
            if offered is not None and self.tready.value:
                self.pending.pop(0)
                self.sent += 1
                self.last_beat_cycle = self.cycle
                offered = None
        await FallingEdge(self.clock)
        self.tvalid.value = 0


class StreamSink(_Stream):
    """Collects beats from a design's output stream; tready is low with probability
    `backpressure_probability` in each cycle."""

    def __init__(self, dut, prefix: str, clock, *, backpressure_probability: float = 0.0,
                 rng: random.Random | None = None, name: str | None = None):
        super().__init__(dut, prefix, clock, rng, name)
        self.backpressure_probability = backpressure_probability
        self.expected = 0
        self.beats: list[int] = []

    @property
    def busy(self) -> bool:
        return len(self.beats) < self.expected

    async def receive(self, count: int) -> list[int]:
        """Collect `count` more beats and return them."""
        start = len(self.beats)
        self.expected = start + count
        while len(self.beats) < self.expected:
            await FallingEdge(self.clock)
            self.cycle += 1
            ready = self.rng.random() >= self.backpressure_probability
            self.tready.value = int(ready)
            await ReadOnly()
            if ready and self.tvalid.value:
                self.beats.append(int(self.tdata.value))
                self.last_beat_cycle = self.cycle
        await FallingEdge(self.clock)
        self.tready.value = 0
        return self.beats[start:]


class StreamStalled(AssertionError):
    """No beat for too long on a stream that still has work; the message names it."""


class Watchdog:
    """Raises StreamStalled when a busy stream sees no beat for `timeout_cycles`; returns when no
    stream is busy any more. Run it next to the sources and sinks (cocotb.start_soon(wd.run()))."""

    def __init__(self, clock, streams: Sequence[_Stream], timeout_cycles: int = 1000):
        self.clock = clock
        self.streams = list(streams)
        self.timeout_cycles = timeout_cycles

    async def run(self) -> None:
        idle = {stream.name: 0 for stream in self.streams}
        beats_seen = {stream.name: stream.last_beat_cycle for stream in self.streams}
        await FallingEdge(self.clock)  # let the sources and sinks pick up their work first
        while any(stream.busy for stream in self.streams):
            await FallingEdge(self.clock)
            for stream in self.streams:
                moved = stream.last_beat_cycle != beats_seen[stream.name]
                beats_seen[stream.name] = stream.last_beat_cycle
                idle[stream.name] = 0 if moved or not stream.busy else idle[stream.name] + 1
            stopped = [s for s in self.streams if idle[s.name] >= self.timeout_cycles]
            if stopped:
                detail = "; ".join(f"'{s.name}' ({s.state()})" for s in stopped)
                raise StreamStalled(f"no beat for {self.timeout_cycles} cycles on stream(s) with "
                                    f"work left: {detail}")
