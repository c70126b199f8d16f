"""hwgen compile: the tiny preset end to end (all RTL, Python golden check), the JSON contracts,
folding.json round trip, and the clear errors for what cannot be built."""
import json
from pathlib import Path

import numpy as np
import pytest

from hwgen.cli import main as hwgen_main
from hwgen.compile import compile_model
from hwgen.compile.software import apply_postprocess, apply_preprocess, compare_outputs, interpret_outputs
from hwgen.errors import HwgenError

STEP_FILES = ["00_tidy_up", "01_convert_qonnx_to_finn", "02_streamline", "03_lower_convolutions",
              "04_convert_to_hw", "05_dataflow_partition", "06_specialize_layers", "07_folding",
              "08_minimize_bit_width", "09_fifos_and_width_converters", "10_generate_rtl"]


def _json(path):
    return json.loads(path.read_text())


def test_tiny_compiles_to_all_rtl_layers_with_generated_hdl(tiny_build):
    summary = _json(tiny_build / "compile.json")
    assert summary["all_rtl"] and summary["board"] == "pynq-z2" and summary["clock_mhz"] == 100
    assert summary["fps_requested"] == 1000 and summary["folding_file"] is None  # the default target
    ops = [node["op_type"] for node in summary["nodes"]]
    # tiny: 5 convolutions (sliding window + MVAU + thresholds), a hidden FC (MVAU + thresholds), the head MVAU
    assert ops.count("ConvolutionInputGenerator_rtl") == 5
    assert ops.count("MVAU_rtl") == 7 and ops.count("Thresholding_rtl") == 6
    assert all(op.endswith("_rtl") for op in ops)
    assert ops[0] == "StreamingFIFO_rtl" and ops[-1] == "StreamingFIFO_rtl"
    for node in summary["nodes"]:
        assert node["ip_dir"] == str((tiny_build / "ip" / node["name"]).resolve())
        assert node["rtl_files"] and all(p.endswith((".v", ".sv")) for p in node["rtl_files"])
        assert all(Path(p).is_file() for p in node["rtl_files"])
    # consecutive nodes agree on the stream width between them
    for producer, consumer in zip(summary["nodes"], summary["nodes"][1:]):
        assert producer["m_axis"][0]["width"] == consumer["s_axis"][0]["width"], (producer["name"], consumer["name"])
    assert sorted(p.stem for p in (tiny_build / "stages").glob("*.onnx")) == STEP_FILES


def test_python_golden_check_passes_and_is_reproducible_by_hand(tiny_build, tiny_export):
    from qonnx.core.modelwrapper import ModelWrapper

    from finn.core.onnx_exec import execute_onnx

    check = _json(tiny_build / "verify_python.json")
    assert check["passed"] and check["frames"] == 12 and check["mismatch_count"] == 0 and check["mismatches"] == []
    # The same check without hwgen's software module: NHWC in, integer out, scale and bias by hand
    software = _json(tiny_build / "software.json")
    frames = np.load(tiny_export / "golden" / "input.npy")
    expected = np.load(tiny_export / "golden" / "expected.npy")
    model = ModelWrapper(str(tiny_build / "dataflow.onnx"))
    raw = execute_onnx(model, {model.graph.input[0].name: frames[:1].transpose(0, 2, 3, 1).astype(np.float32)})
    ints = raw[model.graph.output[0].name]
    assert np.array_equal(ints, np.round(ints)) and ints.shape == (1, 4)
    mul, add = software["postprocess"]
    assert (mul["op"], add["op"]) == ("Mul", "Add")
    by_hand = ints.astype(np.float32) * np.float32(mul["constant"]) + np.asarray(add["constant"], np.float32)
    np.testing.assert_allclose(by_hand, expected[:1], rtol=1e-5, atol=1e-6)


def test_software_json_records_layout_types_and_output_meaning(tiny_build):
    software = _json(tiny_build / "software.json")
    assert software["model_input"] == {"name": "global_in", "shape": [1, 3, 32, 32], "datatype": "UINT8",
                                       "layout": "NCHW"}
    assert software["input"]["layout"] == "NHWC" and software["input"]["shape"] == [1, 32, 32, 3]
    assert software["input"]["datatype"] == "UINT8"
    assert software["preprocess"] == [{"op": "Transpose", "perm": [0, 2, 3, 1]}]
    assert software["output"]["shape"] == [1, 4] and software["output"]["datatype"].startswith("INT")
    assert software["outputs"] == {"steering": {"slice": [0, 3], "decode": "argmax",
                                                "classes": ["left", "straight", "right"]},
                                   "throttle": {"slice": [3, 4], "decode": "value"}}


