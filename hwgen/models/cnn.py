"""The camera-to-steering CNN: raw uint8 RGB frames in, 3 steering scores + 1 throttle out.

Hardware-driven choices (FINN lowers the whole network to one all-RTL dataflow partition):
- no input quantizer and no float pre-scale: the first convolution consumes pixel values 0..255 and
  the BatchNorm after it learns the normalization (FINN folds BatchNorm into thresholds);
- narrow-range signed integer weights (FINN's MVAU_rtl on DSP48E1 needs them), no conv padding;
- power-of-two scales (FixedPoint quantizers): integer products and sums are then exact in float32,
  so PyTorch, qonnx/onnxruntime and the integer hardware agree on every rounding decision (with
  arbitrary float scales, accumulation-order differences flipped activations at rounding boundaries);
- both heads merged into one final linear layer whose input is a quantized activation and whose
  bias stays float; the 4 outputs are split in software (`split_outputs`).
A float spec (weight_bits/act_bits null) builds the same network from plain torch layers with the
same parameter names, so a float run initializes QAT directly.
"""
from __future__ import annotations

import torch
from torch import nn

from hwgen.models.presets import resolve_preset

CLASS_NAMES = ("left", "straight", "right")
OUTPUT_SPLIT = {"steering": [0, 3], "throttle": [3, 4]}


class _Layers:
    """Makes conv/linear/activation layers: Brevitas quantized ones, or plain torch for float."""

    def __init__(self, weight_bits: int | None, act_bits: int | None):
        self.weight_bits, self.act_bits = weight_bits, act_bits

    def _weight_quant(self) -> dict:
        import brevitas.quant as bq
        if self.weight_bits == 1:  # a 1-bit narrow signed integer would only hold 0: use +-1
            return {"weight_quant": bq.SignedBinaryWeightPerTensorConst}
        return {"weight_quant": bq.Int8WeightPerTensorFixedPoint, "weight_bit_width": self.weight_bits,
                "weight_narrow_range": True}

    def conv(self, in_ch: int, out_ch: int, kernel: int, stride: int) -> nn.Module:
        if self.weight_bits is None:
            return nn.Conv2d(in_ch, out_ch, kernel, stride, bias=False)
        import brevitas.nn as qnn
        return qnn.QuantConv2d(in_ch, out_ch, kernel, stride, bias=False, **self._weight_quant())

    def linear(self, in_f: int, out_f: int, bias: bool) -> nn.Module:
        if self.weight_bits is None:
            return nn.Linear(in_f, out_f, bias=bias)
        import brevitas.nn as qnn
        # bias_quant=None keeps the head's bias float (an Add after the last MatMul in QONNX)
        return qnn.QuantLinear(in_f, out_f, bias=bias, bias_quant=None, **self._weight_quant())

    def relu(self) -> nn.Module:
        if self.act_bits is None:
            return nn.ReLU()
        import brevitas.nn as qnn
        import brevitas.quant as bq
        return qnn.QuantReLU(act_quant=bq.Uint8ActPerTensorFixedPoint, bit_width=self.act_bits,
                             return_quant_tensor=True)


class SteeringCNN(nn.Module):
    """features: conv blocks (conv, BN, ReLU); hidden: FC blocks (linear, BN, dropout, ReLU); head: 4 outputs."""

    def __init__(self, spec: dict):
        super().__init__()
        self.spec = spec
        make = _Layers(spec["weight_bits"], spec["act_bits"])
        channels, height, width = spec["input"]
        blocks = []
        for out_ch, kernel, stride in spec["convs"]:
            blocks.append(nn.Sequential(make.conv(channels, out_ch, kernel, stride), nn.BatchNorm2d(out_ch),
                                        make.relu()))
            channels = out_ch
            height, width = (height - kernel) // stride + 1, (width - kernel) // stride + 1
            if height < 1 or width < 1:
                raise ValueError(f"preset '{spec['name']}': input {spec['input']} is too small for convs {spec['convs']}")
        self.features = nn.Sequential(*blocks)
        features = channels * height * width
        hidden = []
        for width_out in spec["fc"]:
            hidden.append(nn.Sequential(make.linear(features, width_out, bias=False), nn.BatchNorm1d(width_out),
                                        nn.Dropout(spec["dropout"]), make.relu()))
            features = width_out
        self.hidden = nn.Sequential(*hidden)
        self.head = make.linear(features, len(CLASS_NAMES) + 1, bias=True)

    @property
    def conv_blocks(self) -> list[nn.Module]:
        return list(self.features)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: (N, 3, H, W) pixel values 0..255 (uint8 or float). Returns (N, 4) float."""
        x = self.features(frames.float() if frames.dtype == torch.uint8 else frames)
        x = self.hidden(torch.flatten(x, 1))
        y = self.head(x)
        return y.value if hasattr(y, "value") else y  # a QuantTensor only if the head returns one


def build_model(preset: str | dict, **overrides) -> SteeringCNN:
    """The CNN for a preset name (see presets.json) or a spec dict, e.g. build_model("tiny", act_bits=2)."""
    return SteeringCNN(resolve_preset(preset, **overrides))


def split_outputs(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 4) network output -> (steering logits (N, 3), throttle (N,))."""
    steer, throttle = OUTPUT_SPLIT["steering"], OUTPUT_SPLIT["throttle"]
    return y[:, steer[0]:steer[1]], y[:, throttle[0]]
