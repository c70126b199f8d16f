"""hwgen package / build-bitstream / flash: the generated Vivado TCL under tclsh with stub Vivado
commands, the PYNQ driver against an in-memory DMA stand-in, the flash commands through --dry-run.

What this proves and what it does not: the TCL is syntactically valid Tcl and calls the Vivado
commands in an order and with names the stub accepts (cells exist before use, sources exist, the
module reference is defined, synthesis before implementation); it does not prove Vivado accepts
every property value. The driver test proves the byte packing, beat unpacking, DMA sequencing and
post-processing reproduce expected outputs from raw accelerator integers; the integers themselves
come from the test, not from hardware.
"""
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from hwgen import cli
from hwgen.boards import load_board
from hwgen.deploy.bitstream import build_bitstream
from hwgen.deploy import hwgen_driver
from hwgen.deploy.hwgen_driver import pack_frames, unpack_outputs
from hwgen.deploy.package import package
from hwgen.errors import HwgenError

STUB = Path(__file__).with_name("vivado_stub.tcl")
FAKE_PYNQ = Path(__file__).with_name("fake_pynq") / "pynq.py"
TCLSH = shutil.which("tclsh")
needs_tclsh = pytest.mark.skipif(TCLSH is None, reason="tclsh not installed (apt-get install -y tcl)")

# A small accelerator: 4x6 RGB frames, one pixel (3 bytes) per input beat; 4 outputs of 20 bits,
# two per 40-bit output beat, so elements straddle byte boundaries.
H, W, C = 4, 6, 3
OUT_BITS = 20
STREAM = {
    "top": "hwgen_top", "clock_mhz": 142.86,
    "s_axis": {"width_bits": 24, "elem_bits": 8, "elems_per_beat": 3, "beats_per_frame": H * W},
    "m_axis": {"width_bits": 40, "elem_bits": OUT_BITS, "signed": True, "elems_per_beat": 2, "beats_per_frame": 2},
    "input_shape_nhwc": [1, H, W, C], "output_shape": [1, 4],
}
SCALE = np.array([[0.001, 0.002, 0.0005, 1e-4]], np.float32)
BIAS = np.array([[0.1, -0.2, 0.0, 0.5]], np.float32)
# software.json as hwgen compile writes it (keys documented in hwgen/compile/software.py)
SOFTWARE = {
    "model_input": {"name": "global_in", "shape": [1, C, H, W], "datatype": "UINT8", "layout": "NCHW"},
    "input": {"name": "global_in", "layout": "NHWC", "shape": [1, H, W, C], "datatype": "UINT8"},
    "preprocess": [{"op": "Transpose", "perm": [0, 2, 3, 1]}],
    "output": {"name": "global_out", "shape": [1, 4], "datatype": "INT20"},
    "postprocess": [{"op": "Mul", "constant": SCALE.tolist(), "constant_first": False},
                    {"op": "Add", "constant": BIAS.tolist(), "constant_first": False}],
    "outputs": {"steering": {"slice": [0, 3], "decode": "argmax", "classes": ["left", "straight", "right"]},
                "throttle": {"slice": [3, 4], "decode": "value"}},
}


