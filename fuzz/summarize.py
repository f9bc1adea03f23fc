"""A differential harness's counts.json grouped for reading: positions and quoted values
blanked, so that one cause is one row.

    python fuzz/summarize.py fuzz/out/diff-safetensors/counts.json
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path


def group(name: str) -> str:
    name = re.sub(r" at line \d+ column \d+", "", name)
    name = re.sub(r"`[^`]*`?", "`…`", name)
    name = re.sub(r": b['\"].*$", "", name)  # the bytes a line held: one row per cause
    return re.sub(r"column \d+$", "", name).rstrip(" ,")


def main() -> None:
    doc = json.loads(Path(sys.argv[1]).read_text())
    rows: Counter[str] = Counter()
    for name, n in doc["classes"].items():
        rows[group(name)] += n
    print(f"{doc['inputs']:,} inputs\n\n| class | inputs |\n|---|---:|")
    for name, n in rows.most_common():
        print(f"| {name} | {n:,} |")


if __name__ == "__main__":
    main()
