"""verify: every byte of a model read once, and proved against every record available offline."""

from __future__ import annotations

import os
import shlex
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from whyload.checks import integrity as codes
from whyload.checks.groups import BYTES_NOT_WEIGHTS
from whyload.errors import MissingExtra, TargetError
from whyload.integrity.fixes import redownload
from whyload.integrity.hashing import FileDigest, HashRequest, ProgressCallback, hash_files
from whyload.integrity.lockfile import LOCK_NAME, LockError, LockFile, installed_versions, read_lock
from whyload.integrity.references import (
    GIT_SHA1,
    POINTER_SUFFIXES,
    SHA256,
    Reference,
    cached_repo_id,
    cached_snapshot,
    find_references,
    parse_expected_sha256,
)
from whyload.integrity.values import ValueScan
from whyload.pipeline import Examination, examine
from whyload.readers.inventory import (
    MAX_ENTRIES,
    Entry,
    is_training_state,
    read_entry,
    take_inventory,
)
from whyload.readers.sniff import Kind
from whyload.registry import Problem, group_codes, sort_findings, stamp
from whyload.report import Category, Effect, Finding, Report, Severity
from whyload.resolve import Artifact, resolve

ZIP_KINDS = (Kind.ZIP, Kind.TORCH_ZIP)
# files whose loss or change stops from_pretrained, rather than a README or a tokenizer extra
SENTENCE_TRANSFORMERS_MODULES = "modules.json"  # its modules live in subfolders (1_Pooling/)
LOAD_CRITICAL_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".index.json",
                          "config.json")


@dataclass(frozen=True)
class Inspection:
    """What reading every byte of a target found: the material of a verify or lock report."""

    artifact: Artifact
    entries: tuple[Entry, ...]  # the regular files that were hashed
    digests: tuple[FileDigest, ...]
    references: dict[str, list[Reference]]
    findings: tuple[Finding, ...]
    interrupted: bool
    seconds: float

    @property
    def complete(self) -> dict[str, FileDigest]:
        return {d.name: d for d in self.digests if d.sha256 is not None}


def verify(
    target: str | Artifact = ".",
    *,
    revision: str | None = None,
    lock: str | Path | None = None,
    sha256: Sequence[str] = (),
    deep: bool = False,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    against: str | None = None,
) -> Report:
    """Read every byte of a model folder, weights file or cached hub id (or an Artifact
    already resolved) and prove it is what
    was saved: sha256 against the HF cache blob names, `hf download --local-dir` metadata, Git
    LFS pointers beside the files (`<file>.lfs`), a whyload.lock (beside the files, or `lock`)
    and `sha256` (`FILE=HEX` strings); CRC32 of every torch zip member; with `deep`, NaN,
    infinities and all-zero matrices in the tensors (numpy over mmap).

    `progress(done_bytes, total_bytes)` is called from the hashing threads; `stop` (or Ctrl-C)
    ends the reading early with a partial report (WL180). Never imports torch or transformers.
    `against` (hf://org/name[@revision], or any remote target) adds the remote's listing as a
    record: the Hub's LFS sha256 and git blob id of each file, and the files it lists that are
    missing here (WL192); the listing is one request, nothing is downloaded.
    Raises TargetError or UsageError for a target, lock or `sha256` that cannot be used.
    """
    t0 = time.perf_counter()
    if deep:  # before reading gigabytes
        MissingExtra.check("verify --deep", ["numpy"], "deep")
    artifact = target if isinstance(target, Artifact) else resolve(str(target), revision)
    entries, unreadable = list_files(artifact)
    names = [e.name for e in entries]
    expected = parse_expected_sha256(tuple(sha256), names, artifact.root)
    lock_file, lock_findings, lock_path = _find_lock(artifact, lock)
    listed, missing_here = remote_records(against, names, artifact.root) if against else ({}, [])
    inspection = inspect_files(artifact, entries, unreadable, expected=expected,
                               workers=workers, progress=progress, stop=stop, listed=listed)
    broken = not_weights(examine(artifact), names)
    explained = {f.file for f in broken}  # check named what is wrong: its echo is noise
    findings = [*(f for f in inspection.findings
                  if not (f.code == codes.ZIP_UNREADABLE and f.severity is Severity.INFO
                          and f.file in explained)), *broken, *lock_findings, *missing_here]
    if lock_file is not None:
        findings.extend(compare_with_lock(lock_file, inspection, str(lock_path)))
    elif not any(inspection.references.get(n) for n in names) and not expected and not listed \
            and inspection.complete:
        findings.append(_no_reference(artifact, sorted(inspection.complete)))
    scans: list[ValueScan] = []
    if deep and not inspection.interrupted:
        from whyload.integrity.values import scan_values  # numpy: only for --deep

        digests = {d.name: d for d in inspection.digests}
        scans = [scan_values(artifact.root / e.name, e.name, _format_name(e), digests[e.name].zip)
                 for e in entries if e.kind in (Kind.SAFETENSORS, Kind.PICKLE, *ZIP_KINDS)
                 and not is_training_state(e.name)]
        findings.extend(value_findings(scans))
    t1 = time.perf_counter()
    facts = _facts(inspection, lock_path if lock_file is not None else None, scans, deep)
    recorded = _recorded(inspection, lock_file)
    facts["bytes"] = bytes_state(findings, recorded, len(inspection.digests),
                                 inspection.interrupted)
    facts["files_matched"] = len(recorded)
    return Report(
        command="verify", target=artifact.target, resolved=artifact.describe(),
        findings=tuple(sort_findings(findings)), facts=facts,
        timings={"hash_s": round(inspection.seconds, 6), "total_s": round(t1 - t0, 6)},
    )


