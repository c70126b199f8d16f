"""PYNQ driver for a hwgen accelerator (copied as-is into every deploy folder by `hwgen package`).

Runs on the board with only numpy and pynq: loads the overlay, sets the PL clock, streams uint8
camera frames through the AXI DMA and turns the accelerator's output integers into the model's
outputs with the recorded software pre/post-processing (software.json, executed by
hwgen.compile.software: the package ships a copy of that module next to this file).

    python3 hwgen_driver.py --selftest          # golden frames -> compare with golden/expected.npy
    python3 hwgen_driver.py --throughput 2000   # frames per second through the DMA
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BATCH_FRAMES = 64  # frames per MM2S transfer: the buffers live in scarce contiguous (CMA) memory
if not __package__:  # run from a deploy folder: use the hwgen modules shipped with this build
    sys.path.insert(0, str(HERE))

from hwgen.compile.software import apply_postprocess, apply_preprocess, compare_outputs, interpret_outputs  # noqa: E402,E501


def frame_bytes_in(stream: dict) -> int:
    return stream["s_axis"]["beats_per_frame"] * stream["s_axis"]["width_bits"] // 8


def frame_bytes_out(stream: dict) -> int:
    return stream["m_axis"]["beats_per_frame"] * stream["m_axis"]["width_bits"] // 8


def pack_frames(frames: np.ndarray, stream: dict, software: dict) -> np.ndarray:
    """Model input frames (uint8, e.g. N C H W) -> the bytes the DMA sends, (N, bytes per frame).

    software.json's pre-processing gives the accelerator's layout (NHWC); a beat holds
    elems_per_beat pixels, element 0 in its lowest byte, padded to the beat's byte width.
    """
    nhwc = apply_preprocess(np.asarray(frames), software)
    shape = tuple(stream["input_shape_nhwc"][1:])
    if nhwc.dtype != np.uint8 or nhwc.shape[1:] != shape:
        raise ValueError(f"frames must be uint8 and become {shape} after pre-processing; got "
                         f"{nhwc.dtype} {np.asarray(frames).shape}")
    s_axis = stream["s_axis"]
    per_beat, beats, beat_bytes = s_axis["elems_per_beat"], s_axis["beats_per_frame"], s_axis["width_bits"] // 8
    if per_beat * beats != int(np.prod(shape)):
        raise ValueError(f"s_axis carries {beats} beats x {per_beat} pixels, a frame has {int(np.prod(shape))}")
    packed = np.zeros((len(nhwc), beats, beat_bytes), np.uint8)
    packed[:, :, :per_beat] = nhwc.reshape(len(nhwc), beats, per_beat)
    return packed.reshape(len(nhwc), beats * beat_bytes)


def unpack_outputs(raw: np.ndarray, stream: dict) -> np.ndarray:
    """Bytes the DMA received, (N, bytes per frame) -> output integers (N, outputs), int64."""
    m_axis = stream["m_axis"]
    bits, per_beat, beats = m_axis["elem_bits"], m_axis["elems_per_beat"], m_axis["beats_per_frame"]
    n_outputs = int(np.prod(stream["output_shape"][1:]))
    count = len(raw)
    beat_bits = np.unpackbits(np.ascontiguousarray(raw, np.uint8).reshape(count, beats, -1), axis=2, bitorder="little")
    elem_bits = beat_bits[:, :, : per_beat * bits].reshape(count, beats * per_beat, bits).astype(np.int64)
    values = elem_bits @ (np.int64(1) << np.arange(bits, dtype=np.int64))
    if m_axis["signed"]:
        values = np.where(elem_bits[:, :, -1] == 1, values - (np.int64(1) << bits), values)
    return values[:, :n_outputs]


class Accelerator:
    """The accelerator behind an AXI DMA: MM2S sends frames, S2MM returns one packet per frame."""

    def __init__(self, folder: Path | str = HERE, download: bool = True):
        from pynq import Overlay, allocate

        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "deploy.json").read_text())
        self.stream = self.meta["stream"]
        self.software = json.loads((self.folder / self.meta["files"]["software"]).read_text())
        self.overlay = Overlay(str(self.folder / self.meta["outputs"]["bitstream"]), download=download)
        if download:
            from pynq import Clocks

            Clocks.fclk0_mhz = self.meta["clock_mhz"]
        self.dma = getattr(self.overlay, self.meta["dma"]["cell"])
        self.in_bytes = frame_bytes_in(self.stream)
        self.out_bytes = frame_bytes_out(self.stream)
        self.out_slot = self.meta["dma"]["out_slot_bytes"]
        self.batch = max(1, min(self.meta["dma"]["max_transfer_bytes"] // self.in_bytes, BATCH_FRAMES))
        self.in_buffer = allocate(shape=(self.batch, self.in_bytes), dtype=np.uint8)
        self.out_buffer = allocate(shape=(self.batch, self.out_slot), dtype=np.uint8)

    def _run_batch(self, packed: np.ndarray) -> np.ndarray:
        count = len(packed)
        self.in_buffer[:count] = packed
        self.in_buffer.flush()
        recv, send = self.dma.recvchannel, self.dma.sendchannel
        # The accelerator ends every frame with TLAST, which completes an S2MM transfer: receive
        # one frame per transfer, while MM2S streams the whole batch in one go.
        recv.transfer(self.out_buffer, start=0, nbytes=self.out_bytes)
        send.transfer(self.in_buffer, start=0, nbytes=count * self.in_bytes)
        for i in range(count):
            recv.wait()
            if i + 1 < count:
                recv.transfer(self.out_buffer, start=(i + 1) * self.out_slot, nbytes=self.out_bytes)
        send.wait()
        self.out_buffer.invalidate()
        return np.array(self.out_buffer[:count, : self.out_bytes])

    def run_raw(self, frames: np.ndarray) -> np.ndarray:
        """uint8 frames (N, C, H, W) -> the accelerator's output integers (N, outputs)."""
        packed = pack_frames(frames, self.stream, self.software)
        raw = [self._run_batch(packed[i : i + self.batch]) for i in range(0, len(packed), self.batch)]
        return unpack_outputs(np.concatenate(raw), self.stream)

    def run(self, frames: np.ndarray) -> np.ndarray:
        """uint8 frames (N, C, H, W) -> the model's outputs (N, 4), as PyTorch computes them."""
        return apply_postprocess(self.run_raw(frames), self.software)

    def predict(self, frames: np.ndarray) -> dict:
        """Decoded outputs per software.json "outputs", e.g. {"steering": class indices, "throttle": ...}."""
        return interpret_outputs(self.run(frames), self.software)

    def throughput(self, frames: int = 1000) -> dict:
        """Frames per second through DMA and accelerator (packing excluded, as in a camera loop)."""
        shape = self.software["model_input"]["shape"][1:]
        rng = np.random.default_rng(0)
        packed = pack_frames(rng.integers(0, 256, (min(frames, self.batch), *shape), np.uint8),
                             self.stream, self.software)
        done, start = 0, time.perf_counter()
        while done < frames:
            count = min(frames - done, len(packed))
            self._run_batch(packed[:count])
            done += count
        seconds = time.perf_counter() - start
        return {"frames": done, "seconds": seconds, "fps": done / seconds}


