"""Before fix rewrites weights, prove their bytes: a rewrite to safetensors drops the zip CRCs
and the file's hash, so damage that `whyload verify` can see today would be invisible in the
repaired copy."""

from __future__ import annotations

from collections.abc import Iterable

from whyload.readers.inventory import read_entry
from whyload.repair.types import Refusal
from whyload.report import Severity
from whyload.resolve import Artifact


def damaged_inputs(artifact: Artifact, names: Iterable[str]) -> list[Refusal]:
    """A refusal for each file to be rewritten whose bytes fail a zip CRC or differ from a
    record available offline (HF cache blob name, download record, LFS pointer, git-lfs
    store)."""
    from whyload.integrity.verification import inspect_files

    entries = [read_entry(artifact.root, name) for name in sorted(set(names))]
    readable = [e for e in entries if e.kind is not None and e.special is None]
    if not readable:
        return []
    inspection = inspect_files(artifact, readable, workers=1)
    return [Refusal(reason=f"{f.title}: the bytes are not the weights that were saved, and "
                    "rewriting them would hide the damage", next_step=f"download {f.file} again"
                    + (f" ({f.fix})" if f.fix else ""), codes=(f.code,), file=f.file)
            for f in inspection.findings if f.severity is Severity.ERROR]