# files a Hub repo lists that from_pretrained never reads: not missing when a copy leaves them out
NOT_PART_OF_THE_MODEL = (".gitattributes", "README.md")


def remote_records(against: str, names: Sequence[str], root: Path
                   ) -> tuple[dict[str, list[Reference]], list[Finding]]:
    """What a remote listing says of the local files (sha256 of LFS files, git blob ids of the
    others, sizes), and a WL192 for each top-level file it lists that is not here. One listing
    request; raises TargetError when the remote cannot be listed."""
    from whyload.resolve.remote import resolve_remote
    from whyload.resolve.urls import is_remote_target

    listing = resolve_remote(against, hub_id=not is_remote_target(against)).remote
    if listing is None:
        return {}, []
    where = listing.url + (f" (commit {listing.commit})" if listing.commit else "")
    present = set(names)
    records: dict[str, list[Reference]] = {}
    missing: list[Finding] = []
    for f in listing.files:
        if f.name in present:
            if f.sha256:
                records.setdefault(f.name, []).append(Reference(
                    SHA256, f.sha256, "remote", where, size=f.size, commit=listing.commit))
            elif f.git_oid:
                records.setdefault(f.name, []).append(Reference(
                    GIT_SHA1, f.git_oid, "remote", where, size=f.size, commit=listing.commit))
        elif "/" not in f.name and f.name not in NOT_PART_OF_THE_MODEL:
            weights = f.name.endswith((".safetensors", ".bin", ".index.json")) \
                or f.name == "config.json"
            missing.append(stamp(codes.MISSING_HERE, Problem(
                title=f"{f.name} is listed by {listing.url} but missing here",
                detail=f"{where} lists {f.name} ({f.size:,} bytes); the local copy has no such "
                "file.",
                severity=Severity.ERROR if weights else Severity.WARNING,
                effect=Effect.RAISES if weights else Effect.NONE,
                evidence={"file": f.name, "size": f.size, "listed_by": listing.url,
                          "commit": listing.commit, "sha256": f.sha256},
                fix=_download_one(listing, f.name, root), file=f.name)))
    return records, missing


def _download_one(listing: Any, name: str, root: Path) -> str:
    if listing.store == "hf" and listing.repo_id:
        return (f"hf download {shlex.quote(listing.repo_id)} {shlex.quote(name)} --revision "
                f"{listing.commit or listing.revision or 'main'} --local-dir "
                f"{shlex.quote(str(root))}")
    return f"copy {name} again from {listing.url} into {shlex.quote(str(root))}"