def make_build(root: Path, frames: int = 5, seed: int = 0) -> tuple[Path, np.ndarray]:
    """A build folder as `hwgen compile` leaves it; returns it and the raw output integers."""
    build = root / "pilotnet-test"
    rtl = build / "rtl"
    (rtl / "mvau_0").mkdir(parents=True)
    (rtl / "mvau_1").mkdir(parents=True)
    (rtl / "mvau_0" / "memblock.dat").write_text("0f\n1e\n")
    (rtl / "mvau_1" / "memblock.dat").write_text("2d\n3c\n")  # same name, other content
    for i in (0, 1):
        (rtl / f"mvau_{i}" / f"mvau_{i}.sv").write_text(
            f"module mvau_{i} (input logic clk);\n  logic [7:0] mem [0:1];\n"
            f'  initial $readmemh("{rtl / f"mvau_{i}" / "memblock.dat"}", mem);\nendmodule\n')
    # thresholds as FINN's Thresholding_rtl names them: a "./<node>_" prefix, files in rtl/
    (rtl / "thresh_0.v").write_text('module thresh_0 #(parameter THRESHOLDS_PATH = "./thresh_0_") ();\nendmodule\n')
    (rtl / "thresh_0_threshs_0.dat").write_text("05\n")
    (rtl / "top.sv").write_text(
        "module hwgen_top (input logic ap_clk, input logic ap_rst_n,\n"
        "  input logic [23:0] s_axis_tdata, input logic s_axis_tvalid, output logic s_axis_tready,\n"
        "  output logic [39:0] m_axis_tdata, output logic m_axis_tvalid, input logic m_axis_tready,\n"
        "  output logic m_axis_tlast);\n  mvau_0 m0 (.clk(ap_clk));\n  mvau_1 m1 (.clk(ap_clk));\nendmodule\n")
    files = [str(rtl / n) for n in ("mvau_0/mvau_0.sv", "mvau_1/mvau_1.sv", "thresh_0.v", "top.sv")]
    (rtl / "hwgen_top.json").write_text(json.dumps({**STREAM, "files": files, "meminit_files": ["thresh_0_threshs_0.dat"]}))
    (rtl / "hwgen_top.f").write_text("\n".join(files) + "\n")

    rng = np.random.default_rng(seed)
    raw = rng.integers(-(1 << (OUT_BITS - 1)), 1 << (OUT_BITS - 1), (frames, 4))
    raw[0] = [-(1 << (OUT_BITS - 1)), (1 << (OUT_BITS - 1)) - 1, -1, 0]  # range ends, sign bit
    (build / "software.json").write_text(json.dumps(SOFTWARE))
    (build / "golden").mkdir()
    np.save(build / "golden" / "input.npy", rng.integers(0, 256, (frames, C, H, W), dtype=np.uint8))
    # stands in for the PyTorch outputs: the scale and bias applied to the accelerator's integers
    np.save(build / "golden" / "expected.npy", raw.astype(np.float32) * SCALE + BIAS)
    np.savez(build / "fake_dma.npz", frames=np.load(build / "golden" / "input.npy"), raw=raw)
    return build, raw


@pytest.fixture
def fake_pynq(monkeypatch):
    """The in-memory pynq; answers come from HWGEN_FAKE_DMA (set by use_answers)."""
    spec = importlib.util.spec_from_file_location("pynq", FAKE_PYNQ)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, "pynq", module)
    return module


def use_answers(monkeypatch, build: Path, raw: np.ndarray | None = None) -> None:
    if raw is not None:
        np.savez(build / "fake_dma.npz", frames=np.load(build / "golden" / "input.npy"), raw=raw)
    monkeypatch.setenv("HWGEN_FAKE_DMA", str(build / "fake_dma.npz"))


# --- tests ----------------------------------------------------------------------------------------
def test_pack_and_unpack_match_the_reference_bit_layout(fake_pynq):
    rng = np.random.default_rng(3)
    frames = rng.integers(0, 256, (3, C, H, W), dtype=np.uint8)
    packed = pack_frames(frames, STREAM, SOFTWARE)
    assert packed.shape == (3, H * W * 3)
    for frame, data in zip(frames, packed):
        np.testing.assert_array_equal(fake_pynq.decode_frame(data.tobytes(), STREAM), frame.transpose(1, 2, 0))
    values = rng.integers(-(1 << 19), 1 << 19, (6, 4))
    raw = np.stack([np.frombuffer(fake_pynq.encode_outputs(v, STREAM), np.uint8) for v in values])
    np.testing.assert_array_equal(unpack_outputs(raw, STREAM), values)


def test_pack_rejects_frames_of_the_wrong_shape():
    with pytest.raises(ValueError, match="uint8"):
        pack_frames(np.zeros((1, C, W, H), np.uint8), STREAM, SOFTWARE)


