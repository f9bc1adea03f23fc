"""Constraints for `make test-min`: the lowest versions pyproject.toml declares for what whyload
runs on, with the test tools as the lock pins them.

    python scripts/lowest_constraints.py pyproject.toml requirements.lock > lowest.txt

Each `name>=X` among the dependencies and the runtime extras (deep, torch, demo) becomes
`name==X`; the test extra's own tools (pytest, hypothesis, ruff, ...) keep their locked version, so
a failure says something about whyload's bounds, not about an old test runner. torch is left to
the lock: the tests run on the one CPU wheel it pins. Everything else pip resolves.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(\[[^\]]*\])?\s*(.*)$")
RUNTIME_EXTRAS = ("deep", "torch", "demo")
FROM_LOCK = {"torch"}


def _name(requirement: str) -> tuple[str, str]:
    match = REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    return match.group(1).lower().replace("_", "-"), match.group(3)


def constraints(pyproject: Path, lock: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    locked = {_name(line.split("==", 1)[0])[0]: line.split("==", 1)[1].strip()
              for line in lock.read_text().splitlines()
              if "==" in line and not line.startswith("#")}
    pins: dict[str, str] = {}
    runtime = [*project.get("dependencies", []), *(r for e in RUNTIME_EXTRAS
                                                   for r in extras.get(e, []))]
    for requirement in runtime:
        name, spec = _name(requirement)
        floor = re.search(r">=\s*([\w.]+)", spec)
        if name == project["name"] or name in FROM_LOCK:
            continue
        if floor:
            pins[name] = floor.group(1)
    for name in FROM_LOCK:
        pins[name] = locked[name]
    for requirement in extras.get("test", []):
        name, _ = _name(requirement)
        if name != project["name"] and name in locked:
            pins[name] = locked[name]
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{line}\n" for line in constraints(Path(sys.argv[1]),
                                                                  Path(sys.argv[2]))))
