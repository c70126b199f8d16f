"""cocotb testbench for rtl/axis_fifo.sv; each test states one property of the FIFO.

Every cycle the bench drives the inputs just after the falling clock edge and samples the outputs in
the read-only phase before the rising edge, i.e. it sees exactly what the FIFO acts on at that edge.
A deque is the reference model: every word must come out once, unchanged, in order, and `count`,
`s_axis_tready` (not full) and `m_axis_tvalid` (not empty) must match the model in every cycle.
WIDTH and DEPTH are read from the DUT's parameters, so one bench covers every configuration.
"""
from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly

from sim.axis import StreamSink, StreamSource, StreamStalled, Watchdog, pack_beats, unpack_beats

CLOCK_NS = 10
RANDOM_WORDS = 10_000
# (input tvalid probability, output tready probability) phases, so the FIFO runs full, runs empty
# and streams in between many times during the random test.
TRAFFIC_PHASES = ((0.9, 0.3), (0.3, 0.9), (0.7, 0.7), (1.0, 1.0), (1.0, 0.5), (0.5, 1.0))
PHASE_CYCLES = 300


@dataclass
class Cycle:
    """What the FIFO showed in one cycle, sampled just before the rising edge."""
    pushed: bool
    popped: bool
    out_data: int
    count: int
    in_ready: bool
    out_valid: bool


class FifoBench:
    def __init__(self, dut):
        self.dut = dut
        self.width = int(dut.WIDTH.value)
        self.depth = int(dut.DEPTH.value)
        self.rng = random.Random(cocotb.RANDOM_SEED)
        self.model: deque[int] = deque()
        self.offered: int | None = None  # word on s_axis_tdata waiting for tready

    async def start(self) -> None:
        Clock(self.dut.ap_clk, CLOCK_NS, unit="ns").start()
        await self.reset()

    async def reset(self, cycles: int = 2) -> None:
        for _ in range(cycles):
            await self.step(send=False, ready=False, reset=True)
        await FallingEdge(self.dut.ap_clk)
        self.dut.ap_rst_n.value = 1
        self.model.clear()

    def random_word(self) -> int:
        return self.rng.getrandbits(self.width)

    async def step(self, *, send: bool, ready: bool, data: int | None = None, reset: bool = False) -> Cycle:
        """One clock cycle: offer a word if `send` (a random one unless `data` is given), set tready,
        sample the outputs and check them against the model.

        As AXI-Stream requires, a word once offered stays on tdata with tvalid high until accepted,
        whatever `send` says; only a reset withdraws it.
        """
        dut = self.dut
        if reset:
            self.offered = None
        elif self.offered is None and send:
            self.offered = self.random_word() if data is None else data
        await FallingEdge(dut.ap_clk)
        dut.ap_rst_n.value = 0 if reset else 1
        dut.s_axis_tvalid.value = int(self.offered is not None)
        dut.s_axis_tdata.value = self.offered or 0
        dut.m_axis_tready.value = int(ready)
        await ReadOnly()
        seen = Cycle(
            pushed=self.offered is not None and bool(dut.s_axis_tready.value),
            popped=ready and bool(dut.m_axis_tvalid.value),
            out_data=int(dut.m_axis_tdata.value) if dut.m_axis_tvalid.value else 0,
            count=int(dut.count.value),
            in_ready=bool(dut.s_axis_tready.value),
            out_valid=bool(dut.m_axis_tvalid.value),
        )
        if reset:
            return seen
        stored = len(self.model)
        assert seen.count == stored, f"count is {seen.count}, model holds {stored} words"
        assert seen.out_valid == (stored > 0), f"m_axis_tvalid={seen.out_valid} with {stored} words stored"
        assert seen.in_ready == (stored < self.depth), \
            f"s_axis_tready={seen.in_ready} with {stored} of {self.depth} words stored"
        if seen.popped:
            expected = self.model.popleft()
            assert seen.out_data == expected, f"m_axis_tdata={seen.out_data:#x}, expected {expected:#x}"
        if seen.pushed:
            self.model.append(self.offered)
            self.offered = None
        return seen


