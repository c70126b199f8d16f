"""FINN's global settings, pointed at a build folder (FINN refuses to run transformations without them)."""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path


def init_finn(build_dir: Path) -> None:
    """Make FINN place its scratch files under build_dir. Call before any FINN transformation;
    calling again with another folder re-targets FINN (one process may compile several models).

    FINN's own log (per-node folding chatter, datatype narrowing notes) is cut to errors: hwgen reports
    what matters (targets missed, budgets) itself, in one place."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(build_dir)
    import finn.util.settings

    finn.util.settings.initialize_dummy_settings()
    logging.getLogger("finn_logger").setLevel(logging.ERROR)
    # qonnx notes that do not apply to Brevitas exports (opset-20 Gemm is handled; inputs are NCHW)
    warnings.filterwarnings("ignore", message="The GemmToMatMul transformation only offers", category=UserWarning)
    warnings.filterwarnings("ignore", message="Assuming 4D input is NCHW", category=UserWarning)
