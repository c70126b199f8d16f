"""`hwgen flash DIR --board B [--host user@ip] [--method kria|pynq|jtag] [--dry-run]`.

kria: copy the dfx-mgr app to /lib/firmware/xilinx/<app>, then `xmutil unloadapp` / `loadapp`.
pynq: copy the package (bitstream, .hwh, driver) and load it through the driver.
jtag: openFPGALoader for boards it knows (volatile: lost at power-off).
Without --host the commands run on this machine (e.g. on the board itself). --dry-run prints them.
"""
from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

from hwgen.boards import load_board
from hwgen.deploy.bitstream import deploy_folder
from hwgen.errors import HwgenError

METHODS = {"kria-xmutil": "kria", "pynq": "pynq"}
REMOTE_DIR = "hwgen"  # on the board: ~/hwgen/<app>/ holds the driver bundle


def driver_bundle(meta: dict) -> list[str]:
    """What the driver needs on the board, relative to the package: bitstream + .hwh (PYNQ parses
    it), driver, its hwgen modules, software.json, golden frames."""
    files = meta["files"]
    return [meta["outputs"]["bitstream"], meta["outputs"]["hwh"], "deploy.json", files["driver"],
            files["software"], *files["modules"], *files["golden"]]


def require(paths: list[Path], what_to_do: str) -> None:
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise HwgenError(f"{missing[0]}: missing; {what_to_do}")


def on_board(host: str | None, command: list[str]) -> list[str]:
    return ["ssh", host, shlex.join(command)] if host else command


def copy_to_board(host: str, folder: Path, files: list[str], dest: str) -> list[list[str]]:
    """mkdir + one scp per subfolder, keeping the package's layout under dest."""
    groups: dict[str, list[str]] = {}
    for name in files:
        parent = Path(name).parent
        groups.setdefault(dest if parent == Path(".") else f"{dest}/{parent.as_posix()}", []).append(str(folder / name))
    commands = [on_board(host, ["mkdir", "-p", *groups])]
    return commands + [["scp", *paths, f"{host}:{target}/"] for target, paths in groups.items()]


def driver_command(meta: dict, folder: str, download: bool) -> list[str]:
    args = ["--selftest"] if meta["files"]["golden"] else []
    if not download:
        args.append("--no-download")
    # PYNQ images keep pynq in a venv that the profile script activates; root is needed for /dev/mem.
    script = f"cd {shlex.quote(folder)} && source /etc/profile.d/pynq_venv.sh 2>/dev/null; python3 hwgen_driver.py"
    return ["sudo", "bash", "-c", " ".join([script, *args])]


def flash_commands(build_dir: Path | str, board_name: str, host: str | None = None,
                   method: str | None = None) -> list[list[str]]:
    board = load_board(board_name)
    folder = deploy_folder(build_dir, board.name)
    meta = json.loads((folder / "deploy.json").read_text())
    method = method or METHODS[board.load]
    require([folder / meta["outputs"]["bitstream"]],
            f"no bitstream yet: run `hwgen build-bitstream {build_dir} --board {board.name}` on a machine with Vivado")
    app = meta["app"]
    remote = f"{REMOTE_DIR}/{app}" if host else str(folder)
    if method == "jtag":
        if host:
            raise HwgenError("--host: JTAG runs openFPGALoader where the cable is plugged in; leave out --host")
        if not board.openfpgaloader_board:
            raise HwgenError(f"{board.name}: openFPGALoader does not know this board; use --method {METHODS[board.load]}")
        return [["openFPGALoader", "-b", board.openfpgaloader_board, str(folder / meta["outputs"]["bitstream"])]]
    bundle = driver_bundle(meta)
    require([folder / f for f in bundle[1:]],
            "the package is incomplete: run `hwgen build-bitstream` (.hwh) or `hwgen package` again")
    commands = copy_to_board(host, folder, bundle, remote) if host else []
    if method == "pynq":
        return commands + [on_board(host, driver_command(meta, remote, download=True))]
    if method != "kria" or not meta["kria"]:
        raise HwgenError(f"{board.name}: method {method} needs a Kria board")
    kria_dir = folder / meta["kria"]["folder"]
    kria_files = [kria_dir / f for f in meta["kria"]["files"]]
    require(kria_files, f"run `make kria` in {folder} (bootgen and dtc) first")
    firmware = meta["kria"]["firmware_dir"]
    staging = f"/tmp/{app}" if host else str(kria_dir)
    if host:
        commands += [on_board(host, ["mkdir", "-p", staging]), ["scp", *map(str, kria_files), f"{host}:{staging}/"]]
    commands += [
        on_board(host, ["sudo", "mkdir", "-p", firmware]),
        on_board(host, ["sudo", "cp", *(f"{staging}/{f}" for f in meta["kria"]["files"]), f"{firmware}/"]),
        # unloadapp fails harmlessly when nothing is loaded, so it must not stop the sequence
        on_board(host, ["sh", "-c", "sudo xmutil unloadapp || true"]),
        on_board(host, ["sudo", "xmutil", "loadapp", app]),
        on_board(host, driver_command(meta, remote, download=False)),
    ]
    return commands


def configure(parser) -> None:
    parser.add_argument("build_dir", metavar="DIR", help="build folder with a built deploy/BOARD")
    parser.add_argument("--board", required=True, help="board name (see `hwgen boards`)")
    parser.add_argument("--host", help="user@address of the board (default: run on this machine)")
    parser.add_argument("--method", choices=("kria", "pynq", "jtag"),
                        help="how to load (default: the board's: kria for Kria, pynq otherwise)")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")


def main(args) -> int:
    commands = flash_commands(args.build_dir, args.board, args.host, args.method)
    for command in commands:
        print(shlex.join(command))
        if not args.dry_run:
            result = subprocess.run(command, check=False)
            if result.returncode:
                raise HwgenError(f"`{shlex.join(command)}` failed with exit status {result.returncode}")
    return 0