def bytes_state(findings: Iterable[Finding], recorded: set[str], files: int,
                interrupted: bool) -> str:
    """What verify says of the bytes, whatever loading would make of them: "damaged" (a file
    differs from its record, or is no weights at all), "intact" (every file read and matched a
    record), "unverified" (no file had a record), else "partial"."""
    findings = list(findings)
    if any(f.severity is Severity.ERROR and f.category is Category.FILES for f in findings):
        return "damaged"
    if not recorded:
        return "unverified"
    unread = any(f.effect is Effect.UNKNOWN for f in findings)
    if interrupted or unread or len(recorded) < files:
        return "partial"
    return "intact"


def _recorded(inspection: Inspection, lock: LockFile | None) -> set[str]:
    """The files read to their end whose sha256 matches a record: a reference or the lock."""
    locked = lock.files if lock is not None else {}
    return {name for name, digest in inspection.complete.items()
            if inspection.references.get(name) or (
                name in locked and locked[name].sha256 == digest.sha256)}


def not_weights(examination: Examination, names: Sequence[str]) -> list[Finding]:
    """check's findings on files whose bytes are not weights at all (a Git LFS pointer, an
    error page, a cut file), from the headers alone: a hash says nothing about those, and a
    lock must not record them as healthy."""
    findings = examination.findings
    present = set(names)
    references = {f"{name}{suffix}" for name in present for suffix in POINTER_SUFFIXES}
    return [f for f in findings if f.code in group_codes(BYTES_NOT_WEIGHTS) and f.file in present
            and f.file not in references]  # model.safetensors.lfs beside the file: a record


def list_files(artifact: Artifact) -> tuple[list[Entry], list[Entry]]:
    """The regular files to hash, and those that cannot be read (dangling, special,
    unreadable). A folder's top level is what from_pretrained reads; a downloaded repo (an HF
    cache snapshot, an `hf download --local-dir` folder) and a sentence-transformers folder
    (modules.json) are verified whole, subfolders too (`1_Pooling/config.json`,
    `onnx/model.onnx`). whyload.lock itself is not part of the model."""
    inventory = take_inventory(artifact.root)
    entries = [e for e in inventory.entries if e.name != LOCK_NAME]
    if artifact.focus is not None:
        entries = [e for e in entries if e.name == artifact.focus]
    elif (artifact.how == "hub-cache" or cached_snapshot(artifact.root) is not None
          or (artifact.root / ".cache" / "huggingface").is_dir()
          or (artifact.root / SENTENCE_TRANSFORMERS_MODULES).is_file()):
        entries.extend(read_entry(artifact.root, name) for name in _subfolder_files(
            artifact.root, limit=MAX_ENTRIES - len(entries)))
    readable = [e for e in entries if e.kind is not None and e.special is None]
    broken = [e for e in entries if e.kind is None or e.special is not None]
    if not readable and not broken:
        raise TargetError(artifact.target, f"{artifact.target}: no files to read",
                          hint=_model_folders_below(artifact.root))
    return readable, broken


def _model_folders_below(root: Path) -> str:
    """Where the model is when the folder given holds none: its subfolders with a config.json
    (a Trainer output folder's checkpoint-500/), the hub id of an HF cache repo folder, else
    the general advice."""
    if root.name.startswith("models--") and (root / "snapshots").is_dir():
        repo_id = root.name.removeprefix("models--").replace("--", "/")
        return (f"this is the HF cache folder of {repo_id}: whyload verify {repo_id} "
                f"(--revision for another one than main)")
    try:
        found = sorted(d.name for d in root.iterdir()
                       if not d.name.startswith(".") and (d / "config.json").is_file())
    except OSError:
        found = []
    if found:
        return "the models are in subfolders: " + ", ".join(
            shlex.quote(str(root / name)) for name in found[:5])
    return "point whyload at the folder that holds config.json and the weights"


