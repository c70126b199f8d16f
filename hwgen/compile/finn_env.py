"""FINN's global settings, pointed at a build folder (FINN refuses to run transformations without them)."""
from __future__ import annotations

import os
from pathlib import Path


def init_finn(build_dir: Path) -> None:
    """Make FINN place its scratch files under build_dir. Call before any FINN transformation;
    calling again with another folder re-targets FINN (one process may compile several models)."""
    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FINN_BUILD_DIR"] = str(build_dir)
    import finn.util.settings

    finn.util.settings.initialize_dummy_settings()
