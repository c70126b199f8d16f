"""`hwgen package DIR --board B`: everything needed to build and run the accelerator on a board.

Writes DIR/deploy/B/: build.tcl + Makefile (Vivado block design, synthesis, implementation,
bitstream, .hwh), rtl/ (the accelerator sources, made relocatable), the PYNQ driver with the
software post-processing, golden frames for an on-board self-test, Kria dfx-mgr files, a README for
the board user and deploy.json (written last: its presence marks a finished package).
"""
from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
from pathlib import Path

from hwgen.boards import Board, load_board
from hwgen.errors import HwgenError
from hwgen.paths import BOARDS_DIR, ROOT
from hwgen.rtlgen.stitch import TOP, load_top, module_ports

DMA_STREAM_BYTES = (1, 2, 4, 8, 16, 32, 64, 128)  # AXI DMA stream widths 8..1024 bits
DMA_LENGTH_WIDTH = 26  # buffer length register bits: transfers up to 64 MiB - 1
OUT_SLOT_ALIGN = 64  # S2MM destinations stay aligned to any memory-map width (no realignment engine)
ACCEL_MODULE = "hwgen_accel"
BD_NAME = "hwgen"
OUTPUT_NAME = "hwgen"  # hwgen.bit + hwgen.hwh: PYNQ's Overlay wants the same base name
SHIPPED_MODULES = ("hwgen.compile.software",)  # what hwgen_driver.py imports from hwgen
DRIVER_SOURCE = Path(__file__).with_name("hwgen_driver.py")
QUOTED_ABSOLUTE_PATH = re.compile(r'"(/[^"\s]+)"')
QUOTED_PATH = re.compile(r'"(\.?/[^"\s]*)"')
HDL_SUFFIXES = {".v", ".sv", ".vh", ".svh"}
PLACEHOLDER = "@HWGEN_RTL_DIR@"
CONTRACT_KEYS = ("top", "clock_mhz", "s_axis", "m_axis", "input_shape_nhwc", "output_shape", "files")


def read_stream_contract(build_dir: Path) -> dict:
    """DIR/rtl/<top>.json from the RTL stitcher, checked against what the block design and the driver rely on."""
    path = build_dir / "rtl" / f"{TOP}.json"
    if not path.is_file():
        raise HwgenError(f"{path}: missing; run `hwgen compile` for this build first")
    try:
        top = load_top(path)
        missing_keys = [k for k in CONTRACT_KEYS if k not in top]
        if missing_keys:
            raise HwgenError(f"{path}: missing {', '.join(missing_keys)}; re-run `hwgen compile`")
        for side in ("s_axis", "m_axis"):
            axis = top[side]
            if axis["width_bits"] % 8 or axis["elems_per_beat"] * axis["elem_bits"] > axis["width_bits"]:
                raise HwgenError(f"{path}: {side}: {axis['elems_per_beat']} x {axis['elem_bits']}-bit elements do "
                                 f"not fit a byte-padded {axis['width_bits']}-bit beat; re-run the RTL stitcher")
        if top["s_axis"]["elem_bits"] != 8:
            raise HwgenError(f"{path}: s_axis.elem_bits is {top['s_axis']['elem_bits']}; the driver sends uint8 pixels")
        missing = [f for f in top["files"] if not Path(f).is_file()]
        if missing:
            raise HwgenError(f"{path}: source {missing[0]} does not exist; re-run `hwgen compile`")
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as err:
        raise HwgenError(f"{path}: not a valid stream contract ({err!r}); re-run `hwgen compile`") from err
    return top


def dma_stream_bytes(beat_bytes: int, frame_bytes: int) -> int:
    """The DMA's stream width for an accelerator port: the port's own width when the DMA has it,
    else the widest DMA width that divides a frame (so transfers end on whole DMA beats)."""
    if beat_bytes in DMA_STREAM_BYTES:
        return beat_bytes
    return max(b for b in DMA_STREAM_BYTES if frame_bytes % b == 0)