def selftest(accelerator: Accelerator, folder: Path = HERE) -> dict:
    """Golden frames through the board, compared with the PyTorch outputs (golden/expected.npy) under
    the bit-exact rule of hwgen compile's Python check: frames, mismatch_count, the first mismatches
    ({frame, index, expected, got}), max_abs_error, max_rel_error, rtol, atol."""
    frames = np.load(folder / "golden" / "input.npy")
    expected = np.load(folder / "golden" / "expected.npy")
    got = accelerator.run(frames)
    return compare_outputs(got.reshape(len(frames), -1), expected.reshape(len(frames), -1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-download", action="store_true",
                        help="the bitstream is already loaded (e.g. by `xmutil loadapp` on Kria)")
    parser.add_argument("--selftest", action="store_true", help="run golden/input.npy, compare with golden/expected.npy")
    parser.add_argument("--throughput", type=int, metavar="FRAMES", help="measure frames per second")
    args = parser.parse_args(argv)
    accelerator = Accelerator(HERE, download=not args.no_download)
    status = 0
    if args.selftest:
        result = selftest(accelerator)
        print(json.dumps(result))
        status = int(result["mismatch_count"] > 0)
    if args.throughput:
        print(json.dumps(accelerator.throughput(args.throughput)))
    return status


if __name__ == "__main__":
    sys.exit(main())
