"""Mine the error messages of the loading stack from its released sources, and write the table.

    python scripts/mine_error_texts.py            # download what is missing, mine, write
    python scripts/mine_error_texts.py --offline  # only what the cache already holds

For each release in RELEASES it downloads the wheel with pip (no dependencies, never installed;
the cache lies outside the repository: $WHYLOAD_MINE_CACHE or ~/.cache/whyload-mine), reads the
Python files inside with `ast` and records every raise site's message template with its exception
type: f-strings, `%` and `.format()` templates, concatenations, a message assigned to a variable
then raised, and the logger and warnings calls that report silent damage. Rust messages
(safetensors' `#[error(...)]` and `new_err(format!(...))`) come from the Rust sources in a
snapshot of the repository, and the messages that no Python file holds (torch's C++ loader, the
CUDA runtime and driver, the OS and CPython's pickle) from NATIVE_MESSAGES, each with the source
file it was copied from.

Each distinct template is then given a cause code by MAPPING_RULES (regexes over the template,
in order) or by the hand-kept overrides in scripts/error_text_overrides.json, or is marked
"not_loading". Writes src/whyload/knowledge/error_templates.json.gz (what explain matches) and
docs/error-coverage.md (how much of each library's loading-related messages is mapped).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("WHYLOAD_MINE_CACHE", Path.home() / ".cache" / "whyload-mine"))
OUTPUT = ROOT / "src" / "whyload" / "knowledge" / "error_templates.json.gz"
COVERAGE = ROOT / "docs" / "error-coverage.md"
OVERRIDES = ROOT / "scripts" / "error_text_overrides.json"

# torch's Python files are the same in every platform's wheel: the smallest wheel per version
_MAC_X86 = ("macosx_10_9_x86_64",)
_MAC_ARM = ("macosx_14_0_arm64",)


@dataclass(frozen=True)
class Release:
    """One release to mine: the distribution, its version, and (for platform wheels) which wheel."""

    dist: str
    version: str
    platform: tuple[str, ...] = ()
    python: str = ""
    packages: tuple[str, ...] = ()  # top-level folders of the wheel to read ((): every one)
    files: tuple[str, ...] = ()  # for big packages: only these paths (prefixes) inside the wheel


# torch: the modules that torch.load, load_state_dict, .to(device) and the CUDA/memory set-up run
TORCH_FILES = ("torch/serialization.py", "torch/_weights_only_unpickler.py", "torch/_utils.py",
               "torch/storage.py", "torch/nn/modules/module.py", "torch/cuda/__init__.py",
               "torch/cuda/memory.py", "torch/hub.py", "torch/_tensor.py", "torch/__init__.py",
               "torch/_utils_internal.py", "torch/types.py", "torch/utils/_device.py",
               "torch/distributed/checkpoint/", "torch/cuda/_utils.py", "torch/_C/__init__.pyi",
               "torch/package/", "torch/jit/_serialization.py", "torch/mps/", "torch/backends/")
RELEASES: tuple[Release, ...] = (
    *(Release("transformers", v, packages=("transformers",)) for v in
      ("2.11.0", "3.5.1", "4.6.1", "4.12.5", "4.20.1", "4.26.1", "4.31.0", "4.36.2", "4.41.2",
       "4.46.3", "4.51.3", "4.57.1", "5.0.0", "5.10.1", "5.25.0")),
    Release("torch", "1.4.0", _MAC_X86, "3.7", files=TORCH_FILES),
    Release("torch", "1.6.0", _MAC_X86, "3.8", files=TORCH_FILES),
    Release("torch", "1.8.1", _MAC_X86, "3.8", files=TORCH_FILES),
    Release("torch", "1.10.2", _MAC_X86, "3.9", files=TORCH_FILES),
    Release("torch", "1.13.1", _MAC_X86, "3.10", files=TORCH_FILES),
    *(Release("torch", v, _MAC_ARM, "3.11", files=TORCH_FILES) for v in
      ("2.0.1", "2.2.2", "2.4.1", "2.6.0", "2.9.0", "2.13.0")),
    *(Release("safetensors", v, _MAC_ARM, "3.11", packages=("safetensors",)) for v in
      ("0.3.3", "0.4.5", "0.6.2", "0.8.0")),
    *(Release("tokenizers", v, _MAC_ARM, "3.11", packages=("tokenizers",)) for v in
      ("0.13.3", "0.15.2", "0.20.3", "0.23.3")),
    *(Release("huggingface_hub", v, packages=("huggingface_hub",)) for v in
      ("0.10.1", "0.16.4", "0.20.3", "0.26.5", "0.36.0", "1.0.0", "2.4.0")),
    *(Release("accelerate", v, packages=("accelerate",)) for v in
      ("0.20.3", "0.34.2", "1.6.0", "1.16.0")),
    *(Release("sentence-transformers", v, packages=("sentence_transformers",)) for v in
      ("2.7.0", "3.4.1", "5.1.0", "6.3.0")),
    *(Release("peft", v, packages=("peft",)) for v in ("0.4.0", "0.10.0", "0.17.1", "0.21.2")),
    Release("bitsandbytes", "0.42.0", packages=("bitsandbytes",)),
    Release("bitsandbytes", "0.50.2", _MAC_ARM, "3.11", packages=("bitsandbytes",)),
    Release("pytorch-lightning", "1.9.5", packages=("pytorch_lightning", "lightning_fabric"),
            files=("pytorch_lightning/core/", "pytorch_lightning/trainer/connectors/checkpoint",
                   "pytorch_lightning/utilities/", "lightning_fabric/utilities/")),
    Release("lightning", "2.6.6", packages=("lightning",),
            files=("lightning/pytorch/core/", "lightning/pytorch/trainer/connectors/checkpoint",
                   "lightning/fabric/utilities/", "lightning/pytorch/utilities/")),
)


# --- download -----------------------------------------------------------------------------------

def wheel_of(release: Release, *, offline: bool) -> Path | None:
    """The release's wheel in the cache, downloaded with pip when missing (None: not to be had)."""
    folder = CACHE / release.dist / release.version
    found = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if found or offline:
        return found[0] if found else None
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(folder),
               f"{release.dist}=={release.version}"]
    for platform in release.platform:
        command += ["--platform", platform]
    if release.python:
        command += ["--python-version", release.python]
    env = {**os.environ, "PIP_CONSTRAINT": ""}  # the machine's cap on torch is not ours
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  ! {release.dist} {release.version}: {done.stderr.strip()[-300:]}",
              file=sys.stderr)
    found = sorted(folder.glob("*.whl"))
    return found[0] if found else None


def python_sources(wheel: Path, release: Release) -> Iterator[tuple[str, str]]:
    """(path inside the wheel, text) of each Python file the release's mining reads."""
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not name.endswith((".py", ".pyi")) or "/tests/" in name or "/test/" in name:
                continue
            if release.packages and name.split("/", 1)[0] not in release.packages:
                continue
            if release.files and not name.startswith(release.files):
                continue
            yield name, archive.read(name).decode("utf-8", "replace")


# --- templates from Python source ---------------------------------------------------------------

@dataclass(frozen=True)
class Site:
    """One raise (or warning) site: the exception type and its message template."""

    exception: str
    template: str  # Python format syntax: {name} a dynamic part, {{ }} literal braces
    path: str
    line: int
    function: str = ""  # the function it is in ("" at module level)


_LOG_METHODS = {"warning", "warning_once", "warn", "error", "critical", "fatal", "exception",
                "warning_advice"}
_LOGGER_NAMES = re.compile(r"^(?:logger|_logger|log|LOGGER|logging|rank_zero_warn"
                           r"|rank_zero_info|_LOGGER)$")
_WRAPPERS = {"dedent", "strip", "rstrip", "lstrip", "cleandoc", "join_lines"}
_PRINTF = re.compile(r"%(?:\((\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?"
                     r"([diouxXeEfFgGcrsa%])")
