"""lock: record what a healthy model is — every file's size and sha256, its format facts and the
library versions — in whyload.lock, for `verify` to prove later copies against."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from whyload.checks import integrity as codes
from whyload.integrity.hashing import ProgressCallback
from whyload.integrity.lockfile import (
    LOCK_NAME,
    LockedFile,
    LockFile,
    installed_versions,
    refuse_overwrite,
    write_lock,
)
from whyload.integrity.references import cached_repo_id, cached_snapshot
from whyload.integrity.verification import inspect_files, list_files, not_weights
from whyload.pipeline import Examination, examine
from whyload.registry import Problem, sort_findings, stamp
from whyload.report import Report, Severity
from whyload.resolve import Artifact, resolve

FORMAT_FACTS = ("format", "weights", "tensor_count", "parameter_count", "dtypes", "model_type",
                "architectures", "transformers_version")


def lock(
    target: str = ".",
    *,
    revision: str | None = None,
    out: str | Path | None = None,
    force: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> Report:
    """Hash every file of a model and write whyload.lock; returns a Report (command "lock")
    whose facts say where the lock went (`facts["lock"]`, `facts["written"]`).

    The lock goes beside the files of a folder, to `out` when given (a file, or a folder to put
    whyload.lock in), and to ./whyload.lock for a cached hub id or snapshot folder (never into
    the cache). An existing lock is replaced only with `force` (else UsageError). Nothing is
    written when the files are already known to be damaged (a failed zip CRC, a cache hash
    mismatch, an unreadable file, an interrupted read): the report says why (WL185)."""
    t0 = time.perf_counter()
    artifact = resolve(str(target), revision)
    path = lock_path(artifact, out)
    if not force:  # before reading gigabytes
        refuse_overwrite(path)
    entries, unreadable = list_files(artifact)
    inspection = inspect_files(artifact, entries, unreadable, workers=workers,
                               progress=progress, stop=stop)
    examination = examine(artifact)
    findings = [*inspection.findings, *not_weights(examination, [e.name for e in entries])]
    damaged = [f for f in findings if f.severity is not Severity.INFO] or (
        [] if not inspection.interrupted else findings)
    written = False
    if damaged:
        findings.append(stamp(codes.LOCK_REFUSED, Problem(
            title=f"no lock written: {len(damaged)} problem(s) with the files",
            detail="A lock must record a healthy model; fix these first: "
            + "; ".join(f.title for f in damaged[:5]),
            evidence={"lock": str(path), "problems": [f.code for f in damaged]},
            fix="fix the files, then run whyload lock again")))
    else:
        record = LockFile(
            files={d.name: LockedFile(d.sha256 or "", d.size) for d in inspection.digests},
            versions=installed_versions(), format=format_facts(examination),
            target=lock_target(artifact))
        write_lock(record, path, force=force)
        written = True
    return Report(
        command="lock", target=str(target), resolved=artifact.describe(),
        findings=tuple(sort_findings(findings)),
        facts={"lock": str(path), "written": written,
               "files": [{"name": d.name, "size": d.size, "sha256": d.sha256}
                         for d in inspection.digests]},
        timings={"hash_s": round(inspection.seconds, 6),
                 "total_s": round(time.perf_counter() - t0, 6)})


def lock_path(artifact: Artifact, out: str | Path | None) -> Path:
    if out is not None:
        path = Path(out).expanduser()
        return path / LOCK_NAME if path.is_dir() else path
    if cached_repo_id(artifact) is not None:  # never into the cache
        return Path.cwd() / LOCK_NAME
    return artifact.root / LOCK_NAME


def lock_target(artifact: Artifact) -> dict[str, Any]:
    """What the lock was written for: how it was found, the hub id and commit when it is in the
    HF cache (by id, or a snapshot folder given as a path), the file of a single-file target."""
    target = {k: v for k, v in artifact.describe().items()
              if k in ("how", "repo_id", "revision", "commit", "file")}
    snapshot = cached_snapshot(artifact.root)
    if artifact.cache is None and snapshot is not None:
        target.update(repo_id=snapshot.repo_id, commit=snapshot.commit)
    return target


def format_facts(examination: Examination) -> dict[str, Any]:
    """Tensor count, dtypes, parameter count and the like, from the headers `check` reads."""
    facts = examination.snapshot.facts()
    return {k: facts[k] for k in FORMAT_FACTS if k in facts}
