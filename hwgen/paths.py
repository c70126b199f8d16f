"""Where the source tree's non-Python folders are (hwgen is installed editable from the repo)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RTL_DIR = ROOT / "rtl"
SIM_DIR = ROOT / "sim"
BOARDS_DIR = ROOT / "boards"