def test_driver_reproduces_golden_outputs_through_the_dma(tmp_path, fake_pynq, monkeypatch):
    from hwgen.deploy.hwgen_driver import Accelerator, selftest

    build, raw = make_build(tmp_path, frames=7)
    deploy = package(build, "pynq-z2")
    use_answers(monkeypatch, build)
    frames = np.load(deploy / "golden" / "input.npy")
    expected = np.load(deploy / "golden" / "expected.npy")
    accelerator = Accelerator(deploy)
    accelerator.batch = 3  # several MM2S transfers, the last one partial
    assert fake_pynq.loaded == {"path": str(deploy / "hwgen.bit"), "download": True}
    assert fake_pynq.Clocks.fclk0_mhz == pytest.approx(142.86)
    np.testing.assert_array_equal(accelerator.run_raw(frames), raw)
    np.testing.assert_allclose(accelerator.run(frames), expected, rtol=1e-5)
    prediction = accelerator.predict(frames)
    np.testing.assert_array_equal(prediction["steering"], np.argmax(expected[:, :3], axis=1))
    np.testing.assert_allclose(prediction["throttle"][:, 0], expected[:, 3], rtol=1e-5)
    assert selftest(accelerator, deploy)["mismatch_count"] == 0
    assert accelerator.throughput(10)["frames"] == 10


def test_driver_selftest_reports_a_wrong_output(tmp_path, fake_pynq, monkeypatch):
    from hwgen.deploy.hwgen_driver import Accelerator, selftest

    build, raw = make_build(tmp_path, frames=4)
    deploy = package(build, "pynq-z2")
    wrong = raw.copy()
    sign = 1 if raw[2, 1] < 0 else -1
    wrong[2, 1] += sign * 5000  # well beyond the 1e-5 relative tolerance
    expected_value = float(raw[2, 1] * SCALE[0, 1] + BIAS[0, 1])
    use_answers(monkeypatch, build, wrong)
    result = selftest(Accelerator(deploy), deploy)
    assert result["mismatch_count"] == 1
    assert result["mismatches"] == [{"frame": 2, "index": 1, "expected": pytest.approx(expected_value),
                                     "got": pytest.approx(expected_value + sign * 5000 * SCALE[0, 1])}]


