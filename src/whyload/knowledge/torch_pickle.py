"""What torch.load with weights_only=True accepts — the default since torch 2.6 and what
transformers always uses for .bin files — from torch_weights_only.json (written by
scripts/gen_torch_allowlist.py out of the installed torch), and what the rest means."""

from __future__ import annotations

import _compat_pickle
import functools
import json
from importlib import resources
from typing import Any

# modules and callables that run code or reach the system when unpickled
RUNS_CODE_MODULES = frozenset({"os", "posix", "nt", "sys", "subprocess", "runpy", "importlib",
                               "pty", "socket", "webbrowser", "shutil", "code", "commands",
                               "ctypes", "multiprocessing", "marshal", "pickle", "_pickle",
                               "asyncio", "http", "urllib", "requests"})
RUNS_CODE_BUILTINS = frozenset({"eval", "exec", "compile", "getattr", "__import__", "open",
                                "setattr", "delattr", "globals", "locals", "vars", "input",
                                "breakpoint", "apply", "execfile"})


@functools.cache
def _data() -> dict[str, Any]:
    text = resources.files("whyload.knowledge").joinpath("torch_weights_only.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def canonical(dotted: str) -> str:
    """Python 2 names as torch maps them on load: __builtin__.set -> builtins.set."""
    module, _, name = dotted.rpartition(".")
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    else:
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    return f"{module}.{name}"


def rejected_globals(names: tuple[str, ...] | list[str]) -> list[str]:
    allowed = set(_data()["allowed"])
    return [n for n in names if canonical(n) not in allowed]


def rejected_opcodes(opcodes: tuple[str, ...] | list[str]) -> list[str]:
    supported = set(_data()["opcodes"]) | {"FRAME"}
    return sorted(set(opcodes) - supported)


def runs_code(dotted: str) -> bool:
    name = canonical(dotted)
    module, _, attr = name.rpartition(".")
    root = module.split(".", 1)[0]
    return root in RUNS_CODE_MODULES or (module == "builtins" and attr in RUNS_CODE_BUILTINS) \
        or name.startswith("<")  # a name assembled at run time: assume the worst


def describe(dotted: str) -> str:
    """What a rejected global usually is, in a user's words."""
    name = canonical(dotted)
    if runs_code(dotted):
        return "runs code when unpickled"
    if name.startswith("numpy."):
        return "a numpy value (a Trainer checkpoint's RNG state, a metric)"
    if name in ("argparse.Namespace",) or name.startswith("transformers.training_args"):
        return "training arguments saved with the weights"
    if name.startswith(("transformers.", "torch.nn.modules.")):
        return "a whole pickled module: its class is imported by path"
    return "an object of a class outside torch's allowlist"
