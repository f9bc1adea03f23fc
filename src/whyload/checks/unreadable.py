"""WL160-WL161 — files whyload could not read, or did not analyse."""

from __future__ import annotations

import shlex
from collections.abc import Iterator

from whyload.checks.registration import Problem, check
from whyload.report import Category, Effect, Severity
from whyload.snapshot import PYTORCH_NAME, SAFETENSORS_NAME, Snapshot

FILES = Category.FILES


@check("WL160", "unreadable-file", FILES,
       superseded_by=("WL580", "WL581", "WL582", "WL583", "WL584", "WL585"))
def unreadable(snap: Snapshot) -> Iterator[Problem]:
    """A file that cannot be read (permission denied, a FIFO or device under a model file name)

    from_pretrained fails with PermissionError or blocks forever reading a FIFO.
    """
    for e in snap.inventory.entries:
        if e.dangling:
            continue
        if e.unreadable is None and e.special is None:
            continue
        declared = e.name.endswith((".safetensors", ".bin", ".json", ".pt", ".pth", ".txt",
                                    ".model"))
        if not declared:
            continue
        what = e.unreadable or f"a {e.special}, not a regular file"
        needed = e.name in (SAFETENSORS_NAME, PYTORCH_NAME, "config.json") or any(
            e.name in idx.shards for idx in snap.indexes.values())
        yield Problem(
            severity=Severity.ERROR if needed else Severity.WARNING,
            effect=Effect.RAISES if needed else Effect.NONE, file=e.name,
            title=f"{e.name} cannot be read: {what}",
            detail=f"{e.name}: {what}.",
            evidence={"file": e.name, "reason": what},
            fix=f"chmod a+r {shlex.quote(e.name)}  # or run as its owner" if e.unreadable
            else f"replace {e.name} with the real file",
        )


@check("WL161", "file-not-analysed", FILES)
def not_analysed(snap: Snapshot) -> Iterator[Problem]:
    """whyload could not analyse a file (its reader stopped on bytes beyond its bounds)

    The verdict is then 'unknown' for that file: nothing was concluded from it.
    """
    for f in snap.files.values():
        if f.reader_error is None:
            continue
        yield Problem(
            severity=Severity.WARNING, effect=Effect.UNKNOWN, file=f.name,
            title=f"{f.name} could not be analysed",
            detail=f"The reader stopped: {f.reader_error}.",
            evidence={"file": f.name, "error": f.reader_error},
            fix="report this file's first bytes (`xxd FILE | head`) to the whyload maintainers",
        )
