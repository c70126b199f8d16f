"""`hwgen build-bitstream DIR --board B`: run the packaged Vivado flow where Vivado exists.

Without Vivado on PATH it stops (exit 1) and says where the scripts are and what to run elsewhere.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from hwgen.errors import HwgenError


def deploy_folder(build_dir: Path | str, board: str) -> Path:
    """The finished package for a board (deploy.json is written last by `hwgen package`)."""
    folder = Path(build_dir).resolve() / "deploy" / board
    if not (folder / "deploy.json").is_file():
        raise HwgenError(f"{folder}: no package; run `hwgen package {build_dir} --board {board}` first")
    return folder


def build_bitstream(build_dir: Path | str, board: str, jobs: int = 2) -> dict:
    """Run `make` in the package (Vivado, then bootgen and dtc for Kria); return vivado_build.json."""
    folder = deploy_folder(build_dir, board)
    meta = json.loads((folder / "deploy.json").read_text())
    kria_step = " && make kria   (bootgen and dtc)" if meta["kria"] else ""
    if shutil.which("vivado") is None:
        raise HwgenError(f"vivado is not on PATH: the Vivado scripts are in {folder}; on a machine with "
                         f"Vivado 2022.2 .. 2024.2 run `cd {folder} && make{kria_step}`, "
                         f"then copy the folder back or run `hwgen flash` from there")
    record_path = folder / meta["outputs"]["build_record"]
    record_path.unlink(missing_ok=True)
    subprocess.run(["make", "-C", str(folder), f"JOBS={jobs}", "bitstream"], check=False)
    if not record_path.is_file():
        raise HwgenError(f"{folder / 'vivado.log'}: the Vivado build did not finish; see the log")
    record = json.loads(record_path.read_text())
    if meta["kria"]:
        missing = [tool for tool in ("bootgen", "dtc") if shutil.which(tool) is None]
        if missing:
            raise HwgenError(f"{' and '.join(missing)} not on PATH: the bitstream is built, the Kria files are not; "
                             f"run `cd {folder} && make kria` where both exist")
        if subprocess.run(["make", "-C", str(folder), "kria"], check=False).returncode:
            raise HwgenError(f"{folder}: `make kria` failed (bootgen or dtc); see the messages above")
    if not record["timing_met"]:
        raise HwgenError(f"{record_path}: timing not met (worst setup slack {record['wns_ns']} ns at "
                         f"{record['clock_mhz']} MHz); compile for a lower clock or a smaller folding")
    return record


def configure(parser) -> None:
    parser.add_argument("build_dir", metavar="DIR", help="build folder with deploy/BOARD from `hwgen package`")
    parser.add_argument("--board", required=True, help="board name (see `hwgen boards`)")
    parser.add_argument("--jobs", type=int, default=2, help="Vivado parallel jobs (default 2)")


def main(args) -> int:
    record = build_bitstream(args.build_dir, args.board, args.jobs)
    print(f"bitstream {record['bitstream']} built by Vivado {record['vivado']}: "
          f"worst setup slack {record['wns_ns']} ns at {record['clock_mhz']} MHz")
    return 0
