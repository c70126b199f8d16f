"""The steering CNN: presets resolve, shapes follow the preset, float and quantized variants share names."""
import pytest
import torch

from hwgen.errors import HwgenError
from hwgen.models import PRESETS, build_model, resolve_preset, split_outputs


def test_presets_required_by_the_issue_exist():
    for name in ("tiny", "pilotnet-w4a4", "donkey-w4a4", "pilotnet-w2a2", "pilotnet-w8a8", "pilotnet-float"):
        assert name in PRESETS


def test_pilotnet_preset_is_the_five_conv_pilotnet():
    spec = resolve_preset("pilotnet-w2a2")
    assert spec["input"] == [3, 66, 200]
    assert spec["convs"] == [[24, 5, 2], [36, 5, 2], [48, 5, 2], [64, 3, 1], [64, 3, 1]]
    assert spec["fc"] == [100, 50]
    assert (spec["weight_bits"], spec["act_bits"]) == (2, 2)


@pytest.mark.parametrize("preset", ["tiny", "tiny-float", "pilotnet-w4a4", "donkey-w4a4"])
def test_output_is_four_values_per_frame(preset):
    model = build_model(preset).eval()
    h, w = model.spec["input"][1:]
    frames = torch.randint(0, 256, (2, 3, h, w), dtype=torch.uint8)
    y = model(frames)
    assert y.shape == (2, 4) and y.dtype == torch.float32
    steer, throttle = split_outputs(y)
    assert steer.shape == (2, 3) and throttle.shape == (2,)
    assert torch.equal(throttle, y[:, 3])


def test_quantized_weights_are_narrow_range_integers_of_the_asked_width():
    model = build_model("tiny", weight_bits=3, act_bits=2)
    conv = model.features[0][0]
    q = conv.quant_weight()
    ints = (q.value / q.scale).round()
    assert int(q.bit_width) == 3
    assert ints.abs().max() <= 3 and ints.min() >= -3  # narrow range: -3..3, never -4
    relu = model.features[0][2]
    assert int(relu.act_quant.bit_width()) == 2


def test_float_model_parameters_load_into_the_quantized_one():
    float_model, quant_model = build_model("tiny-float"), build_model("tiny")
    result = quant_model.load_state_dict(float_model.state_dict(), strict=False)
    assert result.unexpected_keys == []
    # only quantizer state is missing (not any weight, bias or BatchNorm statistic)
    assert all("quant" in key for key in result.missing_keys)
    assert torch.equal(quant_model.head.weight, float_model.head.weight)


def test_bad_presets_are_reported():
    with pytest.raises(HwgenError, match="unknown"):
        resolve_preset("no-such-preset")
    with pytest.raises(HwgenError, match="weight_bits"):
        resolve_preset("tiny", weight_bits=9)
    with pytest.raises(HwgenError, match="both"):
        resolve_preset({"base": "tiny", "act_bits": None})