def _subfolder_files(root: Path, *, limit: int) -> list[str]:
    """Files below the top level, as relative paths, hidden folders (.git, .cache) skipped;
    links to folders are not followed."""
    out: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if Path(folder) == root:
            continue
        relative = Path(folder).relative_to(root)
        out.extend(str(relative / name) for name in sorted(files))
        if len(out) >= limit:
            return out[:limit]
    return out


def inspect_files(
    artifact: Artifact,
    entries: Sequence[Entry],
    unreadable: Sequence[Entry] = (),
    *,
    expected: dict[str, str] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    listed: Mapping[str, Sequence[Reference]] | None = None,
) -> Inspection:
    """Hash every entry in one pass and compare with the references found offline, plus
    `listed`: what a remote listing says of each file (verify --against)."""
    names = [e.name for e in entries]
    references = find_references(artifact, names)
    for name, hexdigest in (expected or {}).items():
        references[name].append(Reference(SHA256, hexdigest, "--sha256", "the command line"))
    for name, refs in (listed or {}).items():
        if name in references:
            references[name].extend(refs)
    requests = [HashRequest(e.name, artifact.root / e.name,
                            git_sha1=any(r.algorithm == GIT_SHA1 for r in references[e.name]),
                            zip_crcs=e.kind in ZIP_KINDS) for e in entries]
    t0 = time.perf_counter()
    digests, interrupted = hash_files(requests, workers=workers, progress=progress, stop=stop)
    seconds = time.perf_counter() - t0
    findings = [_unreadable(e) for e in unreadable]
    for digest in digests:
        findings.extend(digest_findings(artifact, digest, references.get(digest.name, [])))
    if interrupted:
        done = sum(1 for d in digests if d.sha256 is not None)
        findings.append(stamp(codes.INTERRUPTED, Problem(
            title=f"interrupted: {done} of {len(digests)} files read to their end",
            severity=Severity.WARNING, effect=Effect.UNKNOWN,
            detail="Only the files read to their end were compared; the others are "
            "listed as not read.",
            evidence={"verified": done, "files": len(digests),
                      "not_read": [d.name for d in digests if d.sha256 is None]},
            fix="run the same command again to verify the rest")))
    return Inspection(artifact, tuple(entries), tuple(digests), references, tuple(findings),
                      interrupted, seconds)