def with_memory_images(files: list[str]) -> list[Path]:
    """The sources and the files they name by absolute path (FINN's weight streamers name their
    memblock.dat so), each once, in order."""
    sources = [Path(f) for f in files]
    for src in list(sources):
        if src.suffix in HDL_SUFFIXES:
            for ref in QUOTED_ABSOLUTE_PATH.findall(src.read_text(errors="replace")):
                if Path(ref).is_file() and Path(ref) not in sources:
                    sources.append(Path(ref))
    return sources


def relocate_sources(files: list[str], rtl_dir: Path) -> list[str]:
    """Copy the sources, memory images included, into rtl_dir and return their packaged names.

    Paths inside the copies become PLACEHOLDER/<name>, which build.tcl fills in: absolute paths of
    copied files (FINN's weight streamers name memblock.dat so) and "./<prefix>" paths that name
    copied files by prefix (FINN's thresholding names "./<node>_threshs_*.dat" so). Files with the
    same name but different content (every weight streamer's memblock.dat) get their folder's name.
    """
    sources = with_memory_images(files)
    names: dict[Path, str] = {}
    by_name: dict[str, str] = {}  # packaged name -> content hash
    for src in sources:
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        for name in (src.name, f"{src.parent.name}__{src.name}"):
            if by_name.setdefault(name, digest) == digest:
                names[src] = name
                break
        else:
            raise HwgenError(f"{src}: another source with the same name and folder name differs; rename one")
    packaged = list(dict.fromkeys(names.values()))

    def relocate(match: re.Match) -> str:
        path = match.group(1)
        if path.startswith("./"):
            hit = any(name.startswith(path[2:]) for name in packaged)
            return f'"{PLACEHOLDER}/{path[2:]}"' if hit and path[2:] else match.group(0)
        return f'"{PLACEHOLDER}/{names[Path(path)]}"' if Path(path) in names else match.group(0)

    rtl_dir.mkdir(parents=True)
    for src, name in names.items():
        if src.suffix in HDL_SUFFIXES:
            (rtl_dir / name).write_text(QUOTED_PATH.sub(relocate, src.read_text(errors="replace")))
        else:
            shutil.copyfile(src, rtl_dir / name)
    return packaged


TOP_PORTS = {"ap_clk": "input", "ap_rst_n": "input", "s_axis_tdata": "input", "s_axis_tvalid": "input",
             "s_axis_tready": "output", "m_axis_tdata": "output", "m_axis_tvalid": "output",
             "m_axis_tready": "input", "m_axis_tlast": "output"}


def accelerator_wrapper(top: dict) -> str:
    """Verilog wrapper of the SystemVerilog top: a block-design module reference must be Verilog or
    VHDL at its top; the attributes tell Vivado which ports form the clock, reset and streams."""
    source = next((Path(f) for f in top["files"] if re.search(rf"\bmodule\s+{top['top']}\b", Path(f).read_text())),
                  None)
    ports = module_ports(source, top["top"]) if source else None
    if ports != TOP_PORTS:
        raise HwgenError(f"module {top['top']}: ports {ports} are not the stream contract's {TOP_PORTS}; "
                         "re-run the RTL stitcher")
    wi, wo = top["s_axis"]["width_bits"], top["m_axis"]["width_bits"]

    def axis(port: str, direction: str, signal: str, width: int = 1) -> str:
        bus = f"[{width - 1}:0] " if width > 1 else ""
        return (f'  (* X_INTERFACE_INFO = "xilinx.com:interface:axis:1.0 {port} {signal.upper()}" *)\n'
                f"  {direction} wire {bus}{port}_{signal}")

    declarations = ",\n".join([
        '  (* X_INTERFACE_INFO = "xilinx.com:signal:clock:1.0 ap_clk CLK" *)\n'
        '  (* X_INTERFACE_PARAMETER = "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET ap_rst_n" *)\n'
        "  input wire ap_clk",
        '  (* X_INTERFACE_INFO = "xilinx.com:signal:reset:1.0 ap_rst_n RST" *)\n'
        '  (* X_INTERFACE_PARAMETER = "POLARITY ACTIVE_LOW" *)\n'
        "  input wire ap_rst_n",
        axis("s_axis", "input", "tdata", wi), axis("s_axis", "input", "tvalid"), axis("s_axis", "output", "tready"),
        axis("m_axis", "output", "tdata", wo), axis("m_axis", "output", "tvalid"), axis("m_axis", "input", "tready"),
        axis("m_axis", "output", "tlast"),
    ])
    connections = ",\n".join(f"    .{p}({p})" for p in TOP_PORTS)
    return (f"// Generated by hwgen package: block-design wrapper of {top['top']}.\n"
            f"module {ACCEL_MODULE} (\n{declarations}\n);\n  {top['top']} core (\n{connections}\n  );\nendmodule\n")


