"""Write requirements-lock.txt: every package installed in a scratch venv, pinned, as a pip
constraints file (`make lock` runs this; the Makefile installs with `-c requirements-lock.txt`).

    python scripts/write_lock.py VENV_PYTHON > requirements-lock.txt

A local version label is dropped (torch 2.13.0+cpu is pinned as 2.13.0): pip then takes the CPU
wheel where a find-links folder or index offers it, and the lock stays valid elsewhere.
"""

from __future__ import annotations

import subprocess
import sys


def main(python: str) -> int:
    frozen = subprocess.run([python, "-m", "pip", "freeze", "--all", "--exclude-editable"],
                            check=True, capture_output=True, text=True).stdout
    version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    pins = []
    for line in frozen.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "==" not in line:
            continue
        name, _, pinned = line.partition("==")
        pins.append(f"{name.lower()}=={pinned.split('+', 1)[0]}")
    sys.stdout.write(
        "# Every package the tests and benchmarks install, pinned: a pip constraints file.\n"
        f"# Resolved by `make lock` with Python {version}; regenerate with `make lock`.\n"
        + "".join(f"{p}\n" for p in sorted(pins)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
