"""Generate src/whyload/knowledge/torch_weights_only.json from the installed torch: the globals
torch.load(weights_only=True) — the default since torch 2.6, and what transformers uses — accepts
without add_safe_globals. `check` compares a checkpoint's pickle globals against it without
importing torch; tests/test_version.py proves the file matches the installed torch.

    .venv/bin/python scripts/gen_torch_allowlist.py
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src/whyload/knowledge/torch_weights_only.json"


def main() -> None:
    import torch
    from torch import _weights_only_unpickler as wo

    allowed = sorted(wo._get_allowed_globals())
    source = inspect.getsource(wo.Unpickler.load)
    opcodes = sorted(set(re.findall(r"\b([A-Z][A-Z0-9_]+)\[0\]", source)))
    OUT.write_text(json.dumps({"torch_version": torch.__version__.split("+")[0],
                               "allowed": allowed, "opcodes": opcodes,
                               "blocked_modules": sorted(wo._blocklisted_modules)},
                              indent=1) + "\n")
    print(f"wrote {OUT} ({len(allowed)} globals)", file=sys.stderr)


if __name__ == "__main__":
    main()