_FORMAT_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def literal(text: str) -> str:
    """Literal text in the template syntax: braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


def placeholder(node: ast.AST | None, hint: str = "") -> str:
    """A dynamic part, named after the expression it comes from."""
    name = hint
    while node is not None and not name:
        if isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Call):
            node = node.func
            continue
        elif isinstance(node, ast.Subscript):
            node = node.value
            continue
        else:
            break
    name = re.sub(r"\W+", "_", name or "value").strip("_").lower() or "value"
    if name[0].isdigit():
        name = "v_" + name
    return "{" + name + "}"


class Templates:
    """Message templates of the expressions in one module, following simple variable flows."""

    def __init__(self, assignments: dict[str, list[tuple[int, ast.expr, bool]]]) -> None:
        self.assignments = assignments  # name -> [(line, value, is_augmented)] in one function

    def of(self, node: ast.AST | None, line: int, depth: int = 0) -> str:
        if node is None or depth > 6:
            return placeholder(node)
        if isinstance(node, ast.Constant):
            return literal(node.value) if isinstance(node.value, str) else placeholder(node)
        if isinstance(node, ast.JoinedStr):
            return "".join(self._formatted(v, line, depth) if isinstance(v, ast.FormattedValue)
                           else self.of(v, line, depth + 1) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.of(node.left, line, depth + 1) + self.of(node.right, line, depth + 1)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            left = self.of(node.left, line, depth + 1)
            return _printf_to_template(left, node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "format":
                return _format_to_template(self.of(node.func.value, line, depth + 1), node)
            if node.func.attr in _WRAPPERS and not node.args:
                return self.of(node.func.value, line, depth + 1)
            if node.func.attr == "join" and isinstance(node.func.value, ast.Constant):
                return placeholder(node.args[0] if node.args else None, "items")
        if isinstance(node, ast.Call) and node.args and _call_name(node) in _WRAPPERS:
            return self.of(node.args[0], line, depth + 1)
        if isinstance(node, ast.Name) and node.id in self.assignments:
            return self._variable(node, line, depth)
        return placeholder(node)

    def _formatted(self, value: ast.FormattedValue, line: int, depth: int) -> str:
        """An f-string's {field}: a variable that holds a message (a preface assigned above)
        is followed, any other expression is a placeholder."""
        if isinstance(value.value, ast.Name) and value.value.id in self.assignments \
                and value.conversion == -1 and value.format_spec is None:
            text = self._variable(value.value, line, depth)
            if literal_text(text).strip():
                return text
        return placeholder(value.value)

    def _variable(self, node: ast.Name, line: int, depth: int) -> str:
        """The message a variable holds at `line`: its last assignment before it, plus the
        `+=` pieces after that assignment."""
        history = [a for a in self.assignments[node.id] if a[0] < line]
        start = max((i for i, a in enumerate(history) if not a[2]), default=None)
        if start is None:
            return placeholder(node)
        return "".join(self.of(value, line, depth + 1) for _, value, _ in history[start:])


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _printf_to_template(left: str, right: ast.expr) -> str:
    """'... %s ...' % (a, b) -> '... {a} ...'."""
    values = list(right.elts) if isinstance(right, ast.Tuple) else [right]
    index = 0

    def field_of(found: re.Match[str]) -> str:
        nonlocal index
        if found.group(2) == "%":
            return "%"
        if found.group(1):
            return "{" + found.group(1).lower() + "}"
        value = values[index] if index < len(values) else None
        index += 1
        return placeholder(value)

    # the printf text is already in template syntax (braces doubled): only %-fields change
    return _PRINTF.sub(field_of, left)


def _format_to_template(text: str, call: ast.Call) -> str:
    """'... {} ... {name} ...'.format(a, name=b) -> '... {a} ... {b} ...'."""
    # `text` has literal braces doubled; undo that to read the format fields
    raw = text.replace("{{", "{").replace("}}", "}")
    keywords = {k.arg: k.value for k in call.keywords if k.arg}
    index = 0

    def field_of(found: re.Match[str]) -> str:
        nonlocal index
        if found.group(0) in ("{{", "}}"):
            return found.group(0)
        name = found.group(1).split("!")[0].split(":")[0].split(".")[0].split("[")[0]
        if name == "" or name.isdigit():
            position = int(name) if name else index
            index += 1
            value = call.args[position] if position < len(call.args) else None
            return placeholder(value)
        return placeholder(keywords.get(name), name)

    return _FORMAT_FIELD.sub(field_of, raw)


def _assignments(function: ast.AST) -> dict[str, list[tuple[int, ast.expr, bool]]]:
    found: dict[str, list[tuple[int, ast.expr, bool]]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            found.setdefault(node.targets[0].id, []).append((node.lineno, node.value, False))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
            found.setdefault(node.target.id, []).append((node.lineno, node.value, False))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                and isinstance(node.op, ast.Add):
            found.setdefault(node.target.id, []).append((node.lineno, node.value, True))
    for history in found.values():
        history.sort(key=lambda a: a[0])
    return found


def _exception_name(node: ast.expr) -> str:
    """The raised class's name ("Exception" for `raise error.__class__(...)`, whose class only
    the running program knows)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return "Exception" if node.attr == "__class__" else node.attr
    return ""


_PARSED: dict[str, list[tuple[str, str, int, str]]] = {}  # a file's sha1 -> its sites


def python_sites(path: str, text: str) -> list[Site]:
    """Each raise, logger warning/error and warnings.warn in a module, with its template (files
    that several releases share are read once)."""
    digest = hashlib.sha1(text.encode()).hexdigest()
    if digest not in _PARSED:
        _PARSED[digest] = list(_parse_sites(text))
    return [Site(exception, template, path, line, function)
            for exception, template, line, function in _PARSED[digest]]


def _parse_sites(text: str) -> Iterator[tuple[str, str, int, str]]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    seen: set[int] = set()
    for scope in reversed(scopes):  # innermost functions first: their variables are theirs
        templates = Templates(_assignments(scope) if scope is not tree else {})
        function = getattr(scope, "name", "")
        for node in ast.walk(scope):
            if id(node) in seen:
                continue
            site = _site_of(node, templates, "")
            if site is not None:
                seen.add(id(node))
                yield site.exception, site.template, site.line, function


def _site_of(node: ast.AST, templates: Templates, path: str) -> Site | None:
    if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
        call = node.exc
        name = _exception_name(call.func)
        if len(call.args) >= 2 and _exception_name(call.args[0]).endswith(("Error", "Exception")):
            # a factory: `raise _format(RevisionNotFoundError, message, response)`
            name, message = _exception_name(call.args[0]), call.args[1]
        elif not name or not call.args:
            return None
        else:
            message = call.args[0]
        return Site(name, templates.of(message, node.lineno), path, node.lineno)
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute) or not node.args:
        return None
    method, owner = node.func.attr, node.func.value
    owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
    if method == "warn" and owner_name == "warnings":
        category = (_exception_name(node.args[1]) if len(node.args) > 1 else "") or next(
            (_exception_name(k.value) for k in node.keywords if k.arg == "category"), "")
        return Site(category or "UserWarning", templates.of(node.args[0], node.lineno), path,
                    node.lineno)
    if method in _LOG_METHODS and (_LOGGER_NAMES.match(owner_name or "")
                                   or owner_name.endswith("logger")):
        level = "ERROR" if method in ("error", "critical", "fatal", "exception") else "WARNING"
        return Site(level, templates.of(node.args[0], node.lineno), path, node.lineno)
    return None



# --- templates from Rust source (safetensors) ---------------------------------------------------

SAFETENSORS_TAGS = ("v0.3.3", "v0.4.5", "v0.6.2", "v0.8.0-rc.0")
_RUST_MESSAGE = re.compile(
    r'(?P<type>\w+)::new_err\(\s*(?:format!\(\s*)?"(?P<text>(?:[^"\\]|\\.)*)"'
    r'|write!\(\s*f,\s*"(?P<display>(?:[^"\\]|\\.)*)"', re.S)
