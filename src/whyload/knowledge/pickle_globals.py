"""What the globals a pickle names do when it is loaded: a denylist that explains (what a call
would do) beside the allowlist that decides (torch's weights_only set, plus a few reviewed data
classes that real training checkpoints hold).

The verdict never depends on the denylist being complete: a global on neither list is "not known
safe" and reported as such. The denylist only says, for the ones it knows, what they would do.
"""

from __future__ import annotations

from whyload.knowledge.torch_pickle import canonical, rejected_globals

# module (or module prefix) -> what any callable from it does when a pickle calls it
DANGEROUS_MODULES: dict[str, str] = {
    "os": "runs shell commands, reads and writes files, changes the environment",
    "posix": "runs shell commands, reads and writes files (os on Linux/macOS)",
    "nt": "runs shell commands, reads and writes files (os on Windows)",
    "sys": "changes the interpreter: modules, paths, exit",
    "subprocess": "starts processes",
    "runpy": "runs a Python module or file",
    "importlib": "imports any module by name",
    "pty": "spawns a shell",
    "socket": "opens network connections",
    "webbrowser": "opens URLs",
    "shutil": "copies, moves and deletes files",
    "code": "runs Python source interactively",
    "commands": "runs shell commands (Python 2)",
    "ctypes": "calls native code",
    "multiprocessing": "starts processes",
    "marshal": "loads code objects",
    "pickle": "unpickles a second, nested pickle",
    "_pickle": "unpickles a second, nested pickle",
    "dill": "unpickles a nested pickle that may hold code objects",
    "cloudpickle": "unpickles a nested pickle that may hold code objects",
    "joblib": "unpickles nested pickles",
    "asyncio": "starts processes and network connections",
    "http": "makes HTTP requests or serves them",
    "urllib": "downloads from URLs",
    "requests": "makes HTTP requests",
    "httpx": "makes HTTP requests",
    "ftplib": "opens FTP connections",
    "smtplib": "sends mail",
    "telnetlib": "opens network connections",
    "tempfile": "creates files",
    "io": "opens files",
    "_io": "opens files",
    "types": "builds functions and code objects",
    "operator": "calls any attribute or method of an object (attrgetter, methodcaller)",
    "_operator": "calls any attribute or method of an object (attrgetter, methodcaller)",
    "functools": "binds arguments to any callable for a later call",
    "torch.hub": "downloads and runs code from GitHub",
    "torch._dynamo": "compiles and runs code",
    "torch.jit": "loads and runs TorchScript",
    "numpy.testing": "runs shell commands (numpy.testing._private.utils.runstring)",
    "pip": "installs packages",
    "setuptools": "runs build scripts",
    "bdb": "runs code under a debugger",
    "pdb": "runs code under a debugger",
    "timeit": "runs code strings",
    "cProfile": "runs code strings",
    "profile": "runs code strings",
    "trace": "runs code strings",
    "venv": "creates environments and runs pip",
    "zipimport": "imports code from a zip",
    "signal": "changes signal handlers",
    "threading": "starts threads",
    "_thread": "starts threads",
    # reported bypasses of public scanners: standard-library and torch functions that run code
    "pydoc": "runs a shell command (pipepager, tempfilepager)",
    "idlelib": "runs code (pyshell)",
    "lib2to3": "evaluates strings (pgen)",
    "ensurepip": "runs pip",
    "distutils": "runs commands and writes files",
    "_osx_support": "runs shell commands",
    "test": "runs Python subprocesses (test.support.script_helper)",
    "tarfile": "extracts files anywhere",
    "zipfile": "extracts files",
    "torch.serialization": "loads a second pickle",
    "torch.utils.collect_env": "runs shell commands",
    "torch.utils.bottleneck": "runs scripts under the profiler",
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch._inductor": "compiles and runs code",
    "torch.distributed.rpc": "runs remote calls",
    "torch.distributed.run": "launches processes",
    "torch.distributed.launch": "launches processes",
    "torch.distributed.elastic": "launches processes",
    "torch.fx": "builds and runs code from text",
    "torch.package": "imports code from a package",
    "numpy.f2py": "evaluates strings (crackfortran.myeval)",
    "numpy.distutils": "runs commands",
    "numpy.load": "loads a pickle (allow_pickle)",
}

BUILTINS = {
    "eval": "evaluates a Python expression",
    "exec": "executes Python statements",
    "compile": "compiles Python source into a code object",
    "getattr": "reaches any attribute, so any method of any object",
    "setattr": "changes any attribute of any object",
    "delattr": "deletes attributes",
    "__import__": "imports any module by name",
    "open": "opens a file for reading or writing",
    "globals": "reaches the module's globals",
    "locals": "reaches local variables",
    "vars": "reaches an object's namespace",
    "input": "reads from the terminal",
    "breakpoint": "starts a debugger",
    "apply": "calls any callable (Python 2)",
    "execfile": "executes a Python file (Python 2)",
    "memoryview": "exposes raw memory",
    "super": "reaches parent-class methods",
    "type": "builds new classes",
    "object": "creates bare objects (with __reduce__ tricks, any call)",
    "print": "writes to the terminal",
    "help": "starts the interactive help",
    "exit": "exits the interpreter",
    "quit": "exits the interpreter",
    "map": "calls a function over items (a call hidden inside an iterator)",
    "filter": "calls a function over items (a call hidden inside an iterator)",
}

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


def _module_match(module: str) -> str | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        if prefix in DANGEROUS_MODULES:
            return prefix
    return None


def danger(dotted: str) -> str | None:
    """What calling this global from a pickle would do, when that is running code or reaching
    the system; None when it is not on the denylist. Names assembled at run time (`<...>`) and
    names that aren't valid identifiers can't be resolved, so they count as dangerous."""
    name = canonical(dotted)
    module, _, attr = name.rpartition(".")
    if "<" in name or not module or not all(p.isidentifier() for p in name.split(".")):
        return "a name the pickle assembles at run time, or no valid name: it can't be resolved"
    if module == "builtins":
        return BUILTINS.get(attr.split(".", 1)[0])
    parts = name.split(".")
    if attr in DANGEROUS_METHODS and any(p[:1].isupper() for p in parts[:-1]):
        return DANGEROUS_METHODS[attr]
    if module.startswith(("numpy.", "torch.")) and _module_match(module) is None:
        return None
    prefix = _module_match(module)
    return DANGEROUS_MODULES[prefix] if prefix is not None else None


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
    if name.startswith(REVIEWED_PACKAGES) and danger(name) is None and (is_class or not called):
        return ("a class of an installed library (a pickled object: its class is imported)"
                if is_class else "a function of an installed library, named, not called")
    return None


def not_allowed(names: list[str]) -> list[str]:
    """The canonical names torch's weights_only unpickler would refuse."""
    return [canonical(n) for n in rejected_globals(names)]