def test_shipped_driver_runs_without_hwgen(tmp_path):
    """The deploy folder's own driver, with only numpy and the fake pynq importable (no hwgen):
    `python3 hwgen_driver.py --selftest --no-download` as on a Kria board after loadapp."""
    build, _ = make_build(tmp_path)
    deploy = package(build, "kv260")
    site_packages = sysconfig.get_paths()["purelib"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_PYNQ.parent), site_packages]),
           "HWGEN_FAKE_DMA": str(build / "fake_dma.npz")}
    probe = subprocess.run([sys.executable, "-S", "-c", "import hwgen"], env=env, cwd=tmp_path,
                           capture_output=True, text=True)
    assert probe.returncode != 0, "hwgen must not be importable in this check"
    run = subprocess.run([sys.executable, "-S", str(deploy / "hwgen_driver.py"), "--selftest", "--no-download"],
                         env=env, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["frames"] == 5 and result["mismatch_count"] == 0 and result["mismatches"] == []


def run_stub(deploy: Path, log: Path, env=None) -> list[dict]:
    subprocess.run([TCLSH, str(STUB), str(log), str(deploy / "build.tcl"), "1"], check=True, cwd=deploy,
                   env={**os.environ, **(env or {})}, capture_output=True, text=True)
    return [json.loads(line) for line in log.read_text().splitlines()]


def stream_path_exists(calls: list[dict], start: str, end: str) -> bool:
    """Follow connect_bd_intf_net edges (and through width converters) from start to end."""
    edges = {}
    for call in calls:
        if call["cmd"] == "connect_bd_intf_net":
            a, b = call["args"]
            edges[a] = b
    pin = start
    for _ in range(4):
        if pin == end:
            return True
        pin = edges.get(pin) or edges.get(pin.replace("/S_AXIS", "/M_AXIS"))
        if pin and pin.endswith("/S_AXIS"):
            pin = pin.replace("/S_AXIS", "/M_AXIS")
    return pin == end


@needs_tclsh
@pytest.mark.parametrize("board_name", ["pynq-z2", "kv260"])
def test_build_tcl_runs_under_stub_vivado(tmp_path, board_name):
    build, _ = make_build(tmp_path)
    deploy = package(build, board_name)
    board = load_board(board_name)
    calls = run_stub(deploy, tmp_path / "calls.jsonl")
    by_cmd = {}
    for call in calls:
        by_cmd.setdefault(call["cmd"], []).append(call["args"])

    assert by_cmd["create_project"][0][-2:] == ["-part", board.part]
    cells = {args[-1]: args for args in by_cmd["create_bd_cell"]}
    ps_vlnv = cells["ps"][cells["ps"].index("-vlnv") + 1]
    assert ps_vlnv.startswith(board.ps_ip + ":")  # processing_system7 / zynq_ultra_ps_e
    assert "axi_dma" in cells["dma"][cells["dma"].index("-vlnv") + 1]
    assert cells["accel"][:4] == ["-type", "module", "-reference", "hwgen_accel"]
    props = {}
    for args in by_cmd["set_property"]:
        if args[0] == "-dict":
            values = args[1].split()
            props.setdefault(args[2], {}).update(zip(values[::2], values[1::2]))
    assert props["ps"][f"CONFIG.{board.ps_config['clock_property']}"] == "142.86"
    assert props["dma"]["CONFIG.c_include_mm2s"] == "1" and props["dma"]["CONFIG.c_include_s2mm"] == "1"
    assert props["dma"]["CONFIG.c_include_sg"] == "0"
    # 3-byte pixels from an 8-byte DMA stream, 5-byte output beats into a 2-byte DMA stream
    assert props["dma"]["CONFIG.c_m_axis_mm2s_tdata_width"] == "64"
    assert props["dma"]["CONFIG.c_s_axis_s2mm_tdata_width"] == "16"
    assert props["in_width"] == {"CONFIG.S_TDATA_NUM_BYTES": "8", "CONFIG.M_TDATA_NUM_BYTES": "3"}
    assert stream_path_exists(calls, "dma/M_AXIS_MM2S", "accel/s_axis")
    assert stream_path_exists(calls, "accel/m_axis", "dma/S_AXIS_S2MM")
    intf = [tuple(a) for a in by_cmd["connect_bd_intf_net"]]
    assert ("memory_ic/M00_AXI", f"ps/{board.ps_config['memory_port']}") in intf
    assert (f"ps/{board.ps_config['control_port']}", "control_ic/S00_AXI") in intf
    clock_net = next(a for a in by_cmd["connect_bd_net"] if a[0] == f"ps/{board.ps_config['pl_clock_pin']}")
    assert {"accel/ap_clk", "dma/m_axi_mm2s_aclk", "dma/m_axi_s2mm_aclk", "in_width/aclk"} <= set(clock_net)
    assert ["impl_1", "-to_step", "write_bitstream", "-jobs", "1"] in by_cmd["launch_runs"]
    # sources were relocated: both same-named memory images kept, paths filled in at build time
    staged = set(by_cmd["add_files"][0][-1].split())
    assert {Path(f).name for f in staged} == {"memblock.dat", "mvau_1__memblock.dat", "hwgen_accel.v", "top.sv",
                                              "mvau_0.sv", "mvau_1.sv", "thresh_0.v", "thresh_0_threshs_0.dat"}
    staged_rtl = deploy / "vivado" / "rtl"
    assert f'$readmemh("{staged_rtl}/mvau_1__memblock.dat"' in (staged_rtl / "mvau_1.sv").read_text()
    assert f'THRESHOLDS_PATH = "{staged_rtl}/thresh_0_"' in (staged_rtl / "thresh_0.v").read_text()
    record = json.loads((deploy / "vivado_build.json").read_text())
    assert record == {"vivado": "2024.2", "part": board.part, "clock_mhz": 142.86, "wns_ns": 0.25,
                      "timing_met": True, "bitstream": "hwgen.bit", "hwh": "hwgen.hwh", "xsa": "hwgen.xsa"}
    assert (deploy / "hwgen.bit").is_file() and (deploy / "hwgen.hwh").is_file()


@needs_tclsh
def test_stub_catches_a_broken_flow(tmp_path):
    """The stub run is a real check: a block design that uses a cell it never made fails."""
    build, _ = make_build(tmp_path)
    deploy = package(build, "pynq-z2")
    tcl = deploy / "build.tcl"
    tcl.write_text(tcl.read_text().replace("create_bd_cell -type ip -vlnv [ip_vlnv proc_sys_reset] reset\n", ""))
    with pytest.raises(subprocess.CalledProcessError) as err:
        run_stub(deploy, tmp_path / "calls.jsonl")
    assert "no cell reset" in err.value.stderr


def test_package_layout_and_kria_files(tmp_path):
    build, _ = make_build(tmp_path)
    deploy = package(build, "kv260", app="Lane Keeper")
    meta = json.loads((deploy / "deploy.json").read_text())
    assert meta["app"] == "lane-keeper" and meta["kria"]["firmware_dir"] == "/lib/firmware/xilinx/lane-keeper"
    kria = deploy / "kria" / "lane-keeper"
    assert json.loads((kria / "shell.json").read_text()) == {"shell_type": "XRT_FLAT", "num_slots": "1"}
    dtsi = (kria / "lane-keeper.dtsi").read_text()
    assert 'firmware-name = "lane-keeper.bit.bin";' in dtsi and "<142860000>" in dtsi
    assert "[destination_device = pl] ../../hwgen.bit" in (kria / "lane-keeper.bif").read_text()
    makefile = (deploy / "Makefile").read_text()
    assert "-arch zynqmp -image lane-keeper.bif" in makefile and "-source build.tcl" in makefile
    assert (deploy / "hwgen_driver.py").read_text() == Path(hwgen_driver.__file__).read_text()
    assert meta["files"]["modules"] == ["hwgen/__init__.py", "hwgen/compile/__init__.py",
                                        "hwgen/compile/software.py", "hwgen/errors.py"]
    assert not list(build.glob("deploy/.*"))  # no partial folder left behind
    wrapper = (deploy / "rtl" / "hwgen_accel.v").read_text()
    assert "input wire [23:0] s_axis_tdata" in wrapper and "output wire [39:0] m_axis_tdata" in wrapper
    pynq_meta = json.loads((package(build, "pynq-z2") / "deploy.json").read_text())
    assert pynq_meta["kria"] is None and "kria:" not in (build / "deploy" / "pynq-z2" / "Makefile").read_text()


def test_package_errors_are_clear(tmp_path):
    build, _ = make_build(tmp_path)
    with pytest.raises(HwgenError, match="unknown board 'pynq-z9'"):
        package(build, "pynq-z9")
    (build / "compile.json").write_text(json.dumps({"board": "kv260"}))
    with pytest.raises(HwgenError, match="compiled for kv260, not pynq-z2"):
        package(build, "pynq-z2")
    (build / "compile.json").write_text(json.dumps({"board": "pynq-z2", "clock_mhz": None}))
    top = json.loads((build / "rtl" / "hwgen_top.json").read_text())
    (build / "rtl" / "hwgen_top.json").write_text(json.dumps({**top, "clock_mhz": None}))
    with pytest.raises(HwgenError, match="no clock_mhz"):
        package(build, "pynq-z2")
    (build / "compile.json").write_text(json.dumps({"board": "pynq-z2", "clock_mhz": 125.0}))
    assert json.loads((package(build, "pynq-z2") / "deploy.json").read_text())["clock_mhz"] == 125.0
    shutil.rmtree(build / "deploy" / "pynq-z2")
    top = json.loads((build / "rtl" / "hwgen_top.json").read_text())
    del top["m_axis"]
    (build / "rtl" / "hwgen_top.json").write_text(json.dumps(top))
    with pytest.raises(HwgenError, match="hwgen_top.json: missing m_axis"):
        package(build, "pynq-z2")
    assert not (build / "deploy" / "pynq-z2").exists()


def test_package_refuses_a_top_without_the_contract_ports(tmp_path):
    build, _ = make_build(tmp_path)
    top_sv = build / "rtl" / "top.sv"
    top_sv.write_text(top_sv.read_text().replace(",\n  output logic m_axis_tlast", ""))
    with pytest.raises(HwgenError, match="module hwgen_top: ports .* are not the stream contract's"):
        package(build, "pynq-z2")


def fake_vivado(bin_dir: Path, log: Path) -> None:
    """A `vivado` on PATH that runs the given -source script under tclsh with the stub."""
    bin_dir.mkdir()
    script = bin_dir / "vivado"
    script.write_text(f"""#!/bin/sh
while [ $# -gt 0 ]; do
  case "$1" in -source) src=$2; shift;; -tclargs) shift; break;; esac; shift
done
exec {TCLSH} {STUB} {log} "$src" "$@"
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@needs_tclsh
def test_build_bitstream_runs_make_and_checks_timing(tmp_path, monkeypatch):
    build, _ = make_build(tmp_path)
    package(build, "pynq-z2")
    fake_vivado(tmp_path / "bin", tmp_path / "calls.jsonl")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    record = build_bitstream(build, "pynq-z2", jobs=1)
    assert record["timing_met"] and (build / "deploy" / "pynq-z2" / "hwgen.bit").is_file()
    monkeypatch.setenv("HWGEN_STUB_WNS", "-0.4")
    with pytest.raises(HwgenError, match=r"timing not met \(worst setup slack -0.4 ns at 142.86 MHz\)"):
        build_bitstream(build, "pynq-z2", jobs=1)


def test_build_bitstream_without_vivado_says_what_to_run(tmp_path, monkeypatch, capsys):
    build, _ = make_build(tmp_path)
    package(build, "kv260")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert cli.main(["build-bitstream", str(build), "--board", "kv260"]) == 1
    message = capsys.readouterr().err
    assert "vivado is not on PATH" in message and f"cd {build / 'deploy' / 'kv260'} && make && make kria" in message
    assert cli.main(["build-bitstream", str(build), "--board", "pynq-z2"]) == 1
    assert "no package; run `hwgen package" in capsys.readouterr().err


def built(build: Path, board: str) -> Path:
    """Pretend Vivado (and bootgen/dtc for Kria) ran: the files flash needs exist."""
    deploy = package(build, board)
    for name in ("hwgen.bit", "hwgen.hwh"):
        (deploy / name).write_bytes(b"\0")
    meta = json.loads((deploy / "deploy.json").read_text())
    if meta["kria"]:
        for name in meta["kria"]["files"]:
            (deploy / meta["kria"]["folder"] / name).touch()
    return deploy


def flash_dry_run(capsys, *args) -> list[str]:
    assert cli.main(["flash", *args, "--dry-run"]) == 0
    return capsys.readouterr().out.splitlines()


def test_flash_kria_dry_run(tmp_path, capsys):
    build, _ = make_build(tmp_path)
    deploy = built(build, "kv260")
    lines = flash_dry_run(capsys, str(build), "--board", "kv260", "--host", "ubuntu@10.0.0.7")
    app = "pilotnet-test"
    assert f"ssh ubuntu@10.0.0.7 'sudo mkdir -p /lib/firmware/xilinx/{app}'" in lines
    assert (f"scp {deploy}/kria/{app}/{app}.bit.bin {deploy}/kria/{app}/{app}.dtbo {deploy}/kria/{app}/shell.json "
            f"ubuntu@10.0.0.7:/tmp/{app}/") in lines
    assert (f"ssh ubuntu@10.0.0.7 'sudo cp /tmp/{app}/{app}.bit.bin /tmp/{app}/{app}.dtbo /tmp/{app}/shell.json "
            f"/lib/firmware/xilinx/{app}/'") in lines
    unload = lines.index("ssh ubuntu@10.0.0.7 'sh -c '\"'\"'sudo xmutil unloadapp || true'\"'\"''")
    assert lines[unload + 1] == f"ssh ubuntu@10.0.0.7 'sudo xmutil loadapp {app}'"
    assert "--no-download" in lines[-1] and "--selftest" in lines[-1]


def test_flash_pynq_and_jtag_dry_run(tmp_path, capsys):
    build, _ = make_build(tmp_path)
    deploy = built(build, "pynq-z2")
    lines = flash_dry_run(capsys, str(build), "--board", "pynq-z2", "--host", "xilinx@pynq")
    app = "hwgen/pilotnet-test"
    assert lines[0] == (f"ssh xilinx@pynq 'mkdir -p {app} {app}/hwgen {app}/hwgen/compile {app}/golden'")
    assert lines[1] == (f"scp {deploy}/hwgen.bit {deploy}/hwgen.hwh {deploy}/deploy.json {deploy}/hwgen_driver.py "
                        f"{deploy}/software.json xilinx@pynq:{app}/")
    assert (f"scp {deploy}/hwgen/compile/__init__.py {deploy}/hwgen/compile/software.py "
            f"xilinx@pynq:{app}/hwgen/compile/") in lines
    assert "hwgen_driver.py --selftest" in lines[-1] and "--no-download" not in lines[-1]
    lines = flash_dry_run(capsys, str(build), "--board", "pynq-z2", "--method", "jtag")
    assert lines == [f"openFPGALoader -b pynq_z2 {deploy}/hwgen.bit"]


def test_flash_without_bitstream_is_an_error(tmp_path, capsys):
    build, _ = make_build(tmp_path)
    package(build, "kv260")
    assert cli.main(["flash", str(build), "--board", "kv260", "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "hwgen.bit: missing; no bitstream yet" in err
    built(build, "kv260")
    assert cli.main(["flash", str(build), "--board", "kv260", "--method", "jtag", "--dry-run"]) == 1
    assert "openFPGALoader does not know this board" in capsys.readouterr().err


def raw_from_golden(expected: np.ndarray, software: dict) -> np.ndarray:
    """The accelerator integers behind golden outputs: the recorded post-processing undone
    (elementwise ops with constants, in reverse order); they must come out as integers."""
    undo = {"Mul": np.divide, "Div": np.multiply, "Add": np.subtract, "Sub": np.add}
    values = expected.astype(np.float64)
    for op in reversed(software["postprocess"]):
        assert op["op"] in undo and not op["constant_first"], f"cannot undo {op}"
        values = undo[op["op"]](values, np.asarray(op["constant"], np.float64))
    raw = np.round(values).astype(np.int64)
    assert np.abs(values - raw).max() < 1e-2, "golden outputs are not integers through the post-processing"
    return raw


@pytest.mark.heavy
@needs_tclsh
def test_pilotnet_packages_for_pynq_z2_and_kv260(tmp_path):
    """The real path: a calibrated pilotnet-w4a4 exported, compiled and stitched per board, then
    packaged; build.tcl passes the stub run and the shipped driver reproduces golden/expected.npy
    from golden/input.npy through its packing, with integers derived from the golden outputs."""
    from hwgen.compile import compile_model
    from hwgen.export import export_model
    from hwgen.models.calibrate import calibrated_model

    frames = np.random.default_rng(0).integers(0, 256, (6, 3, 66, 200), dtype=np.uint8)
    export_model(calibrated_model("pilotnet-w4a4", frames), frames, tmp_path / "export", check_frames=0)
    site_packages = sysconfig.get_paths()["purelib"]
    for board in ("pynq-z2", "kv260"):
        build = tmp_path / board / "pilotnet-w4a4"
        compile_model(tmp_path / "export" / "model.onnx", board, build, verify_frames=2, progress=False)
        deploy = package(build, board)
        calls = run_stub(deploy, tmp_path / board / "calls.jsonl")
        assert any(c["cmd"] == "launch_runs" and "write_bitstream" in c["args"] for c in calls)
        software = json.loads((deploy / "software.json").read_text())
        np.savez(tmp_path / board / "fake_dma.npz", frames=np.load(deploy / "golden" / "input.npy"),
                 raw=raw_from_golden(np.load(deploy / "golden" / "expected.npy"), software))
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(FAKE_PYNQ.parent), site_packages]),
               "HWGEN_FAKE_DMA": str(tmp_path / board / "fake_dma.npz")}
        run = subprocess.run([sys.executable, "-S", str(deploy / "hwgen_driver.py"), "--selftest"],
                             env=env, cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        result = json.loads(run.stdout)
        assert (result["frames"], result["mismatch_count"]) == (6, 0), result