_RUST_ENUM = re.compile(r"pub enum SafeTensorError \{(?P<body>.*?)\n\}", re.S)
_RUST_VARIANT = re.compile(r"^\s*(?P<name>[A-Z]\w+)\s*(?:\(|,)", re.M)
_RUST_TYPES = {"PyFileNotFoundError": "FileNotFoundError", "PyException": "Exception",
               "PyValueError": "ValueError", "PyTypeError": "TypeError",
               "PyRuntimeError": "RuntimeError", "PyIOError": "OSError"}


def rust_template(text: str) -> str:
    """A Rust format string (continuation lines joined) in the template syntax."""
    text = re.sub(r"\\\n\s*", "", text).replace('\\"', '"').replace("\\n", "\n")

    def field_of(found: re.Match[str]) -> str:
        if found.group(0) in ("{{", "}}"):
            return found.group(0)
        name = found.group(1).split(":")[0] or "value"
        return "{" + (name if not name.isdigit() else "value") + "}"

    return _FORMAT_FIELD.sub(field_of, text)


def safetensors_rust_sites(repository: Path) -> Iterator[tuple[str, Site]]:
    """(tag, site) for each error message in safetensors' Rust sources at each tag."""
    for tag in SAFETENSORS_TAGS:
        names = _git(repository, "ls-tree", "-r", "--name-only", tag).split()
        for name in (n for n in names if n.endswith(".rs") and "/src/" in n):
            text = _git(repository, "show", f"{tag}:{name}")
            for found in _RUST_MESSAGE.finditer(text):
                line = text.count("\n", 0, found.start()) + 1
                if found.group("display") is not None:
                    yield tag, Site("SafetensorError", rust_template(found.group("display")),
                                    name, line)
                else:
                    kind = _RUST_TYPES.get(found.group("type"), found.group("type"))
                    yield tag, Site(kind, rust_template(found.group("text")), name, line)
            enum = _RUST_ENUM.search(text)
            if enum:  # bindings before 0.4 printed the error's Debug form: the variant's name
                line = text.count("\n", 0, enum.start()) + 1
                for variant in _RUST_VARIANT.finditer(enum.group("body")):
                    yield tag, Site("SafetensorError", "Error while deserializing header: "
                                    + variant.group("name"), name, line)


def _git(repository: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repository), *args], capture_output=True, text=True,
                          check=False)
    return done.stdout


# --- messages no Python file of the libraries holds ----------------------------------------------

# (library, exception, template, where the text comes from). torch's C++ texts were checked
# against the strings of torch 2.13.0's libc10.so / libtorch_cpu.so; CUDA's are
# cudaGetErrorString's texts (cuda_runtime_api.h) as torch prints them after "CUDA error: ".
NATIVE_MESSAGES: tuple[tuple[str, str, str, str], ...] = (
    ("torch-native", "RuntimeError", "PytorchStreamReader failed reading zip archive: failed "
     "finding central directory", "caffe2/serialize/inline_container.cc + miniz.c"),
    ("torch-native", "RuntimeError", "PytorchStreamReader failed reading file {name}: invalid "
     "header or archive is corrupted", "caffe2/serialize/inline_container.cc + miniz.c"),
    ("torch-native", "RuntimeError", "PytorchStreamReader failed locating file {name}: file not "
     "found", "caffe2/serialize/inline_container.cc"),
    ("torch-native", "RuntimeError", "[enforce fail at inline_container.cc:{line}] . file in "
     "archive is not in a subdirectory: {name}", "caffe2/serialize/inline_container.cc"),
    ("torch-native", "RuntimeError", "PytorchStreamReader failed reading zip archive: not a ZIP "
     "archive", "caffe2/serialize/inline_container.cc + miniz.c"),
    ("torch-native", "RuntimeError", "[enforce fail at alloc_cpu.cpp:{line}] data. "
     "DefaultCPUAllocator: can't allocate memory: you tried to allocate {nbytes} bytes. Error "
     "code 12 (Cannot allocate memory)", "c10/core/impl/alloc_cpu.cpp"),
    ("torch-native", "OutOfMemoryError", "CUDA out of memory. Tried to allocate {size} MiB. GPU "
     "0 has a total capacity of {total} GiB of which {free} MiB is free.",
     "c10/cuda/CUDACachingAllocator.cpp"),
    ("torch-native", "RuntimeError", "CUDA error: out of memory", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: no kernel image is available for execution on "
     "the device", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: CUDA driver version is insufficient for CUDA "
     "runtime version", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: device-side assert triggered",
     "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: invalid device ordinal", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: all CUDA-capable devices are busy or "
     "unavailable", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: no CUDA-capable device is detected",
     "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: forward compatibility was attempted on non "
     "supported HW", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: system has unsupported display driver / cuda "
     "driver combination", "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA error: an illegal memory access was encountered",
     "cuda_runtime_api.h"),
    ("torch-native", "RuntimeError", "CUDA driver initialization failed, you might not have a "
     "CUDA gpu.", "aten/src/ATen/cuda/detail/CUDAHooks.cpp"),
    ("torch-native", "RuntimeError", "Found no NVIDIA driver on your system. Please check that "
     "you have an NVIDIA GPU and installed a driver from http://www.nvidia.com/Download/index.aspx",
     "aten/src/ATen/cuda/detail/CUDAHooks.cpp"),
    ("torch-native", "RuntimeError", "CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling "
     "`cublasCreate(handle)`", "aten/src/ATen/cuda/CublasHandlePool.cpp"),
    ("torch-native", "RuntimeError", "Attempted to read a PyTorch file with version {version}, "
     "but the maximum supported version for reading is {max_version}. Your PyTorch installation "
     "may be too old.", "caffe2/serialize/inline_container.cc"),
    ("cpython", "UnpicklingError", "invalid load key, '{key}'.", "Modules/_pickle.c"),
    ("cpython", "UnpicklingError", "pickle data was truncated", "Modules/_pickle.c"),
    ("cpython", "EOFError", "Ran out of input", "Modules/_pickle.c"),
    ("cpython", "UnpicklingError", "unpickling stack underflow", "Modules/_pickle.c"),
    ("cpython", "UnpicklingError", "could not find MARK", "Modules/_pickle.c"),
    ("cpython", "UnpicklingError", "A load persistent id instruction was encountered, but no "
     "persistent_load function was specified.", "Modules/_pickle.c"),
    ("cpython", "AttributeError", "Can't get attribute '{name}' on <module '{module}' from "
     "'{path}'>", "Modules/_pickle.c"),
    ("cpython", "ModuleNotFoundError", "No module named '{name}'", "Python/import.c"),
    ("cpython", "MemoryError", "MemoryError", "Objects/exceptions.c"),
    ("cpython", "JSONDecodeError", "Expecting value: line {line} column {column} (char {char})",
     "Lib/json/decoder.py"),
    ("os", "PermissionError", "[Errno 13] Permission denied: '{path}/.cache/huggingface/hub/"
     "{name}'", "strerror(EACCES), on the HF cache"),
    ("os", "OSError", "[Errno 30] Read-only file system: '{path}/.cache/huggingface/{name}'",
     "strerror(EROFS), on the HF cache"),
    ("os", "OSError", "[Errno 28] No space left on device", "strerror(ENOSPC)"),
    ("os", "OSError", "[Errno 122] Disk quota exceeded", "strerror(EDQUOT)"),
    ("os", "OSError", "[Errno 12] Cannot allocate memory", "strerror(ENOMEM)"),
    ("os", "FileNotFoundError", "[Errno 2] No such file or directory: '{path}/model-00002-of-"
     "00004.safetensors'", "strerror(ENOENT), on a shard"),
    ("os", "", "Killed", "the shell, after the kernel's OOM killer (SIGKILL)"),
    ("os", "", "Process finished with exit code 137 (interrupted by signal 9: SIGKILL)",
     "PyCharm / shells: 128 + SIGKILL"),
    ("os", "CalledProcessError", "Command '{command}' died with <Signals.SIGKILL: 9>.",
     "Lib/subprocess.py"),
    ("os", "", "Segmentation fault (core dumped)", "the shell, after SIGSEGV"),
    ("os", "", "Bus error (core dumped)", "the shell, after SIGBUS"),
    ("os", "SSLError", "HTTPSConnectionPool(host='huggingface.co', port=443): Max retries "
     "exceeded with url: {url} (Caused by SSLError(SSLCertVerificationError(1, '[SSL: "
     "CERTIFICATE_VERIFY_FAILED] certificate verify failed: self signed certificate in "
     "certificate chain (_ssl.c:1007)')))", "urllib3 + Modules/_ssl.c"),
    ("os", "ConnectionError", "HTTPSConnectionPool(host='huggingface.co', port=443): Max "
     "retries exceeded with url: {url} (Caused by NewConnectionError('<urllib3.connection."
     "HTTPSConnection object at {address}>: Failed to establish a new connection: [Errno -3] "
     "Temporary failure in name resolution'))", "urllib3 + getaddrinfo"),
    ("tokenizers-native", "Exception", "data did not match any variant of untagged enum "
     "{name} at line {line} column {column}", "serde (tokenizers' Rust JSON reader)"),
)



