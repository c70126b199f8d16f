"""Compiler wrapper that reuses Verilator's run-time library objects across builds.

Every Verilator build compiles the same verilated*.cpp files (about 20 s of a small design's
25 s); only the design's own C++ differs. Verilator's makefile runs each compile as
`$(OBJCACHE) $(CXX) ...`; sim/runner.py sets OBJCACHE to this script. A compile of a source
inside VERILATOR_ROOT/include is keyed by the whole command line (flags, defines, source) and
HWGEN_OBJCACHE_KEY (the Verilator version); a hit copies the stored object, a miss compiles and
stores it. Anything else (the design, cocotb's main) is compiled as given.

Usage (by make): objcache.py CXX ARGS... ; the cache folder is HWGEN_OBJCACHE_DIR.
"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main(argv: list[str]) -> int:
    root = Path(os.environ["VERILATOR_ROOT"]).resolve() / "include"
    source = Path(argv[-1])
    cacheable = "-c" in argv and "-o" in argv and source.suffix == ".cpp" and source.resolve().is_relative_to(root)
    if not cacheable:
        return subprocess.call(argv)
    output = Path(argv[argv.index("-o") + 1])
    key_args = [a for a in argv if a != str(output)]
    key = hashlib.sha256("\0".join([os.environ.get("HWGEN_OBJCACHE_KEY", ""), *key_args]).encode()).hexdigest()[:24]
    cached = Path(os.environ["HWGEN_OBJCACHE_DIR"]) / f"{source.stem}-{key}.o"
    if cached.is_file():
        shutil.copyfile(cached, output)
        return 0
    status = subprocess.call(argv)
    if status == 0:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as tmp:
            shutil.copyfileobj(open(output, "rb"), tmp)
        os.replace(tmp.name, cached)  # atomic: concurrent builds never see a partial object
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
