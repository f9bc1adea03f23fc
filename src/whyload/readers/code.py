"""Python files shipped beside the weights (what `auto_map` makes transformers import), read as
source for the constructs a reviewer should look at. Parsed with `ast`, never imported, never run;
a file that does not parse is searched as text instead."""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_CODE_BYTES = 2 << 20
MAX_CONCERNS = 50

# construct -> why a reviewer should look at it (the text fallback)
RISKY = {
    "network": re.compile(r"\b(requests|urllib|httpx|socket|aiohttp|http\.client)\b"),
    "subprocess": re.compile(r"\b(subprocess|os\.system|os\.popen|pty\.spawn)\b"),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec|compile)\s*\("),
    "dynamic import": re.compile(r"\b(__import__|importlib\.import_module)\b"),
    "file writes": re.compile(
        r"open\([^)]*['\"][wa]b?['\"]|\.write_(text|bytes)\(|shutil\.(rmtree|move)"),
    "pickle": re.compile(r"\b(pickle\.loads?|torch\.load)\("),
}

NETWORK_MODULES = ("requests", "urllib", "httpx", "socket", "aiohttp", "http", "ftplib",
                   "smtplib", "paramiko", "websocket", "websockets")
# dotted call (or prefix ending in ".") -> construct
CALLS = {
    "os.system": "subprocess", "os.popen": "subprocess", "os.exec": "subprocess",
    "os.spawn": "subprocess", "subprocess.": "subprocess", "pty.spawn": "subprocess",
    "commands.": "subprocess", "eval": "eval/exec", "exec": "eval/exec", "compile": "eval/exec",
    "__import__": "dynamic import", "importlib.import_module": "dynamic import",
    "shutil.rmtree": "file writes", "shutil.move": "file writes", "shutil.copy": "file writes",
    "os.remove": "file writes", "os.unlink": "file writes", "os.rename": "file writes",
    "os.chmod": "file writes", "pickle.load": "pickle", "pickle.loads": "pickle",
    "torch.load": "pickle", "dill.load": "pickle", "marshal.loads": "pickle",
    "hf_hub_download": "downloads", "snapshot_download": "downloads",
    "huggingface_hub.hf_hub_download": "downloads", "torch.hub.load": "downloads",
    "torch.hub.download_url_to_file": "downloads", "wget.download": "downloads",
    "urllib.request.urlretrieve": "downloads", "ctypes.": "native code",
}


@dataclass(frozen=True)
class Concern:
    """One line of custom code worth a reviewer's look."""

    what: str  # network, subprocess, eval/exec, dynamic import, file writes, pickle, downloads
    line: int
    code: str  # the source line, stripped and cut to 120 characters


@dataclass(frozen=True)
class CodeFile:
    name: str
    size: int
    imports: tuple[str, ...]
    risky: dict[str, int]  # construct -> first line number
    concerns: tuple[Concern, ...] = ()  # every line worth a look (bounded), in order
    parsed: bool = True  # False: not valid Python here, searched as text


def read_code(root: Path | Callable[[str], BinaryIO], name: str, size: int) -> CodeFile:
    """`root` is the folder, or what opens a file by name (a remote source)."""
    if size > MAX_CODE_BYTES:
        return CodeFile(name, size, (), {"too large to review here": 0}, parsed=False)
    try:
        if callable(root):
            with root(name) as f:  # decoded as read_text does: universal newlines
                raw = f.read(MAX_CODE_BYTES + 1).decode("utf-8", errors="replace")
            text = raw.replace("\r\n", "\n").replace("\r", "\n")
        else:
            text = (root / name).read_text("utf-8", errors="replace")
    except OSError:
        return CodeFile(name, size, (), {}, parsed=False)
    lines = text.splitlines()
    try:
        tree = ast.parse(text, filename=name)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _read_as_text(name, size, text, lines)
    try:
        imports, concerns = _review(tree, lines)
    except RecursionError:
        return _read_as_text(name, size, text, lines)
    risky: dict[str, int] = {}
    for c in concerns:
        risky.setdefault(c.what, c.line)
    return CodeFile(name, size, imports, risky, concerns[:MAX_CONCERNS])


def _read_as_text(name: str, size: int, text: str, lines: list[str]) -> CodeFile:
    imports = sorted(set(re.findall(r"^\s*(?:from|import)\s+([\w.]+)", text, re.M)))
    concerns: list[Concern] = []
    for n, line in enumerate(lines, 1):
        for what, pattern in RISKY.items():
            if pattern.search(line) and len(concerns) < MAX_CONCERNS:
                concerns.append(Concern(what, n, line.strip()[:120]))
    risky: dict[str, int] = {}
    for c in concerns:
        risky.setdefault(c.what, c.line)
    return CodeFile(name, size, tuple(imports), risky, tuple(concerns), parsed=False)


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _call_kind(name: str, aliases: dict[str, str]) -> str | None:
    head, _, rest = name.partition(".")
    full = f"{aliases[head]}.{rest}".rstrip(".") if head in aliases else name
    for candidate in (full, name):
        for pattern, what in CALLS.items():
            prefix = pattern.endswith(".") or pattern in ("os.exec", "os.spawn")
            if candidate.startswith(pattern) if prefix else candidate == pattern:
                return what
        if candidate.split(".", 1)[0] in NETWORK_MODULES and "." in candidate:
            return "network"
    return None


def _writes_file(call: ast.Call) -> bool:
    """open(path, 'w'...) / open(path, mode='a') / Path.write_text / write_bytes."""
    mode: ast.expr | None = call.args[1] if len(call.args) > 1 else None
    for kw in call.keywords:
        if kw.arg == "mode":
            mode = kw.value
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(
        m in mode.value for m in "wax+")


def _review(tree: ast.AST, lines: list[str]) -> tuple[tuple[str, ...], tuple[Concern, ...]]:
    imports: set[str] = set()
    aliases: dict[str, str] = {}  # local name -> module or module.attr it stands for
    concerns: list[Concern] = []

    def note(what: str, node: ast.AST) -> None:
        line = getattr(node, "lineno", 0)
        text = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
        concerns.append(Concern(what, line, text))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                imports.add(a.name)
                if a.asname:
                    aliases[a.asname] = a.name
                else:
                    aliases[a.name.split(".", 1)[0]] = a.name.split(".", 1)[0]
                if a.name.split(".", 1)[0] in NETWORK_MODULES:
                    note("network", node)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imports.add(node.module)
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
            if node.level == 0 and node.module.split(".", 1)[0] in NETWORK_MODULES:
                note("network", node)
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            kind = _call_kind(name, aliases)
            if kind is None and name.split(".")[-1] in ("write_text", "write_bytes"):
                kind = "file writes"
            if kind is None and name in ("open", "io.open", "os.open") and _writes_file(node):
                kind = "file writes"
            if kind is not None:
                note(kind, node)
    concerns.sort(key=lambda c: (c.line, c.what))
    return tuple(sorted(imports)), tuple(concerns)