def tcl_value(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[list " + " ".join(tcl_value(v) for v in value) + "]"
    return "{" + str(value) + "}"


def build_tcl(board: Board, settings: dict) -> str:
    header = ["# Generated by hwgen package: settings for this build, then the shared flow.",
              *(f"set {name} {tcl_value(value)}" for name, value in settings.items()), ""]
    return "\n".join(header) + (BOARDS_DIR / "templates" / "vivado_build.tcl").read_text()


def makefile(app: str | None) -> str:
    kria = f"""
# Kria: dfx-mgr wants a .bit.bin (bootgen) and a device-tree overlay (dtc) in kria/{app}/.
kria: kria/{app}/{app}.bit.bin kria/{app}/{app}.dtbo

kria/{app}/{app}.bit.bin: {OUTPUT_NAME}.bit kria/{app}/{app}.bif
\tcd kria/{app} && $(BOOTGEN) -arch zynqmp -image {app}.bif -o {app}.bit.bin -w on

kria/{app}/{app}.dtbo: kria/{app}/{app}.dtsi
\t$(DTC) -@ -O dtb -o $@ $<
""" if app else ""
    return f"""# Generated by hwgen package. `make` runs Vivado in batch mode (2022.2 .. 2024.2).
VIVADO ?= vivado
BOOTGEN ?= bootgen
DTC ?= dtc
JOBS ?= 2

.PHONY: all bitstream clean{' kria' if app else ''}
all: bitstream{' kria' if app else ''}

bitstream: vivado_build.json

vivado_build.json: build.tcl $(wildcard rtl/*)
\t$(VIVADO) -mode batch -nojournal -log vivado.log -source build.tcl -tclargs $(JOBS)
{kria}
clean:
\trm -rf vivado vivado.log .Xil reports vivado_build.json {OUTPUT_NAME}.bit {OUTPUT_NAME}.hwh {OUTPUT_NAME}.xsa
"""


def kria_files(board: Board, app: str, clock_mhz: float) -> dict[str, str]:
    """What `xmutil loadapp APP` needs in /lib/firmware/xilinx/APP/ (the .bit.bin and .dtbo are
    made from these by the Makefile)."""
    dfx = board.dfx
    resets = ", ".join(f"<&{r}>" for r in dfx["pl_resets_dt"])
    return {
        f"{app}.bif": f"all:\n{{\n    [destination_device = pl] ../../{OUTPUT_NAME}.bit\n}}\n",
        f"{app}.dtsi": f"""// Device-tree overlay for the hwgen accelerator (dfx-mgr flat shell).
/dts-v1/;
/plugin/;

&fpga_full {{
    firmware-name = "{app}.bit.bin";
    resets = {resets};
}};

&amba {{
    // PL clock 0 at the frequency the accelerator was built for; PYNQ may set it again.
    clocking0: clocking0 {{
        #clock-cells = <0>;
        assigned-clock-rates = <{round(clock_mhz * 1e6)}>;
        assigned-clocks = <&{dfx['pl_clock_dt']}>;
        clock-output-names = "fabric_clk";
        clocks = <&{dfx['pl_clock_dt']}>;
        compatible = "xlnx,fclk";
    }};
}};
""",
        "shell.json": json.dumps({"shell_type": dfx["shell_type"], "num_slots": "1"}, indent=4) + "\n",
    }


def ship_modules(dest: Path, modules: tuple[str, ...] = SHIPPED_MODULES) -> list[str]:
    """Copy hwgen modules the driver imports (and the hwgen modules they import) into dest/hwgen/,
    with empty package __init__ files: the board has numpy and pynq, not hwgen or FINN."""
    todo, shipped = list(modules), []
    while todo:
        name = todo.pop()
        source = ROOT / Path(*name.split(".")).with_suffix(".py")
        if name in shipped or not source.is_file():
            continue
        text = source.read_text()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hwgen"):
                todo.append(node.module)
            elif isinstance(node, ast.Import):
                todo += [a.name for a in node.names if a.name.startswith("hwgen.")]
        target = dest / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(f"# Copied by `hwgen package` from {source.relative_to(ROOT)}; edit that file.\n" + text)
        shipped.append(name)
        for package_dir in target.relative_to(dest).parents:
            init = dest / package_dir / "__init__.py"
            if package_dir != Path(".") and not init.exists():
                init.write_text("# Only the hwgen modules the board driver needs, shipped by `hwgen package`.\n")
    missing = [m for m in modules if m not in shipped]
    if missing:
        raise HwgenError(f"{missing[0]}: module not found in {ROOT}; the board driver needs it")
    return sorted(str(p.relative_to(dest)) for p in (dest / "hwgen").rglob("*.py"))


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "hwgen"


def find_golden(build_dir: Path) -> Path | None:
    """DIR/golden, else the golden frames the compile's Python check used (verify_python.json)."""
    if (build_dir / "golden").is_dir():
        return build_dir / "golden"
    record = build_dir / "verify_python.json"
    golden = json.loads(record.read_text()).get("golden_dir") if record.is_file() else None
    return Path(golden) if golden else None


def package(build_dir: Path | str, board_name: str, app: str | None = None,
            golden_dir: Path | str | None = None) -> Path:
    """Write build_dir/deploy/<board>/ and return it (replacing an earlier package atomically)."""
    build_dir = Path(build_dir).resolve()
    board = load_board(board_name)
    compile_path = build_dir / "compile.json"
    compiled = json.loads(compile_path.read_text()) if compile_path.is_file() else {}
    if compiled.get("board") not in (None, board.name):
        raise HwgenError(f"{compile_path}: compiled for {compiled['board']}, not {board.name}; "
                         f"compile for {board.name} or package for {compiled['board']}")
    top = read_stream_contract(build_dir)
    clock_mhz = top["clock_mhz"] or compiled.get("clock_mhz")
    if not clock_mhz:
        raise HwgenError(f"{build_dir / 'rtl' / f'{TOP}.json'}: no clock_mhz (nor in compile.json); re-run `hwgen compile`")
    clock_mhz = float(clock_mhz)
    software_json = build_dir / "software.json"
    if not software_json.is_file():
        raise HwgenError(f"{software_json}: missing; run `hwgen compile` for this build first")
    software = json.loads(software_json.read_text())
    missing = [k for k in ("model_input", "preprocess", "postprocess") if k not in software]
    if missing:
        raise HwgenError(f"{software_json}: missing {', '.join(missing)}; re-run `hwgen compile`")
    app = slug(app or build_dir.name)

    final = build_dir / "deploy" / board.name
    work = final.with_name(f".{board.name}.partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    meminit = [str(build_dir / "rtl" / name) for name in top.get("meminit_files", [])]
    rtl_files = relocate_sources(top["files"] + meminit, work / "rtl")
    (work / "rtl" / f"{ACCEL_MODULE}.v").write_text(accelerator_wrapper(top))
    rtl_files.append(f"{ACCEL_MODULE}.v")

    in_beat, out_beat = top["s_axis"]["width_bits"] // 8, top["m_axis"]["width_bits"] // 8
    in_frame, out_frame = in_beat * top["s_axis"]["beats_per_frame"], out_beat * top["m_axis"]["beats_per_frame"]
    dma_in, dma_out = dma_stream_bytes(in_beat, in_frame), dma_stream_bytes(out_beat, out_frame)
    ps = board.ps_config
    settings = {
        "project_name": f"hwgen_{board.name.replace('-', '_')}", "part": board.part,
        "board_part": board.board_part, "board_connections": board.board_connections or "",
        "bd_name": BD_NAME, "output_name": OUTPUT_NAME, "accel_module": ACCEL_MODULE, "rtl_files": rtl_files,
        "clock_mhz": f"{clock_mhz:g}", "ps_ip_name": board.ps_ip.split(":")[-1],
        "ps_automation_rule": ps["automation_rule"], "ps_automation_config": ps["automation_config"],
        "ps_clock_property": ps["clock_property"], "ps_enable_properties": [
            item for pair in ps["enable_properties"].items() for item in pair],
        "ps_clock_pin": ps["pl_clock_pin"], "ps_reset_pin": ps["pl_reset_pin"],
        "ps_control_port": ps["control_port"], "ps_control_clock_pin": ps["control_clock_pin"],
        "ps_memory_port": ps["memory_port"], "ps_memory_clock_pin": ps["memory_clock_pin"],
        "dma_addr_width": ps["dma_addr_width"], "dma_length_width": DMA_LENGTH_WIDTH,
        "dma_mm_width": max(64, 8 * dma_in, 8 * dma_out),
        "dma_in_bytes": dma_in, "dma_out_bytes": dma_out, "accel_in_bytes": in_beat, "accel_out_bytes": out_beat,
    }
    (work / "build.tcl").write_text(build_tcl(board, settings))
    is_kria = board.dfx is not None
    (work / "Makefile").write_text(makefile(app if is_kria else None))
    kria = None
    if is_kria:
        kria_dir = work / "kria" / app
        kria_dir.mkdir(parents=True)
        for name, text in kria_files(board, app, clock_mhz).items():
            (kria_dir / name).write_text(text)
        kria = {"app": app, "folder": f"kria/{app}", "firmware_dir": f"{board.dfx['firmware_dir']}/{app}",
                "files": [f"{app}.bit.bin", f"{app}.dtbo", "shell.json"],
                "sources": sorted(kria_files(board, app, clock_mhz))}

    shutil.copyfile(DRIVER_SOURCE, work / "hwgen_driver.py")
    shipped = ship_modules(work)
    shutil.copyfile(software_json, work / "software.json")
    golden = []
    golden_dir = Path(golden_dir) if golden_dir else find_golden(build_dir)
    for name in ("input.npy", "expected.npy"):
        if golden_dir and (golden_dir / name).is_file():
            (work / "golden").mkdir(exist_ok=True)
            shutil.copyfile(golden_dir / name, work / "golden" / name)
            golden.append(f"golden/{name}")

    meta = {
        "board": board.name, "part": board.part, "family": board.family, "load": board.load,
        "build_dir": str(build_dir), "app": app, "clock_mhz": clock_mhz,
        "model_input_shape": software["model_input"]["shape"],
        "stream": {k: v for k, v in top.items() if k != "files"},
        "dma": {"cell": "dma", "in_bytes": dma_in, "out_bytes": dma_out,
                "in_converter": dma_in != in_beat, "out_converter": dma_out != out_beat,
                "max_transfer_bytes": 2 ** DMA_LENGTH_WIDTH - 1,
                "out_slot_bytes": -(-out_frame // OUT_SLOT_ALIGN) * OUT_SLOT_ALIGN},
        "outputs": {"bitstream": f"{OUTPUT_NAME}.bit", "hwh": f"{OUTPUT_NAME}.hwh", "xsa": f"{OUTPUT_NAME}.xsa",
                    "build_record": "vivado_build.json"},
        "files": {"tcl": "build.tcl", "makefile": "Makefile", "rtl": [f"rtl/{f}" for f in rtl_files],
                  "driver": "hwgen_driver.py", "modules": shipped,
                  "software": "software.json", "golden": golden, "readme": "README.md"},
        "kria": kria,
        "never_run_here": ["vivado", "bootgen", "dtc", "the board"],
    }
    (work / "README.md").write_text(board_readme(board, meta))
    (work / "deploy.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    work.rename(final)
    return final


def board_readme(board: Board, meta: dict) -> str:
    app, kria = meta["app"], meta["kria"]
    load = (f"""## Load it (Kria, dfx-mgr)
```sh
make kria                                   # bootgen -> kria/{app}/{app}.bit.bin, dtc -> .dtbo
hwgen flash {meta['build_dir']} --board {board.name} --host ubuntu@BOARD_IP   # or by hand:
sudo mkdir -p {kria['firmware_dir']} && sudo cp kria/{app}/{{{app}.bit.bin,{app}.dtbo,shell.json}} {kria['firmware_dir']}/
sudo xmutil unloadapp && sudo xmutil loadapp {app}
```
Then run the driver with `--no-download` (the bitstream is already loaded); PYNQ for Kria
(github.com/Xilinx/Kria-PYNQ) provides `pynq`.
""" if kria else f"""## Load it (PYNQ)
Copy this folder to the board (`hwgen flash {meta['build_dir']} --board {board.name} --host xilinx@BOARD_IP`
does it) and run the driver there; `Overlay` downloads {meta['outputs']['bitstream']} and sets the PL clock.
""")
    return f"""# hwgen accelerator for {board.title} ({board.part})

Generated by `hwgen package` from `{meta['build_dir']}`. Accelerator clock: {meta['clock_mhz']:g} MHz.
Nothing in this folder has been run through Vivado, bootgen or on a board by hwgen: these steps are
yours, on a machine with Vivado 2022.2 .. 2024.2 and the board files for `{board.board_part}`.

## Build the bitstream
```sh
make            # vivado -mode batch -source build.tcl -> {meta['outputs']['bitstream']}, {meta['outputs']['hwh']}, {meta['outputs']['xsa']}
```
`vivado_build.json` is written last (Vivado version, worst setup slack, whether timing was met).

{load}
## Run it
```sh
sudo python3 hwgen_driver.py --selftest            # golden frames vs the PyTorch outputs
sudo python3 hwgen_driver.py --throughput 2000     # frames per second through the DMA
```
From Python: `from hwgen_driver import Accelerator; acc = Accelerator(); acc.predict(frames)` with
uint8 frames as the model takes them, shape (N, {', '.join(map(str, meta['model_input_shape'][1:]))}); it returns the outputs named in
software.json, decoded (e.g. the steering class index by argmax, the throttle value).
`acc.run(frames)` gives the model's raw outputs, `acc.run_raw(frames)` the accelerator's integers.

## What is in here
- `build.tcl`, `Makefile`: block design (PS, AXI DMA `dma` MM2S -> accelerator -> S2MM, one PL
  clock, reset, SmartConnect to {board.ps_config['memory_port']}), synthesis, implementation, bitstream.
- `rtl/`: the accelerator sources; `@HWGEN_RTL_DIR@` in them is filled in by build.tcl.
- `hwgen_driver.py`, `software.json`, `hwgen/`: the driver, the recorded pre/post-processing and the
  hwgen module that executes it (copied from hwgen; the board needs only numpy and pynq).
- `golden/`: frames and expected outputs for the self-test. `deploy.json`: what was generated.
"""


def configure(parser) -> None:
    parser.add_argument("build_dir", metavar="DIR", help="build folder written by `hwgen compile`")
    parser.add_argument("--board", required=True, help="board name (see `hwgen boards`)")
    parser.add_argument("--app", help="application name on the board (default: the build folder's name)")
    parser.add_argument("--golden", metavar="FOLDER", help="input.npy/expected.npy for the on-board self-test "
                        "(default: DIR/golden, else the frames compile checked with)")


def main(args) -> int:
    out = package(args.build_dir, args.board, args.app, args.golden)
    meta = json.loads((out / "deploy.json").read_text())
    print(f"packaged {meta['board']} ({meta['part']}, {meta['clock_mhz']:g} MHz) in {out}")
    print(f"next: hwgen build-bitstream {args.build_dir} --board {meta['board']}   (needs Vivado)")
    return 0
