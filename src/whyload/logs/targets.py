"""Model locations a log names (a local folder or file, a hub id), kept when they exist here."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from pathlib import Path

from whyload.logs.lines import Line

# the code a user printed beside the error: `Class.from_pretrained("org/name")`,
# torch.load of "x.bin", pipeline(model=...), SentenceTransformer(...),
# hf_hub_download(repo_id=...): what it loads, and into which class
_ARGUMENT = (r"\s*(?:(?:pretrained_model_name_or_path|model_name_or_path|model|repo_id|f|path)"
             r"\s*=\s*)?")
_CALLS = (
    re.compile(r"(?:(?P<cls>[A-Za-z_]\w*)\.)?from_pretrained\(" + _ARGUMENT
               + r"[rfb]?[\"'](?P<target>[^\"']+)[\"']"),
    re.compile(r"(?P<cls>torch\.load|load_file|safe_open|load_state_dict|SentenceTransformer"
               r"|CrossEncoder|snapshot_download|hf_hub_download|pipeline)\("
               r"(?:\s*[\"'][\w-]+[\"']\s*,)?" + _ARGUMENT
               + r"[rfb]?[\"'](?P<target>[^\"']+)[\"']"),
)
_NAMED = (
    *_CALLS,
    re.compile(r"LOAD REPORT from: (\S.*?)\s*$"),
    re.compile(r"model checkpoint at (\S+?)(?: and are| were|\s*$)"),
    re.compile(r"found in directory (\S+?)\.?\s*$"),
    re.compile(r"Unrecognized model in (\S+?)\.? "),
    re.compile(r"(?:for|at|load|path|model|directory) [\"'`]([^\"'`\s]+)[\"'`]"),
    re.compile(r"[\"'<]((?:/|\./|\.\./|~/)[^\"'<>\s]+)[\"'>]"),
    re.compile(r"(?:from|at|in|directory|path|model|loading|Loading)[:=]?\s+((?:/|\./|~/)"
               r"[^\s\"'<>]+)"),
    re.compile(r"[\"'<]([A-Za-z]:\\\\?[^\"'<>]+)[\"'>]"),  # a Windows path, quoted
    # transformers' and huggingface_hub's messages that name what they could not load
    re.compile(r"(?:^|Error: )([^\s'\"]+) does not appear to have (?:a file|files) named"),
    re.compile(r"Can't load (?:the model|weights|config|the configuration|tokenizer) for "
               r"'([^']+)'"),
    re.compile(r"'([^']+)' is not a local folder and is not a valid model identifier"),
    re.compile(r"path_or_model_id: '([^']+)'"),
    re.compile(r"huggingface\.co/(?:api/models/)?([\w.\-]+/[\w.\-]+)/(?:resolve|revision|tree)/"),
)
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]{0,95}(?:/[\w.\-]{1,96})?$")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack")
MAX_CANDIDATES = 32
_NOT_MODELS = (".py", ".pyc", ".so", ".log", ".txt", ".html")
MAX_LISTED = 500  # entries of a named folder looked at for weights


def named_calls(lines: Iterable[Line]) -> list[tuple[str, str]]:
    """(what is loaded, the class or function that loads it) for each loading call in the code
    printed in the log (a traceback's source lines, a notebook cell), in order."""
    calls: list[tuple[str, str]] = []
    for line in lines:
        if "(" not in line.text:
            continue
        for pattern in _CALLS:
            for found in pattern.finditer(line.text):
                target = found["target"].rstrip(".,:;")
                if not target.endswith(_NOT_MODELS) and len(calls) < MAX_CANDIDATES:
                    calls.append((target, found["cls"] or "from_pretrained"))
    return calls


def loadable_class(name: str | None) -> str | None:
    """The transformers class `check` should predict the load of, when the printed code names
    one (`AutoModelForSequenceClassification.from_pretrained(...)`); None for a plain loading
    function (torch.load) or a class of another library."""
    if name is None or not name[:1].isupper() or name in ("SentenceTransformer", "CrossEncoder"):
        return None
    is_model = name.startswith("AutoModel") or "For" in name or name.endswith("Model")
    return name if is_model else None


def is_hub_id(candidate: str) -> bool:
    """Whether `candidate` reads as a hub repo id ("org/name" or a legacy "bert-base-uncased")."""
    return (not candidate.startswith((".", "/", "~")) and _HUB_ID.match(candidate) is not None
            and not candidate.endswith((*WEIGHT_SUFFIXES, *_NOT_MODELS, ".json")))


def remote_target(candidate: str) -> str | None:
    """A hub id is handed to `check` as is: it resolves it in the local cache, and explain's
    --remote retries it on the Hub. Returns the target to check."""
    return candidate if is_hub_id(candidate) else None


def named_locations(lines: Iterable[Line]) -> list[str]:
    """The strings that look like model locations, in the order the log names them."""
    seen: dict[str, None] = {}
    for line in lines:
        for pattern in _NAMED:
            for found in pattern.finditer(line.text):
                candidate = (found.group("target") if "target" in pattern.groupindex
                             else found.group(1)).rstrip(".,:;")
                if not candidate.endswith(_NOT_MODELS):
                    seen.setdefault(candidate, None)
                if len(seen) >= MAX_CANDIDATES:
                    return list(seen)
    return list(seen)


def model_location(candidate: str) -> str | None:
    """The folder or weights file to check for `candidate`, when it exists here; a hub id is
    returned as is (the caller resolves it in the cache)."""
    path = Path(candidate).expanduser()
    try:
        if path.is_dir():
            entries = itertools.islice(path.iterdir(), MAX_LISTED)
            if (path / "config.json").is_file() or any(
                    p.name.endswith(WEIGHT_SUFFIXES) for p in entries):
                return str(path)
            return None
        if path.is_file() and (path.name.endswith(WEIGHT_SUFFIXES)
                               or path.name == "config.json"):
            if (path.parent / "config.json").is_file():
                return str(path.parent)
            return str(path)
    except OSError:
        return None
    return remote_target(candidate)