# --- the table ---------------------------------------------------------------------------------

@dataclass
class Entry:
    """One distinct template of one library, with where and in which releases it was seen."""

    library: str
    exception: str
    template: str
    source: str
    versions: list[str] = field(default_factory=list)
    sites: dict[str, int] = field(default_factory=dict)  # version -> raise sites in it
    paths: set[str] = field(default_factory=set)
    functions: set[str] = field(default_factory=set)


def literal_text(template: str) -> str:
    """The template without its placeholders: what a message always holds."""
    return re.sub(r"\{[^{}]*\}", " ", template.replace("{{", "(").replace("}}", ")"))


def collect(*, offline: bool) -> tuple[dict[tuple[str, str, str], Entry], dict[str, list[str]]]:
    """Every template of every release; and, per library, the versions read (in order)."""
    entries: dict[tuple[str, str, str], Entry] = {}
    versions: dict[str, list[str]] = {}

    def add(library: str, version: str, site: Site) -> None:
        template = site.template.strip()
        exception = "Exception" if site.exception == "__class__" else site.exception
        key = (library, exception, template)
        entry = entries.get(key)
        if entry is None:
            entry = entries[key] = Entry(library, exception, template,
                                         f"{site.path}:{site.line}")
        else:
            entry.source = f"{site.path}:{site.line}"  # the newest release's place
        if version not in entry.versions:
            entry.versions.append(version)
        entry.sites[version] = entry.sites.get(version, 0) + 1
        entry.paths.add(site.path)
        entry.functions.add(site.function)

    for release in RELEASES:
        wheel = wheel_of(release, offline=offline)
        if wheel is None:
            print(f"  ! no wheel for {release.dist} {release.version}", file=sys.stderr)
            continue
        library = "lightning" if release.dist == "pytorch-lightning" else release.dist
        versions.setdefault(library, []).append(release.version)
        for site in release_sites(wheel, release):
            add(library, release.version, site)
    repository = safetensors_repository()
    if repository is not None:
        for tag in SAFETENSORS_TAGS:
            versions.setdefault("safetensors-rust", []).append(tag.lstrip("v"))
        for tag, site in safetensors_rust_sites(repository):
            add("safetensors-rust", tag.lstrip("v"), site)
    pickle_py = Path(ast.__file__).with_name("pickle.py")
    versions["cpython"] = [f"{sys.version_info.major}.{sys.version_info.minor}"]
    for site in python_sites("Lib/pickle.py", pickle_py.read_text()):
        add("cpython", versions["cpython"][0], site)
    for library, exception, template, where in NATIVE_MESSAGES:
        versions.setdefault(library, ["-"])
        add(library, versions[library][0], Site(exception, template, where, 0))
    return entries, versions



_MINER_VERSION = "4"  # bump when python_sites changes: the per-wheel caches are then rebuilt


def release_sites(wheel: Path, release: Release) -> list[Site]:
    """The sites of one wheel, kept beside it in the cache (mining a release takes seconds)."""
    selection = hashlib.sha256(repr((_MINER_VERSION, release.packages,
                                     release.files)).encode()).hexdigest()[:12]
    kept = wheel.with_name(f"sites-{selection}.json")
    if kept.exists():
        return [Site(*row) for row in json.loads(kept.read_text())]
    sites = [site for path, text in python_sources(wheel, release)
             for site in python_sites(path, text)]
    kept.write_text(json.dumps([[s.exception, s.template, s.path, s.line, s.function]
                                for s in sites]))
    return sites


def safetensors_repository() -> Path | None:
    """A git snapshot of huggingface/safetensors ($WHYLOAD_SAFETENSORS_GIT, or the cache)."""
    for candidate in (os.environ.get("WHYLOAD_SAFETENSORS_GIT", ""),
                      str(CACHE / "safetensors.git"), "/work/.mirror/huggingface+safetensors/repo"):
        if candidate and Path(candidate, "HEAD").exists():
            return Path(candidate)
    print("  ! no safetensors git snapshot: its Rust messages are not mined", file=sys.stderr)
    return None



# --- which sites are about loading --------------------------------------------------------------

# library -> ((path regex, function regex or None), ...): a site is loading-related when its
# file and function match one pair (None: every function of the file), or when a code rule
# below recognises its text
_ANY = None
LOADING_SCOPES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "transformers": (
        (r"modeling_utils\.py|modeling_tf_utils|modeling_flax_utils",
         r"pretrained|load|_find|_get_resolved|checkpoint|device_map|dispatch|_check_and|"
         r"autoset|dtype|quantiz|_fix_key|tie_weights|_init_weights|attn_implementation|"
         r"get_.*file|shard|_infer|_move_missing|attn|sdpa|flash|kernel"),
        (r"modeling_tf_pytorch_utils|modeling_flax_pytorch_utils|modeling_gguf|core_model_loading|"
         r"safetensors_conversion|integrations/(?:bitsandbytes|accelerate|ggml|peft|"
         r"tensor_parallel|hub_kernels|sdpa_attention|flash_attention)|quantizers/|"
         r"utils/quantization_config|utils/hub\.py|file_utils\.py|dynamic_module_utils|"
         r"models/auto/|convert_slow_tokenizer|"
         r"conversion_mapping|utils/import_utils|utils/versions|integrations/accelerate|"
         r"modeling_rope_utils", _ANY),
        (r"(?<!generation/)configuration_utils\.py", r"pretrained|__init__|load|config_dict|"
         r"from_dict|from_json|_dict_from|validate|_set_token|attn_implementation|rope"),
        (r"tokenization_utils|tokenization_mistral", r"pretrained|__init__|load|convert|vocab|"
         r"_add_tokens|init_kwargs|save|backend|tokenizer_file|from_file|sentencepiece"),
        (r"models/[^/]+/configuration_", _ANY),
        (r"models/[^/]+/tokenization_", r"__init__|load|vocab|pretrained"),
        (r"models/[^/]+/modeling_", r"_load_tf_weights|load_tf_weights|_init_weights|^__init__$"),
    ),
    "torch": (
        (r"serialization\.py|_weights_only_unpickler|torch/_utils\.py|torch/storage\.py|"
         r"torch/cuda/|torch/mps/|torch/backends/mps|jit/_serialization|torch/hub\.py", _ANY),
        (r"nn/modules/module\.py", r"load|_apply|to$|cuda|register_load"),
        (r"distributed/checkpoint/", r"load|read|_validate"),
        (r"torch/__init__\.py", r"_load_global_deps|_preload|load"),
    ),
    "huggingface_hub": (
        (r"file_download|_snapshot_download|errors\.py|utils/_errors|utils/_validators|"
         r"utils/_http|_local_folder|utils/_fixes|utils/_auth|utils/_headers|utils/_paths|"
         r"_xet|utils/_runtime|constants|utils/_cache_assets", _ANY),
        (r"hf_api\.py", r"model_info|repo_info|file_exists|list_repo_files|get_paths_info|"
         r"auth_check|revision_exists|repo_exists|_validate"),
    ),
    "safetensors": ((r".", _ANY),),
    "safetensors-rust": ((r".", _ANY),),
    "tokenizers": ((r".", r"from_file|from_pretrained|from_str|load|__init__"),),
    "accelerate": (
        (r"big_modeling|utils/modeling|utils/offload|utils/bnb|checkpointing|utils/imports|"
         r"utils/versions",
         r"load|dispatch|device_map|offload|set_module_tensor|check_|infer|get_balanced|"
         r"init_|compute_module_sizes|get_max_memory|find_tied|is_.*available|quantiz"),
    ),
    "sentence-transformers": (
        (r"SentenceTransformer\.py|models/|util|cross_encoder/|sparse_encoder/|backend",
         r"__init__|load|from_pretrained|download|snapshot|cached|_create|is_sentence|"
         r"backend|_load"),
    ),
    "peft": (
        (r".", r"from_pretrained|load|_check_target_module|inject_adapter|_create_and_replace|"
         r"set_peft_model_state_dict|get_peft_model|_prepare_adapter_config|"
         r"check_target_module|_get_peft_specific|from_json_file|_check_new_adapter"),
    ),
    "bitsandbytes": ((r"cextension|cuda_setup|diagnostics|backends/|bitsandbytes/__init__",
                      _ANY),),
    "lightning": ((r".", r"load|checkpoint|restore|_load|upgrade|migrate|_check"),),
    "cpython": ((r".", r"^load|find_class|^read|_getattribute|persistent_load|^_?Unpickler"),),
    "torch-native": ((r".", _ANY),),
    "tokenizers-native": ((r".", _ANY),),
    "os": ((r".", _ANY),),
}


