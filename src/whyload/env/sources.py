"""Where environment facts come from: files under /proc and /sys, environment variables,
commands. Passed in as one object so tests can feed real-shaped fakes (cgroup files in a tmp
folder, a fake nvidia-smi, an environment dict) instead of this machine's."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

Runner = Callable[[list[str], float], "tuple[int, str, str] | None"]


def run_command(argv: list[str], timeout: float) -> tuple[int, str, str] | None:
    """(exit code, stdout, stderr), or None when it could not start or ran out of time."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.returncode, done.stdout, done.stderr


@dataclass(frozen=True)
class Sources:
    root: Path = Path("/")  # /proc and /sys are read under this root
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    run: Runner = run_command
    which: Callable[[str], str | None] = shutil.which

    def read(self, path: str, limit: int = 1 << 20) -> str | None:
        """A small system file's text, or None when it is not there or not readable."""
        try:
            with (self.root / path.lstrip("/")).open("rb") as f:
                return f.read(limit).decode("utf-8", "replace")
        except OSError:
            return None
