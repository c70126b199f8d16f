"""In-memory stand-in for the `pynq` package (tests only), enough for hwgen_driver.py.

Overlay(path).dma is a fake AXI DMA + accelerator: it decodes the frames MM2S delivers beat by beat
(one Python integer per beat, written independently of the driver's numpy packing) and answers each
with the raw output integers the test assigned to that frame (zeros for others), one S2MM packet per frame (the
accelerator's TLAST ends an S2MM transfer). The answers come from the .npz named by HWGEN_FAKE_DMA
(arrays `frames`, uint8 N C H W, and `raw`, integers N x outputs); the stream layout from the
deploy.json next to the bitstream.
"""
import json
import os
import types
from pathlib import Path

import numpy as np

Clocks = types.SimpleNamespace(fclk0_mhz=None)
loaded = {}


def decode_frame(data: bytes, stream: dict) -> np.ndarray:
    """Input bytes of one frame -> NHWC pixels."""
    s_axis, beat_bytes = stream["s_axis"], stream["s_axis"]["width_bits"] // 8
    pixels = []
    for b in range(s_axis["beats_per_frame"]):
        beat = int.from_bytes(data[b * beat_bytes:(b + 1) * beat_bytes], "little")
        pixels += [(beat >> (8 * e)) & 0xFF for e in range(s_axis["elems_per_beat"])]
    return np.array(pixels, np.uint8).reshape(stream["input_shape_nhwc"][1:])


def encode_outputs(values, stream: dict) -> bytes:
    """Output integers of one frame -> the bytes of its output beats."""
    m_axis = stream["m_axis"]
    bits, per_beat, beats = m_axis["elem_bits"], m_axis["elems_per_beat"], m_axis["beats_per_frame"]
    padded = [int(v) for v in values] + [0] * (per_beat * beats - len(values))
    out = b""
    for b in range(beats):
        beat = 0
        for e in range(per_beat):
            beat |= (padded[b * per_beat + e] & ((1 << bits) - 1)) << (bits * e)
        out += beat.to_bytes(m_axis["width_bits"] // 8, "little")
    return out


class FakeDma:
    def __init__(self, stream: dict, frames: np.ndarray, raw: np.ndarray):
        self.stream = stream
        # the accelerator sees NHWC pixels (the driver's pre-processing transposes NCHW frames)
        self.answers = {f.transpose(1, 2, 0).tobytes(): r for f, r in zip(frames, raw)}
        self.packets = []
        self.pending = None
        self.no_answer = np.zeros(raw.shape[1], np.int64)
        self.sendchannel = types.SimpleNamespace(transfer=self.send, wait=lambda: None)
        self.recvchannel = types.SimpleNamespace(transfer=self.arm, wait=self.complete)

    def send(self, buffer, start=0, nbytes=0):
        data = buffer.reshape(-1).view(np.uint8)[start:start + nbytes].tobytes()
        frame_bytes = self.stream["s_axis"]["beats_per_frame"] * self.stream["s_axis"]["width_bits"] // 8
        assert len(data) % frame_bytes == 0, "MM2S transfer is not a whole number of frames"
        for i in range(0, len(data), frame_bytes):
            pixels = decode_frame(data[i:i + frame_bytes], self.stream)
            # a frame without an answer (e.g. the throughput test's random frames) gets zeros
            answer = self.answers.get(pixels.tobytes(), self.no_answer)
            self.packets.append(encode_outputs(answer, self.stream))

    def arm(self, buffer, start=0, nbytes=0):
        assert self.pending is None, "S2MM re-armed before its transfer completed"
        assert start % 64 == 0, "S2MM destination not aligned"
        self.pending = (buffer, start, nbytes)

    def complete(self):
        buffer, start, nbytes = self.pending
        packet = self.packets.pop(0)
        assert nbytes >= len(packet), "S2MM transfer shorter than the output packet"
        buffer.reshape(-1).view(np.uint8)[start:start + len(packet)] = np.frombuffer(packet, np.uint8)
        self.pending = None


class Buffer(np.ndarray):
    def flush(self):
        pass

    def invalidate(self):
        pass


def allocate(shape, dtype):
    return np.zeros(shape, dtype).view(Buffer)


class Overlay:
    def __init__(self, path, download=True):
        loaded.update(path=path, download=download)
        stream = json.loads((Path(path).parent / "deploy.json").read_text())["stream"]
        answers = np.load(os.environ["HWGEN_FAKE_DMA"])
        self.dma = FakeDma(stream, answers["frames"], answers["raw"])