# functions that write or publish a model: a name that says so is never loading
_WRITING = re.compile(r"^_?(?:save|push|upload|export|write|create_repo|to_json|to_dict)")


def is_loading_scope(entry: Entry) -> bool:
    """Whether one of the template's sites lies where loading runs."""
    if entry.functions and all(_WRITING.match(f) for f in entry.functions):
        return False
    for path_pattern, function_pattern in LOADING_SCOPES.get(entry.library, ()):
        for path in entry.paths:
            if not re.search(path_pattern, path):
                continue
            if function_pattern is None:
                return True
            if any(re.search(function_pattern, f) for f in entry.functions if f):
                return True
    return False


# --- which cause each template names -------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    """Templates whose literal text matches `pattern` (and, when set, whose library and file
    match) name `code`; a fallback rule's code counts only when no other row matches."""

    name: str
    code: str
    pattern: str
    library: str = ""
    path: str = ""
    fallback: bool = False


_INSTALL = (r"(?:pip install|not installed|is not available|could not be imported|"
            r"requires? (?:the )?")
_QUANT_LIBS = (r"bitsandbytes|auto[-_]?gptq|autoawq|auto[-_]?awq|gptqmodel|optimum|quanto|hqq|"
               r"eetq|fbgemm|torchao|compressed[-_]tensors|aqlm|vptq|spqr|higgs|flute|fp_quant|"
               r"mxfp4|kernels|triton|bitnet|quark|gemlite")