def digest_findings(artifact: Artifact, digest: FileDigest,
                    references: Iterable[Reference]) -> list[Finding]:
    """Mismatches between one file's digest and its references, and its failed zip CRCs."""
    out: list[Finding] = []
    name = digest.name
    if digest.error is not None:
        out.append(stamp(codes.UNREADABLE, Problem(
            title=f"{name} could not be read: {digest.error}", severity=Severity.WARNING,
            effect=Effect.UNKNOWN, evidence={"file": name, "error": digest.error},
            fix=f"check the permissions and the disk of {artifact.root / name}", file=name)))
        return out
    refs = list(references)
    for mismatch in digest.crc_mismatches:
        out.append(stamp(codes.ZIP_CRC_MISMATCH, Problem(
            title=f"{name}: member {mismatch.member} fails its CRC32",
            detail=f"The zip directory promises CRC32 {mismatch.expected:08x}; the bytes give "
            f"{mismatch.actual:08x}. torch.load does not check it and returns the damaged "
            "tensor.",
            evidence={"file": name, "member": mismatch.member,
                      "expected_crc32": f"{mismatch.expected:08x}",
                      "actual_crc32": f"{mismatch.actual:08x}"},
            fix=redownload(artifact, name, refs), effect=Effect.SILENT, file=name)))
    layout = digest.zip
    if layout is not None and layout.damaged_member is not None:
        out.append(stamp(codes.ZIP_UNREADABLE, Problem(
            title=f"{name} is damaged: {layout.error}",
            detail=f"torch.load fails reading {layout.damaged_member}; its CRC and those of the "
            "members after it could not be checked.",
            evidence={"file": name, "member": layout.damaged_member, "reason": layout.error},
            fix=redownload(artifact, name, refs), file=name)))
    elif layout is not None and layout.error is not None:
        out.append(stamp(codes.ZIP_UNREADABLE, Problem(
            title=f"{name}: zip CRCs not checked ({layout.error})",
            severity=Severity.INFO, evidence={"file": name, "reason": layout.error},
            fix=f"whyload check {shlex.quote(artifact.target)}", file=name)))
    if digest.sha256 is None:
        return out
    candidates = [r for r in refs if r.any_of]
    if candidates and all(r.digest != digest.sha256 for r in candidates):
        first = candidates[0]
        expected = [r.digest for r in candidates]
        out.append(stamp(codes.SHA256_MISMATCH, Problem(
            title=f"{name}: sha256 differs from the git-lfs object it was checked out from",
            detail=f"The git-lfs store holds {len(candidates)} object(s) of this file's size "
            f"({digest.size:,} bytes), {', '.join(expected[:3])}; the file hashes to "
            f"{digest.sha256}.",
            evidence={"file": name, "algorithm": SHA256,
                      "expected": expected[0] if len(expected) == 1 else expected,
                      "actual": digest.sha256, "source": first.source,
                      "reference": first.where, "size": digest.size},
            fix=f"git -C {shlex.quote(str(artifact.root))} checkout -- {shlex.quote(name)}  "
            "# the smudge filter writes it again from the git-lfs store",
            effect=Effect.SILENT, file=name)))
    for ref in refs:
        if ref.any_of:
            continue
        actual = digest.sha256 if ref.algorithm == SHA256 else digest.git_sha1
        size_differs = ref.size is not None and ref.size != digest.size
        if actual == ref.digest and not size_differs:
            continue
        code = codes.GIT_SHA1_MISMATCH if ref.algorithm == GIT_SHA1 else codes.SHA256_MISMATCH
        kind = "git blob sha1" if ref.algorithm == GIT_SHA1 else "sha256"
        detail = (f"{_describe_source(ref)} says {kind} {ref.digest}; the file hashes to "
                  f"{actual}.")
        if size_differs:
            detail += f" Its size is {digest.size:,} bytes; the record says {ref.size:,}."
        severity = Severity.ERROR
        if ref.modified_after:
            severity = Severity.WARNING
            detail += " The file was modified after it was downloaded: if that was on " \
                      "purpose, ignore this."
        out.append(stamp(code, Problem(
            title=f"{name}: {kind} differs from {_short_source(ref)}",
            severity=severity, detail=detail,
            evidence={"file": name, "algorithm": ref.algorithm, "expected": ref.digest,
                      "actual": actual, "source": ref.source, "reference": ref.where,
                      "size": digest.size, "expected_size": ref.size},
            fix=redownload(artifact, name, refs), effect=Effect.SILENT, file=name)))
    return out


def compare_with_lock(lock: LockFile, inspection: Inspection, where: str) -> list[Finding]:
    """Added, removed and changed files, and the drift of library versions since the lock."""
    out: list[Finding] = []
    artifact = inspection.artifact
    present = {e.name for e in inspection.entries}
    complete = inspection.complete
    focus = artifact.focus
    for name, locked in sorted(lock.files.items()):
        if focus is not None and name != focus:
            continue
        if name not in present:
            critical = name.endswith(LOAD_CRITICAL_SUFFIXES)
            out.append(stamp(codes.REMOVED_SINCE_LOCK, Problem(
                title=f"{name} is in the lock but missing",
                severity=Severity.ERROR if critical else Severity.WARNING,
                effect=Effect.RAISES, evidence={"file": name, "size": locked.size,
                                                "sha256": locked.sha256, "lock": where},
                fix=redownload(artifact, name, inspection.references.get(name, [])),
                file=name)))
            continue
        digest = complete.get(name)
        if digest is None:
            continue
        if digest.sha256 != locked.sha256 or digest.size != locked.size:
            out.append(stamp(codes.CHANGED_SINCE_LOCK, Problem(
                title=f"{name} differs from the lock",
                detail=f"The lock records sha256 {locked.sha256} ({locked.size:,} bytes); "
                f"the file hashes to {digest.sha256} ({digest.size:,} bytes).",
                evidence={"file": name, "expected": locked.sha256, "actual": digest.sha256,
                          "expected_size": locked.size, "size": digest.size, "lock": where},
                fix="restore it: " + redownload(artifact, name,
                                                inspection.references.get(name, []))
                + "; or, if the change is wanted: whyload lock "
                f"{shlex.quote(artifact.target)} --force",
                effect=Effect.SILENT, file=name)))
    if focus is None:
        for name in sorted(present - set(lock.files)):
            out.append(stamp(codes.ADDED_SINCE_LOCK, Problem(
                title=f"{name} is not in the lock", severity=Severity.INFO,
                evidence={"file": name, "lock": where}, file=name,
                fix=f"whyload lock {shlex.quote(artifact.target)} --force  # if it belongs to "
                "the model")))
    out.extend(version_drift(lock.versions, installed_versions()))
    return out