def test_estimates_are_consistent(tiny_build):
    estimates = _json(tiny_build / "estimates.json")
    layers = estimates["layers"]
    cycles = {name: layer["cycles"] for name, layer in layers.items()}
    assert estimates["expected_ii_cycles"] == max(cycles.values()) == cycles[estimates["bottleneck_layer"]]
    assert estimates["expected_fps"] == pytest.approx(100e6 / estimates["expected_ii_cycles"])
    assert estimates["critical_path_cycles"] == sum(cycles.values())
    for resource in ("LUT", "BRAM_18K", "URAM", "DSP"):
        assert estimates["resources_total"][resource] == pytest.approx(sum(l[resource] for l in layers.values()))
        assert estimates["resources_total"][resource] <= estimates["budget"][resource]
    # pynq-z2 budget: 70% of 53,200 LUT, 80% of 220 DSP
    assert estimates["budget"]["LUT"] == 37240 and estimates["budget"]["DSP"] == 176
    assert estimates["fits_budget"]
    # the first conv: 27 inputs x 4 outputs x 15x15 positions multiply-accumulates
    assert layers["MVAU_rtl_0"]["ops_and_params"]["op_mac_4bx8b"] == 27 * 4 * 15 * 15


def test_edited_folding_json_is_applied(tiny_build, tiny_export, tmp_path):
    folding = _json(tiny_build / "folding.json")
    assert set(folding["MVAU_rtl_0"]) >= {"PE", "SIMD"} and not any(k.startswith("StreamingFIFO") for k in folding)
    folding["MVAU_rtl_0"].update(PE=2, SIMD=3)
    (tmp_path / "folding.json").write_text(json.dumps(folding))
    out = tmp_path / "build"
    summary = compile_model(tiny_export / "model.onnx", "pynq-z2", out, folding=tmp_path / "folding.json",
                            progress=False)
    assert summary["verify_python"]["passed"]
    assert _json(out / "folding.json")["MVAU_rtl_0"] == folding["MVAU_rtl_0"]
    # 27/3 input folds x 4/2 output folds x 225 positions
    assert _json(out / "estimates.json")["layers"]["MVAU_rtl_0"]["cycles"] == 9 * 2 * 225


def test_folding_that_does_not_divide_a_layer_is_refused(tiny_build, tiny_export, tmp_path):
    folding = _json(tiny_build / "folding.json")
    folding["MVAU_rtl_1"]["SIMD"] = 5  # 36 input channels
    (tmp_path / "bad.json").write_text(json.dumps(folding))
    with pytest.raises(HwgenError, match="SIMD=5 does not divide the 36 input channels of MVAU_rtl_1"):
        compile_model(tiny_export / "model.onnx", "pynq-z2", tmp_path / "b", folding=tmp_path / "bad.json",
                      progress=False)


def test_unreachable_fps_names_the_best_fps_and_the_limiting_layer(tiny_export, tmp_path):
    out = tmp_path / "build"
    out.mkdir()
    for name in ("compile.json", "verify_rtl.json", "report.json"):  # an earlier build's results must not survive
        (out / name).write_text("{}")
    with pytest.raises(HwgenError) as err:
        compile_model(tiny_export / "model.onnx", "pynq-z2", out, fps=1e8, progress=False)
    message = str(err.value)
    assert "--fps 100000000.0 does not fit pynq-z2" in message and "the best that fits is" in message
    assert "fully parallel" in message and "_rtl_" in message
    assert not any((out / name).exists() for name in ("compile.json", "verify_rtl.json", "report.json"))


def test_fps_over_the_resource_budget_reports_the_resource(tiny_export, tmp_path):
    # 8 DSPs: the 7 MVAUs fit fully folded, not at a high frame rate
    with pytest.raises(HwgenError, match=r"exceeds the budget: DSP .* > budget 8 .*the best that fits is"):
        compile_model(tiny_export / "model.onnx", "pynq-z2", tmp_path / "b", fps=50000,
                      limits={"DSP": 8 / 220 + 1e-6}, progress=False)


