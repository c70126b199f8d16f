"""Send a stage's console output to a log file, at the file-descriptor level, so that FINN's prints,
tqdm bars and the Verilator/cocotb subprocesses are captured too."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path


@contextlib.contextmanager
def output_to(log_path: Path, mode: str = "w"):
    """Everything written to stdout/stderr inside the block goes to log_path (mode "w" or "a")."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, mode) as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