@cocotb.test()
async def test_random_traffic_keeps_every_word_in_order(dut):
    """10,000 random words with random input gaps and output backpressure arrive unchanged and in order."""
    bench = FifoBench(dut)
    await bench.start()
    sent = received = cycles = cycles_full = cycles_empty = 0
    while received < RANDOM_WORDS:
        send_probability, ready_probability = TRAFFIC_PHASES[(cycles // PHASE_CYCLES) % len(TRAFFIC_PHASES)]
        seen = await bench.step(send=sent < RANDOM_WORDS and bench.rng.random() < send_probability,
                                ready=bench.rng.random() < ready_probability)
        cycles += 1
        cycles_full += seen.count == bench.depth
        cycles_empty += seen.count == 0
        sent += seen.pushed
        received += seen.popped
    assert not bench.model, f"{len(bench.model)} words left in the model after all were received"
    # The random traffic must really have exercised both boundaries.
    assert cycles_full > 0 and cycles_empty > 0, f"full {cycles_full} / empty {cycles_empty} cycles"
    dut._log.info("%d words in %d cycles (full %d, empty %d cycles), WIDTH=%d DEPTH=%d",
                  received, cycles, cycles_full, cycles_empty, bench.width, bench.depth)


@cocotb.test()
async def test_holds_exactly_depth_words_when_output_blocked(dut):
    """With tready low it accepts exactly DEPTH words, then keeps tready low; draining returns them in order."""
    bench = FifoBench(dut)
    await bench.start()
    accepted = 0
    for _ in range(bench.depth + 4):
        seen = await bench.step(send=True, ready=False)
        accepted += seen.pushed
    assert accepted == bench.depth, f"accepted {accepted} words with the output blocked, DEPTH={bench.depth}"
    assert not seen.in_ready and seen.count == bench.depth and seen.out_valid
    # The word still offered enters as soon as the first one leaves: DEPTH + 1 words come out.
    for _ in range(bench.depth + 1):
        while not (await bench.step(send=False, ready=True)).popped:
            pass
    seen = await bench.step(send=False, ready=True)
    assert not seen.out_valid and seen.count == 0 and seen.in_ready


@cocotb.test()
async def test_reset_empties_it_and_no_stale_word_comes_out(dut):
    """A reset while full leaves it empty; the next word out is the first one written after reset."""
    bench = FifoBench(dut)
    await bench.start()
    for _ in range(bench.depth):
        await bench.step(send=True, ready=False)
    stale = set(bench.model)
    assert len(bench.model) == bench.depth
    await bench.reset()
    seen = await bench.step(send=False, ready=True)
    assert seen.count == 0 and not seen.out_valid and seen.in_ready, f"after reset: {seen}"
    fresh = next(w for w in range(2 ** bench.width) if w not in stale)
    await bench.step(send=True, data=fresh, ready=False)
    seen = await bench.step(send=False, ready=True)
    assert seen.popped and seen.out_data == fresh
    assert not (await bench.step(send=False, ready=True)).out_valid


@cocotb.test()
async def test_streams_one_word_per_cycle(dut):
    """With tvalid and tready held high, a word leaves every cycle (every other cycle for DEPTH=1)."""
    bench = FifoBench(dut)
    await bench.start()
    words, sent, cycle, pop_cycles = 200, 0, 0, []
    while len(pop_cycles) < words:
        seen = await bench.step(send=sent < words, ready=True)
        sent += seen.pushed
        if seen.popped:
            pop_cycles.append(cycle)
        cycle += 1
    cycles_per_word = 1 if bench.depth >= 2 else 2
    span = pop_cycles[-1] - pop_cycles[0]
    assert span == (words - 1) * cycles_per_word, \
        f"{words} words left over {span + 1} cycles, expected one per {cycles_per_word} cycle(s)"
    assert pop_cycles[0] == 1, f"first word out in cycle {pop_cycles[0]}, expected 1 cycle latency"


def element_lanes(width: int) -> tuple[int, int]:
    """(bits per element, elements per beat) for packing frames into a WIDTH-bit stream."""
    per_beat = 4 if width % 4 == 0 else 1
    return width // per_beat, per_beat


@cocotb.test()
async def test_packed_frames_pass_unchanged_with_stalls(dut):
    """Signed numpy frames packed with sim/axis.py come back unchanged through gaps and backpressure."""
    bench = FifoBench(dut)
    await bench.start()
    bits, per_beat = element_lanes(bench.width)
    limit = 1 << (bits - 1)
    frames = np.random.default_rng(cocotb.RANDOM_SEED).integers(-limit, limit, size=(3, 4, 6, per_beat))
    beats = pack_beats(frames, bits, per_beat, signed=True)
    source = StreamSource(dut, "s_axis", dut.ap_clk, gap_probability=0.3, rng=bench.rng, name="fifo in")
    sink = StreamSink(dut, "m_axis", dut.ap_clk, backpressure_probability=0.4, rng=bench.rng,
                      name="fifo out")
    cocotb.start_soon(source.send(beats))
    receiving = cocotb.start_soon(sink.receive(len(beats)))
    await Watchdog(dut.ap_clk, [source, sink], timeout_cycles=200).run()
    received = unpack_beats(await receiving, bits, per_beat, signed=True)
    np.testing.assert_array_equal(received.reshape(frames.shape), frames)


@cocotb.test()
async def test_watchdog_names_the_stream_that_stopped(dut):
    """With nobody reading the output, the input stops once the FIFO is full; the watchdog says so."""
    bench = FifoBench(dut)
    await bench.start()
    source = StreamSource(dut, "s_axis", dut.ap_clk, name="fifo in")
    idle_sink = StreamSink(dut, "m_axis", dut.ap_clk, name="fifo out")  # never asked for beats
    cocotb.start_soon(source.send([1] * (bench.depth + 5)))
    try:
        await Watchdog(dut.ap_clk, [source, idle_sink], timeout_cycles=50).run()
    except StreamStalled as stalled:
        assert "'fifo in' (tvalid=1 tready=0)" in str(stalled), str(stalled)
        assert "fifo out" not in str(stalled), str(stalled)
    else:
        raise AssertionError("the watchdog did not fire although the input stream stopped")
    assert source.sent == bench.depth