MAPPING_RULES: tuple[Rule, ...] = (
    # files
    Rule("old not-found wrapper", "WL570", r"is a correct model identifier listed on",
         fallback=True),
    Rule("lfs pointer", "WL110", r"git[- ]lfs"),
    Rule("torch zip truncated", "WL130",
         r"central directory|failed reading zip archive|invalid header or archive is corrupted|"
         r"storage has wrong (?:byte )?size|unexpected EOF|file might be corrupted|"
         r"truncated|incomplete"),
    Rule("zip that is not torch", "WL131", r"not in a subdirectory|failed locating file|"
         r"not a ZIP archive|expected a record"),
    Rule("weights only", "WL210", r"weights_only|Weights only load|Unsupported global|"
         r"unsupported GLOBAL|whose module .* is blocked|"
         r"safe_globals|WeightsUnpickler|allowlist|add_safe_globals|call reduce for "
         r"unrecognized function"),
    Rule("pickled class changed", "WL232", r"Can't get (?:local )?attribute|source code of "
         r"class .* has changed"),
    Rule("pickle unreadable", "WL132", r"invalid load key|Ran out of input|stack underflow|"
         r"could not find MARK|Invalid magic number|corrupt|unpickl|persistent id|"
         r"persistent_load|pickle|exceeds system's maximum size|new frame before end|"
         r"out-of-band buffers|frame size|String is too long|checkpoint returned by torch\.save"),
    Rule("safetensors header too large", "WL115", r"header too large|HeaderTooLarge"),
    Rule("safetensors cut", "WL120", r"header too small|HeaderTooSmall|invalid header length|"
         r"InvalidHeaderLength|MetadataIncompleteBuffer|fully covered|fully cover"),
    Rule("safetensors header", "WL121", r"invalid (?:UTF-8|JSON) in header|InvalidHeader|"
         r"JSON error|JsonError|while deserializing"),
    Rule("checkpoint inconsistent", "WL147", r"out of bounds chunk|overlapping chunks|"
         r"mismatch sizes|Size mismatch between saved|out of range for storage|"
         r"full tensor shape|Not all files were processed"),
    Rule("safetensors layout", "WL122", r"InvalidOffset|TensorInvalidInfo|MisalignedSlice|"
         r"ValidationOverflow|InvalidTensorView|invalid offset|overflow|misaligned|"
         r"buffer size doesn't match|data offsets?|dtype .* shape|slice"),
    Rule("safetensors metadata", "WL123", r"valid metadata|metadata=\{"),
    Rule("shard index", "WL140", r"index\.json|weight_map|index file|checkpoint index"),
    Rule("shard missing", "WL141", r"shard"),
    Rule("consistency check", "WL190", r"Consistency check failed|should be of size"),
    Rule("dangling link", "WL150", r"in read-only mode: No such file"),
    Rule("tf only", "WL101", r"TensorFlow weights|from_tf=True|requires both PyTorch and "
         r"TensorFlow|tf_model\.h5"),
    Rule("weights missing", "WL100", r"(?:does not appear to have|no) (?:a )?files? named|"
         r"Error no file named|no (?:model )?weights|(?:could not|couldn't|can't|cannot) "
         r"(?:find|locate) (?:any )?(?:a |the )?(?:weights?|model file|checkpoint)|"
         r"Could not find '?model\.safetensors|checkpoint file weights"),
    Rule("file not found", "WL148", r"No such file or directory|Could not locate .* inside|"
         r"Unable to find .* file|(?:file|path)\b.{0,40}(?:does not exist|not found)|Cannot "
         r"find .* in hubconf"),
    Rule("config missing", "WL300", r"config\.json.*(?:not found|missing|does not exist)|"
         r"(?:could not|couldn't|can't) (?:find|locate) (?:a |the )?config"),
    Rule("config not json", "WL301", r"not a valid JSON|JSONDecodeError|Expecting value|"
         r"Expecting property name|Unterminated string"),
    Rule("no model_type", "WL303", r"Unrecognized model in|Should have a .?model_type"),
    Rule("model type unknown", "WL201", r"does not recognize this architecture|"
         r"Unrecognized (?:model|configuration) (?:type|identifier)|model type .* "
         r"(?:not|isn't) (?:found|supported|recognized)|unknown model type"),
    Rule("auto class", "WL406", r"Unrecognized configuration class|for this kind of AutoModel"),
    Rule("class not found", "WL440", r"(?:model|tokenizer|config|processor)? ?class .*"
         r"(?:does not exist|not found|could not be found)|Could not find .* in transformers|"
         r"has no attribute .* in transformers|Unrecognized processing class"),
    Rule("remote code", "WL430", r"trust_remote_code|custom code|remote code|auto_map"),
    Rule("pickled class moved", "WL232", r"Can't get attribute|transformers\.(?:modeling|"
         r"configuration|tokenization)_"),
    Rule("cve torch 2.6", "WL204", r"CVE-2025-32434|at least v2\.6"),
    Rule("zip torch too old", "WL231", r"did you mean to use torch\.jit\.load|maximum "
         r"supported version|PyTorch installation may be too old"),
    Rule("saved on cuda", "WL516", r"deserialize object on (?:a )?(?:CUDA|MPS|XPU|HPU)|"
         r"map_location|data location of"),
    Rule("state dict size", "WL310", r"size mismatch|ignore_mismatched_sizes"),
    Rule("state dict missing", "WL402", r"Missing key|missing keys|were not initialized|"
         r"newly initialized|Missing .* keys|however (?:it was|they were) not present"),
    Rule("state dict unexpected", "WL403", r"Unexpected key|unexpected keys|were not used|"
         r"not used when initializing"),
    Rule("state dict wrapper", "WL441", r"^Error\(s\) in loading (?:state_dict|weights) for",
         fallback=True),
    Rule("gamma beta", "WL235", r"gamma|will be renamed"),
    Rule("target modules", "WL462", r"[Tt]arget modules?|target_modules|not found in the base|"
         r"did not match any targeted module"),
    Rule("adapter files", "WL145", r"adapter_config\.json|adapter_model|adapter weights|"
         r"(?:can't|cannot|could not) find .*adapter|(?:can't|cannot|could not) find config",
         library="peft"),
    Rule("mean pooling", "WL450", r"mean pooling|No modules\.json|Creating a new one with"),
    # environment (what a package or the machine lacks comes before what the Hub said)
    Rule("auto class used directly", "WL560", r"is designed to be instantiated"),
    Rule("not compiled with cuda", "WL510", r"not compiled with CUDA|compiled without CUDA"),
    Rule("driver too old", "WL512", r"driver version is insufficient|driver on your system is "
         r"too old|forward compatibility|unsupported display driver|NVIDIA driver .* too old"),
    Rule("no kernel image", "WL513", r"no kernel image|CUDA capability|not compatible with the "
         r"current PyTorch installation|sm_\d"),
    Rule("gpu oom", "WL514", r"CUDA out of memory|CUDA error: out of memory|OutOfMemoryError|"
         r"CUBLAS_STATUS_ALLOC_FAILED|GPU .* out of memory"),
    Rule("device assert", "WL576", r"device-side assert"),
    Rule("no gpu", "WL511", r"no NVIDIA driver|no CUDA GPUs|no CUDA-capable|CUDA is not "
         r"available|cuda\.is_available\(\) is False|requires? (?:a )?(?:CUDA )?GPU|no GPU|"
         r"GPU is required|CUDA driver initialization failed|without (?:a )?GPU|on CPU only|"
         r"No GPU found"),
    Rule("host oom", "WL500", r"can't allocate memory|Cannot allocate memory|MemoryError|"
         r"^\s*Killed\s*$|SIGKILL|exit code 137|not enough memory|out of memory"),
    Rule("process crashed", "WL577", r"Segmentation fault|Bus error|core dumped"),
    Rule("disk full", "WL541", r"No space left|disk quota|Disk quota|not enough (?:free )?disk"),
    Rule("cache not writable", "WL520", r"Read-only file system|cache folder|not writable|"
         r"move your cache|"
         r"write (?:in|to) (?:your |the )?cache|cache directory|Permission denied: .*cache"),
    Rule("unreadable file", "WL160", r"Permission denied"),
    Rule("option removed", "WL208", r"deprecated|no longer supported|has been removed|will be "
         r"removed|is removed|not supported anymore|no longer (?:used|needed|accepted)|"
         r"legacy|renamed|in favou?r of"),
    Rule("tokenizer backend", "WL572", r"sentencepiece|SentencePiece|protobuf|tiktoken|"
         r"backend tokenizer|Couldn't instantiate the backend"),
    Rule("accelerate missing", "WL554", r"(?:requires?|install|needs?) (?:the )?`?[Aa]ccelerate|"
         r"accelerate>=|pip install (?:-U )?['\"]?accelerate"),
    Rule("quantization backend missing", "WL542",
         _INSTALL + r").*(?:" + _QUANT_LIBS + r")|(?:" + _QUANT_LIBS + r").*" + _INSTALL + r")"),
    Rule("library too old", "WL207", r">=\s*v?\d+\.\d|at least (?:version |v)\d|"
         r"greater (?:than )?or equal|"
         r"\d+\.\d+(?:\.\d+)? or (?:higher|later|newer)|upgrade|update (?:your|to)|too old|"
         r"outdated|older version|minimum (?:required )?version|"
         r"more recent|newer version|version of \w+ (?:is|must)|install the latest|"
         r"is_torch_greater|requires? \w+ version"),
    Rule("library missing", "WL561", _INSTALL + r"\w+ library)|No module named|requires? the "
         r"\w+ library|need to install|to be installed|"
         r"\w+ library|Could not import|Failed to import|Could not load module|Missing "
         r"requirements|NVRTC|Could not find module|"
         r"\w+ library|not found in your environment|install it|ImportError|(?:is|are) required"
         r" (?:for|to)|requires? .* to be installed|needs? to be installed|is not installed|"
         r"Please install|backend .* not (?:available|found)|could not (?:be )?load(?:ed)? "
         r"(?:the )?(?:library|shared|binary|native|\.so|dll)|libbitsandbytes|\.so\b|\.dll\b"),
    Rule("device unusable", "WL562", r"NVML|amdsmi|device UUID|device handle|CUDA call failed|"
         r"VISIBLE_DEVICES|Not available for CUDA|Kernel compilation failed|"
         r"invalid device ordinal|busy or unavailable|illegal "
         r"memory access|MPS .*not available|not available .*MPS|CUDA error|NCCL|"
         r"device .*(?:not available|not supported|does not exist)|Expected .*device|"
         r"Invalid device|initialization error|cuda runtime|libcuda|cudart|CUDA SETUP|"
         r"CUDA (?:version|runtime)|device_count|no device|devices? (?:is|are) not"),
    Rule("offline", "WL522", r"offline|local_files_only|outgoing traffic|in the (?:local |disk )?"
         r"cache|cached files|HF_HUB_OFFLINE|LocalEntryNotFound"),
    Rule("path sent to hub", "WL570", r"not a local folder and is not a valid model identifier|"
         r"Repo id must|HFValidationError|valid model identifier|repo.?id|repo_name|"
         r"Incorrect path_or_model_id"),
    Rule("ssl", "WL574", r"SSL|CERTIFICATE|certificate"),
    Rule("repo refused", "WL571", r"Repository Not Found|private or gated|gated|"
         r"RepositoryNotFound|\b401\b|\b403\b|not authenticated|restricted|Unauthorized|"
         r"(?<!added )(?<!special )(?<!new )\btoken\b(?! ?(?:id|index|type))|HF_TOKEN|"
         r"authenticat|cli login|auth login|hf login|access to (?:this |the )?(?:model|repo)"),
    Rule("hub unreachable", "WL573", r"couldn't connect|Connection ?[Ee]rror|Failed to establish|"
         r"name resolution|timed? ?out|Max retries|Network is unreachable|connect to"),
    Rule("hub said no", "WL564", r"Rate limited|Force download failed|github\.com|"
         r"redirects while|Revision Not Found|RevisionNotFound|Entry Not Found|"
         r"EntryNotFound|does not exist on the Hub|HTTP|[Ss]tatus code|\b5\d\d\b|rate limit|"
         r"\b429\b|Bad request|Server Error|Client Error|X-Error|revision|ETag|etag|"
         r"commit hash|metadata from the server|on the Hub|from the Hub"),
    Rule("symlinks", "WL575", r"symlink"),
    # config, tokenizer, conversion, and the loading call itself
    Rule("heads do not divide", "WL320", r"not a multiple of the number of attention heads|"
         r"divisible by (?:the )?(?:number of )?(?:attention )?heads"),
    Rule("config attribute", "WL350", r"object has no attribute"),
    Rule("config value type", "WL304", r"Field .* expected .* got"),
    Rule("tokenizer json", "WL352", r"tokenizer\.json|untagged enum"),
    Rule("tokenizer file none", "WL351", r"vocab(?:ulary)? file|vocab_file|merges_file|"
         r"Unable to load vocabulary|Can't (?:find|load) (?:a )?vocabulary"),
    Rule("tokenizer unusable", "WL209", r"[Tt]okenizer|tokeni[sz]ation|special tokens?|"
         r"added tokens?|vocab"),
    Rule("conversion failed", "WL146", r"\b[Cc]onver(?:t|sion|ted|ting)\b|gguf|GGUF|Flax|flax|"
         r"TF 2\.0|TensorFlow|tf_model|msgpack|\.ckpt|from_tf|from_flax|rename|renaming"),
    Rule("quantization settings", "WL563", r"quantiz|[Qq]uant|bits|group_size|bnb|4-?bit|"
         r"8-?bit|fp8|int8|int4|nf4|awq|gptq|dequant|compute_dtype|llm_int8|"
         r"modules_to_not_convert|skip_modules"),
    Rule("config rejected", "WL407", r".", path=r"models/[^/]+/configuration_|"
         r"configuration_utils|modeling_rope_utils"),
    Rule("arguments", "WL560", r"is designed to be instantiated|for a second time|`\w+|"
         r"argument|parameter|\bpass(?:ed|ing)?\b|specify|must|"
         r"should|can(?:no|')t|not supported|not compatible|only supported|expected|invalid|"
         r"Invalid|one of|either|both|Unknown|unknown|not allowed|not implemented|NotImplemented|"
         r"requires|only|unsupported|Unsupported|mutually|incompatible|not possible|instead|"
         r"expect|does not|doesn't|is not|are not|must|needs?|set|provide|got|received|"
         r"found|type|dtype|device_map|max_memory|offload"),
)


