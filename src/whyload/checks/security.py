"""Security (WL6xx): pickles that would run code when loaded, custom code that from_pretrained would
import. The pickle is disassembled, never loaded; the code is parsed, never imported.

Which code says what: WL210 (version) is the loading fact — torch.load with weights_only=True
refuses the file. WL6xx is the security fact — loading it without that guard would run code, or
runs something whyload does not know to be safe. A file that would run code gets WL600 only.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from whyload.checks.file_roles import download_fix
from whyload.checks.registration import Problem, check
from whyload.knowledge.pickle_globals import danger, known_data, not_allowed
from whyload.knowledge.torch_pickle import canonical
from whyload.report import Category, Effect, JSONValue, Severity

if TYPE_CHECKING:
    from whyload.readers.code import CodeFile
    from whyload.readers.torch import PickleCall, TorchCheckpoint
    from whyload.snapshot import FileFacts, Snapshot

SECURITY = Category.SECURITY
# calls that only reach another callable; the title names the call they lead to
PLUMBING = frozenset({"builtins.getattr", "builtins.__import__", "importlib.import_module"})
SAFE_FIX = ("do not load {file}; get the weights from a trusted source, as safetensors (which "
            "cannot run code)")


def _pickles(snap: Snapshot) -> Iterator[tuple[FileFacts, TorchCheckpoint]]:
    for f in snap.files.values():
        if f.torch is not None:
            yield f, f.torch


def _call_text(call: PickleCall) -> str:
    args = ", ".join(repr(a) if not (isinstance(a, str) and a.startswith("<")) else a
                     for a in call.args)
    return f"{call.target}({args})"[:300]


def _all_globals(t: TorchCheckpoint) -> list[str]:
    names = list(t.globals)
    for hidden in t.hidden_pickles:
        names.extend(g for g in hidden.globals if g not in names)
    return names


def _all_calls(t: TorchCheckpoint) -> list[PickleCall]:
    return [*t.calls, *(c for h in t.hidden_pickles for c in h.calls)]


def dangerous_globals(t: TorchCheckpoint) -> dict[str, str]:
    """Globals (canonical names) of the pickle, its nested pickles and its hidden zip members
    that run code or reach the system, with what each does."""
    out: dict[str, str] = {}
    for name in not_allowed(_all_globals(t)):
        what = danger(name)
        if what is not None:
            out.setdefault(name, what)
    for call in _all_calls(t):
        what = danger(call.target)
        if what is not None:
            out.setdefault(call.target, what)
    return out


@check("WL600", "pickle-runs-code", SECURITY)
def pickle_runs_code(snap: Snapshot) -> Iterator[Problem]:
    """A pickle that would run code when loaded

    Pickle files (.bin, .pt, .pth, .ckpt, .pkl) call functions while they are loaded. This one
    calls something that runs commands, evaluates code, imports modules or reaches files or the
    network (os.system, subprocess, eval, getattr, __import__, ...), or a name it assembles at run
    time that can't be resolved. torch >= 2.6 refuses it with weights_only=True; with
    weights_only=False, an older torch, pickle.load or another tool, loading it executes the
    call. Treat the file as hostile.
    """
    for f, t in _pickles(snap):
        dangerous = dangerous_globals(t)
        if not dangerous:
            continue
        calls = [c for c in _all_calls(t) if danger(c.target) is not None]
        payload = [c for c in calls if canonical(c.target) not in PLUMBING] or calls
        shown = [_call_text(c) for c in payload[:10]]
        carriers = [h for h in t.hidden_pickles if any(danger(g) for g in h.globals)]
        hidden = sorted({c.member for c in calls if c.member} |
                        {h.member for h in carriers if h.where != "stream"})
        streams = [h.member for h in carriers if h.where == "stream"]
        where = []
        if any(c.depth for c in calls) or t.nested_pickles:
            where.append(f"inside {t.nested_pickles} nested pickle(s)")
        if hidden:
            where.append(f"in {_member_words(t)}: {', '.join(hidden[:3])}")
        if streams:
            where.append(f"in {', '.join(streams[:3])} (a loader reads every pickle in turn)")
        damage = [f"{d.member}: {d.what}" for d in t.damage]
        evidence: dict[str, JSONValue] = {
            "file": f.name, "globals": dict(list(dangerous.items())[:20]),
            "calls": [{"call": _call_text(c), "opcode": c.opcode, "nested_depth": c.depth,
                       "member": c.member} for c in calls[:20]],
        }
        if hidden:
            evidence["hidden_members"] = hidden
        if streams:
            evidence["other_pickles"] = streams
        if damage:
            evidence["zip_damage"] = damage[:10]
            where.append("the zip is damaged (" + "; ".join(damage[:2]) + ")" + (
                ", which torch.load reads past" if all(d.torch_reads for d in t.damage) else
                ", and torch.load refuses it, but the bytes are a pickle other loaders run"))
        if t.pickle_error:
            evidence["walk_stopped"] = t.pickle_error
        needed = snap.in_plan(f.name) or snap.plan.format is None
        yield Problem(
            severity=Severity.ERROR, effect=Effect.RAISES if needed else Effect.NONE, file=f.name,
            title=f"{f.name} would run code when loaded: "
            + (", ".join(shown[:2]) if shown else ", ".join(list(dangerous)[:3])),
            detail="Loading this pickle "
            + "; ".join(f"calls {name} ({what})" for name, what in list(dangerous.items())[:5])
            + (f" — {'; '.join(where)}" if where else "")
            + ". torch >= 2.6 refuses it (weights_only=True); with weights_only=False, an older "
            "torch or pickle.load, it runs." + (" The pickle stops early, after the call."
                                                if t.pickle_error else ""),
            evidence=evidence,
            fix=SAFE_FIX.format(file=f.name),
        )


@check("WL601", "pickle-not-known-safe", SECURITY)
def pickle_not_known_safe(snap: Snapshot) -> Iterator[Problem]:
    """A pickle that names globals whyload does not know to be safe

    The global is outside torch's weights_only allowlist and is not one of the data classes real
    training checkpoints hold (numpy values, argparse.Namespace, classes of torch, transformers
    or Lightning). Unpickling imports it and may call it with the file's arguments: what that
    does depends on the class. Not known safe is not known hostile; read what it is first.
    """
    for f, t in _pickles(snap):
        if dangerous_globals(t):
            continue  # WL600 says more
        called = {canonical(c.target) for c in _all_calls(t)}
        unknown = [g for g in not_allowed(_all_globals(t))
                   if known_data(g, called=g in called) is None]
        if not unknown:
            continue
        calls = [_call_text(c) for c in _all_calls(t) if c.target in unknown][:10]
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE, file=f.name,
            title=f"{f.name} pickles globals not known to be safe: {', '.join(unknown[:3])}",
            detail="Unpickling imports these and may call them with arguments from the file; "
            "they are outside torch's weights_only allowlist and not known data classes"
            + (f". Calls: {'; '.join(calls[:3])}" if calls else "") + ".",
            evidence={"file": f.name, "globals": unknown[:50], "calls": calls},
            fix=f"find out what {unknown[0]} is before loading {f.name} with "
            "weights_only=False; prefer a safetensors copy",
        )


@check("WL602", "pickle-hidden-in-zip", SECURITY)
def pickle_hidden_in_zip(snap: Snapshot) -> Iterator[Problem]:
    """A pickle in a zip member other than data.pkl

    torch.load unpickles only <archive>/data.pkl; a second pickle under another name is never
    read by torch but is by whatever extracts and loads it (np.load(allow_pickle=True) for the
    object arrays of an .npz). Real checkpoints don't have one.
    """
    for f, t in _pickles(snap):
        quiet = [h for h in t.hidden_pickles if not any(danger(g) for g in h.globals)
                 and h.where == "member"]
        if not quiet or dangerous_globals(t) or t.missing_records or t.layout != "zip":
            continue  # WL600 names the members that run code
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE, file=f.name,
            title=f"{f.name} hides a pickle in {', '.join(h.member for h in quiet[:3])}",
            detail="torch.load never reads it; pickle.load or np.load(allow_pickle=True) do, and "
            "it names "
            + ", ".join(sorted({g for h in quiet for g in h.globals})[:10]) + ".",
            evidence={"file": f.name, "members": [h.member for h in quiet[:20]],
                      "globals": sorted({g for h in quiet for g in h.globals})[:50]},
            fix=f"ask where {f.name} came from; re-save only its tensors as safetensors",
        )


def _member_words(t: TorchCheckpoint) -> str:
    if t.layout == "7z":
        return "the archive's member(s)"
    if t.layout == "tar":
        return ("the tar's member(s) (torch.load unpickles sys_info, storages, tensors and "
                "pickle of its oldest, tar format)")
    if t.missing_records:
        return "zip member(s)"
    return "zip member(s) torch never reads"


@check("WL603", "pickle-not-shown-safe", SECURITY)
def pickle_not_shown_safe(snap: Snapshot) -> Iterator[Problem]:
    """A pickle the security scan could not read to its end

    A stream the walker had to stop in (a bound reached, an opcode it does not know, bytes that
    are no pickle), a zip member it could not unpack, an archive it could not open: what was
    read names nothing that runs code, but the rest was not seen. Not shown safe is not clean.
    """
    for f, t in _pickles(snap):
        if dangerous_globals(t) or t.frame_violation:
            continue  # WL600 and WL604 say more
        reasons = list(t.not_inspected)
        if t.pickle_error and not t.truncated and not any(t.pickle_error in r for r in reasons):
            reasons.append(f"the pickle walk stopped: {t.pickle_error}")
        if not reasons:
            continue
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE, file=f.name,
            title=f"{f.name} is not shown safe: " + reasons[0][:160],
            detail="The security scan could not read all of it: " + "; ".join(reasons[:5])
            + ". What was read calls nothing known to run code; what was not read could.",
            evidence={"file": f.name, "not_inspected": reasons[:20], "layout": t.layout},
            fix=f"do not load {f.name} until it is inspected whole; ask for a safetensors copy"
            + (" (pip install whyload[archives] reads 7z archives)" if t.layout == "7z" and
               any("py7zr" in r for r in reasons) else ""),
        )


@check("WL604", "pickle-frame-mismatch", SECURITY)
def pickle_frame_mismatch(snap: Snapshot) -> Iterator[Problem]:
    """A pickle whose FRAME lengths disagree with the opcodes inside them

    Protocol 4 and 5 pickles group opcodes into frames of a declared length. The pickler never
    lets an opcode cross a frame's end; a crafted file does, and then CPython's unpickler reads
    different opcodes than a sequential reader such as pickletools or a scanner (cpython issue
    154848): a call the scanner saw as bytes runs. Treat the file as hostile.
    """
    for f, t in _pickles(snap):
        if t.frame_violation is None:
            continue
        needed = snap.in_plan(f.name) or snap.plan.format is None
        yield Problem(
            severity=Severity.ERROR, effect=Effect.RAISES if needed else Effect.NONE,
            file=f.name,
            title=f"{f.name} hides opcodes behind a FRAME length: {t.frame_violation}"[:200],
            detail=f"{t.frame_violation}. CPython executes what the frame hides while scanners "
            "read it as data; no well-formed pickle does this.",
            evidence={"file": f.name, "frame_violation": t.frame_violation},
            fix=SAFE_FIX.format(file=f.name),
        )


@check("WL135", "zip-damaged", Category.FILES)
def zip_damaged(snap: Snapshot) -> Iterator[Problem]:
    """A torch zip whose records disagree with its bytes

    A local header that names a member differently from the central directory, a CRC that does
    not match the bytes: torch.load trusts the central directory and checks no CRC, so it loads
    the file anyway (what a scanner that rejects the zip never sees). A member with flag bits
    0x1, 0x20 or 0x40 set is refused: "PytorchStreamReader failed retrieving file meta-data …
    unsupported encryption". Writers never produce either: the file was edited or damaged.
    """
    for f, t in _pickles(snap):
        if not t.damage or t.layout != "zip" or t.missing_records:
            continue
        refused = [d for d in t.damage if not d.torch_reads]
        needed = snap.in_plan(f.name) or snap.plan.format is None
        yield Problem(
            severity=Severity.ERROR if refused and needed else Severity.WARNING,
            effect=Effect.RAISES if refused and needed else Effect.NONE, file=f.name,
            title=f"{f.name}: its zip is damaged ({t.damage[0].member}: {t.damage[0].what})"
            + ("; torch.load refuses it" if refused else "; torch.load reads it anyway"),
            detail="; ".join(f"{d.member}: {d.what}" for d in t.damage[:5]) + ". "
            + ("torch's reader refuses members with these flag bits." if refused else
               "torch reads members at the offsets of the central directory and checks no CRC, "
               "so the checkpoint loads; the bytes were scanned as torch reads them."),
            evidence={"file": f.name, "damage": [{"member": d.member, "what": d.what,
                                                  "torch_reads": d.torch_reads}
                                                 for d in t.damage[:20]]},
            fix=download_fix(snap, f.name),
        )


def _auto_map_code(snap: Snapshot) -> list[CodeFile]:
    """The .py files auto_map names — in config.json, and in tokenizer_config.json for a custom
    tokenizer — and the local modules they import (what transformers copies into its modules
    cache and imports with trust_remote_code=True)."""
    refs: list[str] = []
    docs = [snap.config, snap.documents.get("tokenizer_config.json")]
    for doc in docs:
        value = doc.value if doc is not None and isinstance(doc.value, dict) else {}
        auto_map = value.get("auto_map")
        if not isinstance(auto_map, dict):
            continue
        for entry in auto_map.values():
            refs.extend(v for v in (entry if isinstance(entry, list) else [entry])
                        if isinstance(v, str))
    todo = [f"{r.rsplit('.', 1)[0]}.py" for r in refs if "--" not in r and "." in r]
    seen: dict[str, CodeFile] = {}
    while todo:
        name = todo.pop()
        code = snap.code_files.get(name)
        if code is None or name in seen:
            continue
        seen[name] = code
        todo.extend(f"{m.lstrip('.').replace('.', '/')}.py" for m in code.imports
                    if f"{m.replace('.', '/')}.py" in snap.code_files or
                    f"{m.lstrip('.').replace('.', '/')}.py" in snap.code_files)
    return [seen[n] for n in sorted(seen)]


@check("WL610", "remote-code-review", SECURITY)
def remote_code_review(snap: Snapshot) -> Iterator[Problem]:
    """Custom code that loading would run does things worth a review

    With trust_remote_code=True transformers imports the files auto_map names. These lines
    reach the network, start processes, evaluate strings, import by name, write or delete files,
    download or unpickle — read them before trusting the code. The files are parsed, never run.
    """
    for code in _auto_map_code(snap):
        if not code.concerns and not code.risky:
            continue
        lines: list[JSONValue] = [{"line": c.line, "what": c.what, "code": c.code}
                                  for c in code.concerns]
        kinds = sorted({c.what for c in code.concerns} or set(code.risky))
        yield Problem(
            severity=Severity.WARNING, effect=Effect.NONE, file=code.name,
            title=f"{code.name}: custom code to review ({', '.join(kinds)})",
            detail="; ".join(f"{code.name}:{c.line} {c.what}: {c.code}"
                             for c in code.concerns[:5])
            or f"{code.name} could not be parsed: {', '.join(code.risky)}",
            evidence={"file": code.name, "lines": lines, "parsed": code.parsed},
            fix=f"read {code.name} at the lines above before trust_remote_code=True; pin "
            "revision= so it cannot change under you",
        )
