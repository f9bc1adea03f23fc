"""What the globals a pickle names do when it is loaded: a denylist that explains (what a call
would do) beside the allowlist that decides (torch's weights_only set, plus a few reviewed data
classes that real training checkpoints hold).

The verdict never depends on the denylist being complete: a global on neither list is "not known
safe" and reported as such. The denylist only says, for the ones it knows, what they would do.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any

from whyload.knowledge.torch_pickle import canonical, rejected_globals


# which globals run code or reach the system, with what each does and which suite or advisory
# reported it: pickle_denylist.json, written by scripts/gen_pickle_denylist.py from whyload's own
# entries and the lists of picklescan, modelaudit and fickling
@functools.cache
def _denylist() -> dict[str, Any]:
    text = resources.files("whyload.knowledge").joinpath("pickle_denylist.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


def dangerous_modules() -> dict[str, dict[str, Any]]:
    return _denylist()["modules"]  # type: ignore[no-any-return]


def dangerous_names() -> dict[str, dict[str, Any]]:
    return _denylist()["names"]  # type: ignore[no-any-return]


# globals under a listed module that are data: TorchScript's own constant builders
SAFE_UNDER_LISTED = ("torch.jit._pickle.",)
# modules a pickle can reach as an attribute of a harmless one (pathlib.os, torch.serialization.os)
REACHABLE_AS_ATTRIBUTE = frozenset({"os", "posix", "nt", "sys", "subprocess", "builtins",
                                    "__builtins__", "shutil", "socket", "importlib", "ctypes",
                                    "pickle", "marshal", "runpy", "pty", "io", "_io"})

# data classes outside torch's allowlist that real checkpoints hold and that run no code of the
# file's choosing when unpickled (they are constructed, not called with arbitrary arguments)
REVIEWED_DATA = {
    "argparse.Namespace": "training arguments (argparse) saved with the weights",
    "numpy.core.multiarray.scalar": "a numpy scalar (a metric, an RNG seed)",
    "numpy._core.multiarray.scalar": "a numpy scalar (a metric, an RNG seed)",
    "numpy.core.multiarray._reconstruct": "a numpy array (RNG state, metrics)",
    "numpy._core.multiarray._reconstruct": "a numpy array (RNG state, metrics)",
    "numpy.ndarray": "a numpy array",
    "numpy.dtype": "a numpy dtype",
    "numpy.random._pickle.__randomstate_ctor": "numpy's RNG state (Trainer checkpoints)",
    "numpy.random._pickle.__bit_generator_ctor": "numpy's RNG state",
    "numpy.random._pickle.__generator_ctor": "numpy's RNG state",
    "collections.defaultdict": "a dict with a default",
    "collections.deque": "a deque",
    "builtins.frozenset": "a frozenset",
    "builtins.slice": "a slice",
    "builtins.range": "a range",
    "builtins.int": "an int",
    "builtins.float": "a float",
    "builtins.str": "a string",
    "builtins.bytes": "bytes",
    "builtins.tuple": "a tuple",
    "builtins.list": "a list",
    "builtins.dict": "a dict",
    "builtins.bool": "a bool",
    "copyreg._reconstructor": "an object rebuilt from its class and state",
    "copyreg.__newobj__": "an object created from its class",
    "datetime.datetime": "a timestamp",
    "datetime.date": "a date",
    "datetime.timedelta": "a duration",
    "decimal.Decimal": "a decimal",
    "fractions.Fraction": "a fraction",
    "uuid.UUID": "a UUID",
    "enum.Enum": "an enum member",
    "torch.torch_version.TorchVersion": "the torch version that saved it",
    "pathlib.Path": "a path (training arguments' output_dir): built, not opened",
    "pathlib.PosixPath": "a path (training arguments' output_dir): built, not opened",
    "pathlib.WindowsPath": "a path (training arguments' output_dir): built, not opened",
    "pathlib.PurePosixPath": "a path: built, not opened",
    "pathlib.PureWindowsPath": "a path: built, not opened",
    "types.SimpleNamespace": "a namespace of attributes (configuration)",
    "builtins.set": "a set",
    "builtins.complex": "a complex number",
    "builtins.bytearray": "a bytearray",
    "builtins.len": "the length of a value",
    "builtins.abs": "a number's absolute value",
    "builtins.min": "the smallest of values", "builtins.max": "the largest of values",
    "builtins.sum": "a sum", "builtins.round": "a rounded number",
    "builtins.sorted": "a sorted list", "builtins.reversed": "a reversed iterator",
    "builtins.enumerate": "an enumeration", "builtins.zip": "pairs of values",
    "builtins.chr": "a character", "builtins.ord": "a code point",
    "builtins.hex": "hex text", "builtins.oct": "octal text", "builtins.bin": "binary text",
    "builtins.divmod": "a quotient and remainder", "builtins.pow": "a power",
    "builtins.repr": "a representation", "builtins.format": "formatted text",
    "builtins.hash": "a hash", "builtins.isinstance": "a type test",
    "builtins.issubclass": "a type test", "builtins.callable": "a test",
    "builtins.NotImplemented": "a constant", "builtins.Ellipsis": "a constant",
    "builtins.ValueError": "an exception value",
}

# packages whose classes a checkpoint may pickle as objects (a whole torch.save(model), Trainer
# and Lightning state): constructed from the installed library, not from the file
REVIEWED_PACKAGES = ("torch.", "transformers.", "lightning.", "pytorch_lightning.",
                     "lightning_fabric.", "accelerate.", "peft.", "sentence_transformers.",
                     "tokenizers.", "numpy.", "omegaconf.", "typing.")


# methods that touch the system, reached as Class.method (protocol 4 qualified names) on a class
# that is itself harmless to build (pathlib.PosixPath.write_text)
DANGEROUS_METHODS = {
    "write_text": "writes a file", "write_bytes": "writes a file", "open": "opens a file",
    "unlink": "deletes a file", "rmdir": "deletes a folder", "rename": "moves a file",
    "replace": "moves a file", "touch": "creates a file", "mkdir": "creates a folder",
    "chmod": "changes permissions", "symlink_to": "creates a link", "hardlink_to":
    "creates a link", "rmtree": "deletes a tree", "system": "runs a shell command",
    "popen": "runs a shell command", "spawn": "starts a process",
}


def _longest_prefix(name: str, table: dict[str, Any]) -> str | None:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in table:
            return prefix
    return None


def _entry_text(entry: dict[str, Any], name: str, listed: str) -> str:
    """What the entry says, and which entry it is when a parent package or callable matched
    rather than the global itself or its own module."""
    what = str(entry["what"])
    return what if listed in (name, name.rpartition(".")[0]) else f"{what} (all of {listed})"


def danger(dotted: str) -> str | None:
    """What calling this global from a pickle would do, when that is running code or reaching
    the system; None when it is not on the denylist. Names assembled at run time (`<...>`) and
    names that aren't valid identifiers can't be resolved, so they count as dangerous."""
    name = canonical(dotted)
    if name.startswith("__builtins__."):
        name = "builtins." + name[len("__builtins__."):]
    module, _, attr = name.rpartition(".")
    if "<" in name or not module or not all(p.isidentifier() for p in name.split(".")):
        return "a name the pickle assembles at run time, or no valid name: it can't be resolved"
    if name.startswith(SAFE_UNDER_LISTED):
        return None
    names = dangerous_names()
    if module == "builtins":
        entry = names.get(f"builtins.{attr.split('.', 1)[0]}")
        return str(entry["what"]) if entry else None
    listed = _longest_prefix(name, names)
    if listed is not None:
        return _entry_text(names[listed], name, listed)
    parts = name.split(".")
    if attr in DANGEROUS_METHODS and any(p[:1].isupper() for p in parts[:-1]):
        return DANGEROUS_METHODS[attr]
    modules = dangerous_modules()
    listed = _longest_prefix(module, modules)
    if listed is not None:
        return _entry_text(modules[listed], name, listed)
    for i, part in enumerate(parts[1:-1], start=1):
        if part in REACHABLE_AS_ATTRIBUTE:
            inner = danger(".".join(parts[i:]))
            if inner is not None:
                return f"{inner} (reached as {'.'.join(parts[:i + 1])})"
    return None


def sources(dotted: str) -> list[str]:
    """Which suites and advisories list this global (empty when none does)."""
    name = canonical(dotted)
    if name.startswith("__builtins__."):
        name = "builtins." + name[len("__builtins__."):]
    names, modules = dangerous_names(), dangerous_modules()
    listed = _longest_prefix(name, names)
    if listed is not None:
        return list(names[listed]["sources"])
    listed = _longest_prefix(name.rpartition(".")[0], modules)
    return list(modules[listed]["sources"]) if listed is not None else []


def known_data(dotted: str, called: bool = False) -> str | None:
    """Why a global outside torch's allowlist is still data, or None when it is not known.

    A class of torch, transformers, Lightning, ... is data (unpickling a saved object imports
    its class and fills its __dict__); a function of those packages is data only when the pickle
    merely names it (an attribute that holds it), not when it calls it with its own arguments.
    """
    name = canonical(dotted)
    if name in REVIEWED_DATA:
        return REVIEWED_DATA[name]
    last = name.rsplit(".", 1)[-1]
    is_class = last[:1].isupper()
    if name.startswith("__future__."):
        return "a __future__ feature flag: inert"
    if name.startswith("__torch__."):
        return ("a TorchScript class, compiled by torch.jit.load from the archive's code/ "
                "folder (TorchScript calls torch operators, not Python)")
    if name.startswith(SAFE_UNDER_LISTED):
        return "TorchScript's own builder of lists and tensors"
    if name.startswith(REVIEWED_PACKAGES) and danger(name) is None and (is_class or not called):
        return ("a class of an installed library (a pickled object: its class is imported)"
                if is_class else "a function of an installed library, named, not called")
    return None


def not_allowed(names: list[str]) -> list[str]:
    """The canonical names torch's weights_only unpickler would refuse."""
    return [canonical(n) for n in rejected_globals(names)]