@dataclass(frozen=True)
class Mapping:
    """What one template means, and which rule decided it."""

    code: str | None  # None: not about loading (or loading-related and not mapped)
    decided_by: str
    loading: bool
    fallback: bool = False


def map_templates(entries: dict[tuple[str, str, str], Entry],
                  overrides: dict[str, dict[str, str]]) -> dict[tuple[str, str, str], Mapping]:
    """Each template's code: the table's hand rows first (they read the rendered message, so
    hand rows and mined templates never disagree), then MAPPING_RULES, then the overrides."""
    hand = hand_rows()
    from whyload.knowledge.mined_error_texts import message_line, recognisable, render

    result: dict[tuple[str, str, str], Mapping] = {}
    for key, entry in entries.items():
        text = literal_text(entry.template)
        loading = is_loading_scope(entry) or entry.library in ("os", "torch-native",
                                                               "tokenizers-native")
        override = overrides.get(override_key(entry))
        if override is not None:
            code = override.get("code") or None
            result[key] = Mapping(code, "override: " + override.get("why", ""),
                                  loading=bool(code),
                                  fallback=bool(override.get("fallback")))
            continue
        hit = hand_code(hand, entry.exception, render(entry.template))
        if hit is not None:
            result[key] = Mapping(hit[0], "hand row", loading=True, fallback=hit[1])
            continue
        read, reported = read_by_loading_report(entry.exception, render(entry.template))
        if read:
            rule = next((r for r in MAPPING_RULES if re.search(r.pattern, text)), None)
            result[key] = Mapping(reported or (rule.code if rule else "WL402"), LOADING_REPORT,
                                  loading=True)
            continue
        if not recognisable(message_line(entry.template)):  # nothing to recognise it by
            result[key] = Mapping(None, "no literal text", loading=False)
            continue
        rule = next((r for r in MAPPING_RULES
                     if re.search(r.pattern, text) and (not r.library or r.library == entry.library)
                     and (not r.path or any(re.search(r.path, p) for p in entry.paths))), None)
        if rule is not None and (loading or rule.code not in _LOOSE_CODES):
            result[key] = Mapping(rule.code, "rule: " + rule.name, loading=True,
                                  fallback=rule.fallback)
        else:
            result[key] = Mapping(None, "unmapped" if loading else "outside loading",
                                  loading=loading)
    for _ in range(3):
        if not same_text_as_mapped(entries, result):
            break
    return result


def distinct_lines(entries: dict[tuple[str, str, str], Entry],
                   result: dict[tuple[str, str, str], Mapping]) -> dict[tuple[str, str, str], str]:
    """For mapped templates whose line to match by is shared with a template of another code
    ("Error(s) in loading state_dict for {name}:" opens a bare wrapper and safetensors' list
    of missing keys), another line of theirs that tells them apart, when they have one."""
    from whyload.knowledge.mined_error_texts import message_line, recognisable

    codes_of_line: dict[str, set[str]] = {}
    for key, entry in entries.items():
        if result[key].code:
            codes_of_line.setdefault(message_line(entry.template), set()).add(
                str(result[key].code))
    chosen: dict[tuple[str, str, str], str] = {}
    for key, entry in entries.items():
        line = message_line(entry.template)
        if not result[key].code or len(codes_of_line.get(line, ())) < 2:
            continue
        others = [x for x in entry.template.split("\n")
                  if x != line and recognisable(x) and x not in codes_of_line]
        if others:  # the first: the line that follows the shared one names the cause
            chosen[key] = others[0]
    return chosen


def same_text_as_mapped(entries: dict[tuple[str, str, str], Entry],
                        result: dict[tuple[str, str, str], Mapping],
                        lines: dict[tuple[str, str, str], str] | None = None) -> int:
    """Give a template without a code the code explain gives its message all the same: a log
    line cannot tell which library printed a text that a mapped template also matches (the
    same check in another library, a generic wording). Returns how many changed."""
    from whyload.knowledge.error_texts import HAND_ROWS, mined_rows
    from whyload.knowledge.mined_error_texts import Template, as_log, recognisable, render
    from whyload.logs import match
    from whyload.logs.lines import text_lines

    mapped = tuple(Template(library=e.library, exception=e.exception, template=e.template,
                            code=result[k].code, fallback=result[k].fallback, source=e.source,
                            first="", last="", decided_by="", warning=is_warning(e.exception),
                            match_line=(lines or {}).get(k, ""))
                   for k, e in entries.items() if result[k].code)
    table = (*HAND_ROWS, *mined_rows(tuple(t for t in mapped if recognisable(t.line))))
    saved, match.ERROR_TEXTS = match.ERROR_TEXTS, table  # type: ignore[assignment]
    changed = 0
    try:
        for key, entry in entries.items():
            if result[key].code or result[key].decided_by == "no literal text":
                continue
            found = match.find_matches(text_lines(as_log(entry.exception,
                                                         render(entry.template))))
            if found:
                row = found[0].row
                result[key] = Mapping(row.code, f"same text as a mapped template ({row.code})",
                                      loading=True, fallback=row.fallback)
                changed += 1
    finally:
        match.ERROR_TEXTS = saved
    return changed


# codes whose rules are broad: they map a template only where loading runs
_LOOSE_CODES = frozenset({"WL560", "WL207", "WL208", "WL209", "WL561", "WL563",
                          "WL564", "WL407", "WL562", "WL146", "WL571", "WL522", "WL141", "WL140",
                          "WL132", "WL130", "WL122", "WL121", "WL402", "WL403", "WL235",
                          "WL462", "WL573", "WL160", "WL520", "WL350", "WL351", "WL352",
                          "WL440", "WL430", "WL570", "WL574", "WL500", "WL100", "WL300"})


def is_warning(exception: str) -> bool:
    from whyload.knowledge.mined_error_texts import is_warning as warned

    return warned(exception)


