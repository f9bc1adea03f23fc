"""The lowest versions pyproject.toml declares, as a pip constraints file (`make test-min`).

    python scripts/lowest_constraints.py pyproject.toml EXTRA > lowest.txt

Each `name>=X` among the dependencies and the extras EXTRA pulls in (transitively) becomes
`name==X`. torch is left out: the tests run on the one CPU wheel the lock pins.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(.*)$")
KEEP = {"torch"}


def lowest(pyproject: Path, extra: str) -> list[str]:
    project = tomllib.loads(pyproject.read_text())["project"]
    name = project["name"]
    extras: dict[str, list[str]] = project.get("optional-dependencies", {})
    wanted, seen, pins = [extra], set(), {}
    requirements = list(project.get("dependencies", []))
    while wanted:
        current = wanted.pop()
        if current in seen:
            continue
        seen.add(current)
        requirements += extras.get(current, [])
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        if not match:
            continue
        package, package_extras, spec = match.groups()
        if package == name:  # whyload[torch] inside another extra
            wanted = [e.strip() for e in (package_extras or "[]")[1:-1].split(",") if e.strip()]
            for e in wanted:
                if e not in seen:
                    seen.add(e)
                    requirements += extras.get(e, [])
            continue
        floor = re.search(r">=\s*([\w.]+)", spec)
        if floor and package.lower() not in KEEP:
            pins[package.lower()] = floor.group(1)
    return [f"{p}=={v}" for p, v in sorted(pins.items())]


if __name__ == "__main__":
    sys.stdout.write("".join(f"{line}\n" for line in lowest(Path(sys.argv[1]), sys.argv[2])))