def version_drift(locked: Mapping[str, str | None],
                  installed: Mapping[str, str | None]) -> list[Finding]:
    """WL220 when a major version differs or the package is gone, WL221 for any other
    difference; packages the lock did not record are not compared."""
    out: list[Finding] = []
    for package, then in sorted(locked.items()):
        now = installed.get(package)
        if then is None or now == then or package not in installed:
            continue
        major = now is None or _major(now) != _major(then)
        install = f'pip install "{package}=={then}"'
        out.append(stamp(
            codes.VERSION_MAJOR_DRIFT if major else codes.VERSION_MINOR_DRIFT, Problem(
                title=f"{package} {now or 'is not installed'} here; the lock was written "
                f"with {then}",
                severity=Severity.WARNING if major else Severity.INFO,
                evidence={"package": package, "locked": then, "installed": now},
                fix=install)))
    return out


def value_findings(scans: Iterable[ValueScan]) -> list[Finding]:
    out: list[Finding] = []
    skipped: list[dict[str, str]] = []
    for scan in scans:
        skipped.extend({"file": scan.file, "tensor": t, "why": why} for t, why in scan.not_scanned)
        nan = [b for b in scan.bad if b.nan]
        inf = [b for b in scan.bad if b.inf and not b.nan]
        zero = [b for b in scan.bad if b.all_zero]
        for code, bad, what, severity, effect in (
                (codes.NAN_VALUES, nan, "NaN", Severity.ERROR, Effect.SILENT),
                (codes.INF_VALUES, inf, "infinite values", Severity.WARNING, Effect.NONE),
                (codes.ZERO_TENSOR, zero, "all-zero matrices", Severity.WARNING, Effect.NONE)):
            if not bad:
                continue
            tensors = [{"tensor": ", ".join(b.names), "dtype": b.dtype, "shape": list(b.shape),
                        "nan": b.nan, "inf": b.inf} for b in bad]
            listed = ", ".join(", ".join(b.names) for b in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            out.append(stamp(code, Problem(
                title=f"{scan.file}: {len(bad)} tensor(s) with {what}: {listed}{more}",
                severity=severity, effect=effect, file=scan.file,
                evidence={"file": scan.file, "tensors": tensors[:100]},
                fix="go back to a checkpoint saved before the problem (or re-download it); "
                "if it came from a float16 conversion, convert again from float32")))
    if skipped:
        out.append(stamp(codes.NOT_SCANNED, Problem(
            title=f"{len(skipped)} tensor(s) or file(s) not scanned for NaN/Inf",
            severity=Severity.INFO, evidence={"not_scanned": skipped[:100]})))
    return out


def _find_lock(artifact: Artifact, lock: str | Path | None
               ) -> tuple[LockFile | None, list[Finding], Path | None]:
    """The lock asked for (any problem is a UsageError), else one beside the files (a problem
    is a finding), else, for a cached hub id, ./whyload.lock when it was written for that id."""
    if lock is not None:
        path = Path(lock).expanduser()
        return read_lock(path), [], path
    repo_id = cached_repo_id(artifact)
    candidates = [artifact.root / LOCK_NAME]
    if repo_id is not None:  # a lock is never written into the cache
        candidates = [Path.cwd() / LOCK_NAME]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            found = read_lock(path)
        except LockError as exc:
            return None, [stamp(codes.LOCK_UNREADABLE, Problem(
                title=f"{path.name} cannot be used: {exc.message}", severity=Severity.WARNING,
                effect=Effect.UNKNOWN, evidence={"lock": str(path)},
                fix="pip install -U whyload" if exc.newer else
                f"whyload lock {shlex.quote(artifact.target)} --force  # from a copy you trust"
                ))], None
        if repo_id is not None and found.target.get("repo_id") != repo_id:
            continue
        return found, [], path
    return None, [], None


def _no_reference(artifact: Artifact, names: list[str]) -> Finding:
    return stamp(codes.NO_REFERENCE, Problem(
        title=f"{len(names)} file(s) hashed, with nothing to compare them to",
        severity=Severity.INFO, evidence={"files": names[:100]},
        detail="Zip CRCs were checked where there are any; sha256 needs a record of what the "
        "files should be.",
        fix=f"whyload lock {shlex.quote(artifact.target)}  # record them now, verify later "
        "copies against it"))


def _unreadable(entry: Entry) -> Finding:
    why = ("a dangling symbolic link" + (f" to {entry.link_target}" if entry.link_target else "")
           if entry.dangling and not entry.unreadable else
           f"a {entry.special}" if entry.special else entry.unreadable or "unreadable")
    return stamp(codes.UNREADABLE, Problem(
        title=f"{entry.name} could not be verified: {why}", severity=Severity.WARNING,
        effect=Effect.UNKNOWN, file=entry.name,
        evidence={"file": entry.name, "why": why, "link": entry.link_target},
        fix="download or copy the file again (cp -L follows links)"))


def _describe_source(ref: Reference) -> str:
    return {"hf-cache": f"The HF cache blob name ({ref.where})",
            "hf-local-dir": f"The download record of `hf download --local-dir` ({ref.where})",
            "lfs-pointer": f"The Git LFS pointer {ref.where}",
            "git-lfs": f"The git-lfs store ({ref.where})",
            "--sha256": "--sha256"}.get(ref.source, ref.where)


def _short_source(ref: Reference) -> str:
    return {"hf-cache": "its HF cache blob name", "hf-local-dir": "its download record",
            "lfs-pointer": "its Git LFS pointer", "--sha256": "--sha256"}.get(ref.source,
                                                                              ref.source)


def _major(version: str) -> str:
    return version.split(".", 1)[0]


def _format_name(entry: Entry) -> str:
    """What scan_values calls the file's format."""
    if entry.kind in ZIP_KINDS:
        return "torch-zip"
    return entry.kind.value if entry.kind else "unknown"


def _facts(inspection: Inspection, lock_path: Path | None, scans: list[ValueScan],
           deep: bool) -> dict[str, Any]:
    files = []
    for digest in inspection.digests:
        refs = inspection.references.get(digest.name, [])
        status = ("not read" if digest.sha256 is None else
                  "verified" if refs else "hashed")
        files.append({"name": digest.name, "size": digest.size, "sha256": digest.sha256,
                      "references": sorted({r.source for r in refs}), "status": status,
                      "zip_members_checked": len(digest.zip.spans) if digest.zip else 0})
    total = sum(d.size for d in inspection.digests)
    facts: dict[str, Any] = {
        "files": files,
        "bytes_read": total,
        "read_mib_per_s": round(total / (1 << 20) / inspection.seconds, 1)
        if inspection.seconds > 0 else None,
        "interrupted": inspection.interrupted,
        "lock": str(lock_path) if lock_path else None,
    }
    if deep:
        facts["values_scanned"] = sum(s.scanned for s in scans)
    return facts