LOADING_REPORT = "loading report reader"  # = mined_error_texts.DECIDED_ELSEWHERE


def override_key(entry: Entry) -> str:
    return f"{entry.library}|{entry.exception}|{entry.template}"


def hand_rows() -> tuple[object, ...]:
    sys.path.insert(0, str(ROOT / "src"))
    from whyload.knowledge.error_texts import HAND_ROWS

    return HAND_ROWS


def hand_code(rows: tuple[object, ...], exception: str, message: str) -> tuple[str, bool] | None:
    """The code explain's matcher gives the message (as a log shows it) with the hand rows
    alone, and whether it is a fallback; None when no hand row recognises it."""
    from whyload.knowledge.mined_error_texts import as_log
    from whyload.logs import match
    from whyload.logs.lines import text_lines

    saved = match.ERROR_TEXTS
    match.ERROR_TEXTS = rows  # type: ignore[assignment]
    try:
        found = match.find_matches(text_lines(as_log(exception, message)))
    finally:
        match.ERROR_TEXTS = saved
    if found:
        return found[0].row.code, found[0].row.fallback
    return None


def read_by_loading_report(exception: str, message: str) -> tuple[bool, str | None]:
    """Whether explain's reader of transformers' loading report reads the message ("Some
    weights of ... were not initialized ..."), and the code it gives: that reader, not a
    template, decides such messages (from the key names they list)."""
    from whyload.knowledge.mined_error_texts import as_log
    from whyload.logs.lines import text_lines
    from whyload.logs.loading_report import (  # the sentences that reader starts a report on
        _V3_MISSING,
        _V4_MISSING,
        _V4_UNUSED,
        _V5_HEADER,
        _V5_RAISED,
        loading_findings,
        read_loading_reports,
    )

    lines = text_lines(as_log(exception, message))
    read = any(p.search(line.text) for p in (_V3_MISSING, _V4_MISSING, _V4_UNUSED, _V5_HEADER)
               for line in lines) or any(_V5_RAISED in line.text for line in lines)
    found = [f for r in read_loading_reports(lines) for f in loading_findings(r)]
    return read, (found[0].code if found else None)


# --- output -------------------------------------------------------------------------------------

def table_rows(entries: dict[tuple[str, str, str], Entry],
               mappings: dict[tuple[str, str, str], Mapping],
               versions: dict[str, list[str]],
               lines: dict[tuple[str, str, str], str]) -> list[dict[str, object]]:
    """The committed table: one row per distinct template, what it means and where it came
    from. Templates with no literal text (a message built elsewhere) are only counted."""
    rows: list[dict[str, object]] = []
    for key, entry in sorted(entries.items()):
        mapping = mappings[key]
        if mapping.decided_by == "no literal text":
            continue
        order = versions.get(entry.library, [])
        seen = sorted(entry.versions, key=lambda v: order.index(v) if v in order else 0)
        row: dict[str, object] = {"library": entry.library, "first": seen[0], "last": seen[-1],
                                  "exception": entry.exception, "template": entry.template,
                                  "source": entry.source, "sites": sum(entry.sites.values())}
        if mapping.code:
            row["code"] = mapping.code
            if mapping.fallback:
                row["fallback"] = True
        else:
            row["not_loading"] = not mapping.loading
            if mapping.loading:
                row["unmapped"] = True
        row["decided_by"] = mapping.decided_by
        if key in lines:
            row["line"] = lines[key]  # the line to match by (its first is another code's too)
        rows.append(row)
    return rows


def coverage_markdown(entries: dict[tuple[str, str, str], Entry],
                      mappings: dict[tuple[str, str, str], Mapping],
                      versions: dict[str, list[str]]) -> str:
    """docs/error-coverage.md: per library and release, raise sites found, loading-related,
    mapped to a code."""
    lines = ["# Error texts mined from the loading stack", "",
             "Generated by `make errors` (scripts/mine_error_texts.py): every raise site's message "
             "template (and the logger/warnings calls that report silent damage) in the releases "
             "below, read with `ast` from the released wheels; safetensors' Rust messages from "
             "its git tags; torch's C++, CUDA, CPython and OS texts from NATIVE_MESSAGES. A site "
             "is *loading-related* when it lies in the files and functions loading runs "
             "(LOADING_SCOPES) or a code rule recognises its text; *mapped* when it has a cause "
             "code. Sites whose message is built elsewhere (no literal text to recognise) are "
             "counted apart.", "",
             "| library | release | raise sites | no literal text | loading-related | mapped "
             "| mapped % |", "|---|---|---:|---:|---:|---:|---:|"]
    totals = [0, 0, 0, 0]
    for library, releases in versions.items():
        for version in releases:
            found = dynamic = loading = mapped = 0
            for key, entry in entries.items():
                if entry.library != library or version not in entry.sites:
                    continue
                count = entry.sites[version]
                mapping = mappings[key]
                found += count
                if mapping.decided_by == "no literal text":
                    dynamic += count
                elif mapping.loading:
                    loading += count
                    mapped += count if mapping.code else 0
            share = f"{100 * mapped / loading:.1f}" if loading else "-"
            lines.append(f"| {library} | {version} | {found} | {dynamic} | {loading} | {mapped} "
                         f"| {share} |")
            for index, value in enumerate((found, dynamic, loading, mapped)):
                totals[index] += value
    share = f"{100 * totals[3] / totals[2]:.1f}" if totals[2] else "-"
    lines.append(f"| **all** | | {totals[0]} | {totals[1]} | {totals[2]} | {totals[3]} | "
                 f"**{share}** |")
    codes: dict[str, int] = {}
    for mapping in mappings.values():
        if mapping.code:
            codes[mapping.code] = codes.get(mapping.code, 0) + 1
    lines += ["", "Distinct templates per code:", "",
              ", ".join(f"{code} {count}" for code, count in sorted(codes.items())), ""]
    unmapped = sorted(f"- {e.library} `{e.exception}`: {e.template[:120]!r} ({e.source})"
                      for k, e in entries.items() if mappings[k].decided_by == "unmapped")
    lines += [f"Loading-related templates without a code: {len(unmapped)}", "", *unmapped[:200],
              ""]
    return "\n".join(lines)


def write_table(rows: list[dict[str, object]]) -> None:
    """The table as JSON Lines (a header, then the rows with a code, then the others, so that
    explain reads only what it matches), gzipped with a fixed mtime so that regenerating it
    changes no byte."""
    ordered = sorted(rows, key=lambda r: not r.get("code"))
    header = {"generated_by": "scripts/mine_error_texts.py (make errors)",
              "rows": len(rows), "mapped": sum(1 for r in rows if r.get("code"))}
    data = "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n"
                   for r in (header, *ordered)).encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=9) as archive:
        archive.write(data)
    OUTPUT.write_bytes(buffer.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offline", action="store_true", help="use only the cached wheels")
    parser.add_argument("--download-only", action="store_true")
    args = parser.parse_args(argv)
    if args.download_only:
        for release in RELEASES:
            wheel = wheel_of(release, offline=args.offline)
            print(f"{release.dist} {release.version}: {wheel.name if wheel else 'MISSING'}")
        return 0
    entries, versions = collect(offline=args.offline)
    overrides = json.loads(OVERRIDES.read_text()) if OVERRIDES.exists() else {}
    mappings = map_templates(entries, overrides.get("templates", {}))
    lines = distinct_lines(entries, mappings)
    for _ in range(3):  # the lines changed: what their templates now match
        if not same_text_as_mapped(entries, mappings, lines):
            break
    rows = table_rows(entries, mappings, versions, lines)
    write_table(rows)
    COVERAGE.write_text(coverage_markdown(entries, mappings, versions))
    mapped = sum(1 for r in rows if r.get("code"))
    print(f"{len(entries)} templates, {len(rows)} stored, {mapped} mapped -> {OUTPUT.name}, "
          f"{COVERAGE.name}")
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