def test_corrupt_onnx_is_one_line_error_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\xff")
    assert hwgen_main(["compile", str(bad), "--board", "pynq-z2", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "not a readable ONNX model" in err


def _export_changed_tiny(out, change, **overrides):
    """The tiny preset with `change(model)` applied, calibrated and exported to out/model.onnx."""
    import torch

    from hwgen.export import export_model
    from hwgen.models.calibrate import calibrated_model

    frames = np.random.default_rng(3).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    model = calibrated_model("tiny", frames, **overrides)
    change(model)
    model.train()
    with torch.no_grad():  # calibrate the changed layers too
        model(torch.from_numpy(frames).float())
    export_model(model.eval(), frames, out, check_frames=0)
    return out / "model.onnx"


def test_maxpool_is_refused_before_any_rtl_is_generated(tmp_path):
    import torch

    def add_maxpool(model):
        blocks = list(model.features)
        model.features = torch.nn.Sequential(*blocks[:2], torch.nn.MaxPool2d(3, stride=1, padding=1), *blocks[2:])

    onnx = _export_changed_tiny(tmp_path / "export", add_maxpool)
    with pytest.raises(HwgenError, match=r"node \S+ \(MaxPool\w*\) between HW layers cannot be built into RTL: "
                                         r"pooling has only an HLS layer"):
        compile_model(onnx, "pynq-z2", tmp_path / "b", progress=False)
    assert not (tmp_path / "b" / "ip").exists() and not (tmp_path / "b" / "compile.json").exists()


def test_float_activation_inside_the_partition_is_named(tmp_path):
    import torch

    def float_relu(model):
        model.features[2][2] = torch.nn.ReLU()

    onnx = _export_changed_tiny(tmp_path / "export", float_relu)
    with pytest.raises(HwgenError, match=r"node Relu_0 \(Relu\) between HW layers cannot be built into RTL: "
                                         r"a float Relu activation; use a quantized one"):
        compile_model(onnx, "pynq-z2", tmp_path / "b", progress=False)
    assert not (tmp_path / "b" / "ip").exists()


def test_full_range_weights_need_a_dsp48e2_part(tmp_path):
    import brevitas.nn as qnn
    import brevitas.quant as bq
    import torch

    def full_range(model):
        old = model.features[0][0]
        conv = qnn.QuantConv2d(3, old.out_channels, old.kernel_size, old.stride, bias=False,
                               weight_quant=bq.Int8WeightPerTensorFixedPoint, weight_bit_width=4,
                               weight_narrow_range=False)
        with torch.no_grad():  # max |w| = 1 gives the scale 1/8, so -1 becomes -8: the full INT4 range
            conv.weight.uniform_(-0.5, 0.5)
            conv.weight[0, 0, 0, 0] = -1.0
        model.features[0][0] = conv

    onnx = _export_changed_tiny(tmp_path / "export", full_range)
    with pytest.raises(HwgenError, match=r"node MVAU_hls_0 \(MVAU_hls\) has no RTL implementation: .*INT4 weights "
                                         r"use the full range down to -8: on DSP48E1 parts \(Zynq-7000\) it needs "
                                         r"narrow-range weights"):
        compile_model(onnx, "pynq-z2", tmp_path / "b", progress=False)
    assert not (tmp_path / "b" / "ip").exists()


def test_finn_refusal_is_one_line_error_naming_step_and_node(tmp_path, capsys):
    onnx = _export_changed_tiny(tmp_path / "export", lambda model: None, act_bits=1)
    assert hwgen_main(["compile", str(onnx), "--board", "pynq-z2", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    err = err.strip().splitlines()[-1]  # the lines before are the progress bar's
    assert err.startswith("hwgen compile: error: compile step convert_to_hw: FINN cannot lower the model "
                          "(MultiThreshold_0: ")
    assert "use activations of at least 2 bits" in err
    assert not (tmp_path / "b" / "compile.json").exists()


def test_postprocess_ops_run_in_order_in_float32():
    software = {"preprocess": [{"op": "Transpose", "perm": [0, 2, 3, 1]}],
                "postprocess": [{"op": "Mul", "constant": 0.5, "constant_first": False},
                                {"op": "Add", "constant": [1.0, 1.0, 1.0, -1.0], "constant_first": False},
                                {"op": "Sub", "constant": 10.0, "constant_first": True}],
                "outputs": {"steering": {"slice": [0, 3], "decode": "argmax"}, "throttle": {"slice": [3, 4]}}}
    ints = np.array([[2, -4, 6, 8], [0, 0, 0, 0]], dtype=np.int32)
    out = apply_postprocess(ints, software)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[8, 11, 6, 7], [9, 9, 9, 11]])  # 10 - (x/2 + bias)
    decoded = interpret_outputs(out, software)
    assert decoded["steering"].tolist() == [1, 0] and decoded["throttle"].tolist() == [[7], [11]]
    frames = np.arange(2 * 3 * 2 * 2, dtype=np.uint8).reshape(2, 3, 2, 2)
    nhwc = apply_preprocess(frames, software)
    assert nhwc.dtype == np.uint8 and nhwc.shape == (2, 2, 2, 3) and nhwc[0, 0, 1, 2] == frames[0, 2, 0, 1]


def test_compare_outputs_lists_each_mismatch():
    expected = np.array([[1.0, 2.0], [3.0, 0.0]], dtype=np.float32)
    got = expected.copy()
    got[1, 0] = 3.001
    got[0, 1] = 2.0 * (1 + 1e-7)  # float rounding: not a mismatch
    result = compare_outputs(got, expected)
    assert result["mismatch_count"] == 1
    assert result["mismatches"] == [{"frame": 1, "index": 0, "expected": 3.0, "got": pytest.approx(3.001)}]
