"""Start a whyload probe module in any interpreter, the one that will load the model included.

That interpreter need not have whyload or its dependencies: LAUNCHER runs the child module's file
as __main__ the way `python -m` would, without importing the packages above it (whyload/__init__
needs whyload's dependencies), so the child needs the stdlib, torch and transformers only.
whyload's own folder is searched for that one module and never put on PYTHONPATH: there it would
put every package installed beside whyload ahead of the interpreter's own.
"""

from __future__ import annotations

from pathlib import Path

WHYLOAD_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds whyload/
LAUNCHER = """
import importlib.machinery, runpy, sys
name, root = sys.argv.pop(1), sys.argv.pop(1)
search, spec = [root, *sys.path], None
for part in name.split("."):
    spec = importlib.machinery.PathFinder.find_spec(part, search)
    if spec is None:
        raise ModuleNotFoundError(f"No module named {name!r}")
    search = list(spec.submodule_search_locations or ())
sys.argv[0] = spec.origin
runpy.run_path(spec.origin, run_name="__main__")
"""


def launch_command(python: str, module: str, *args: str) -> list[str]:
    """The argv that runs `module` (a whyload.probe child) with `args` in `python`."""
    return [python, "-c", LAUNCHER, module, WHYLOAD_ROOT, *args]
