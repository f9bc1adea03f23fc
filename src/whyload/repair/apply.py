"""Applying a plan: everything is written into a temporary folder beside the output (same file
system), which is renamed into place only once complete. Any failure — a full disk, a child that
dies, Ctrl-C — removes the temporary folder and leaves no output; the source is only read.

    parent/
      .fixed.<random>.whyload-tmp/   built here, step by step
      fixed/                         appears in one rename when the build is complete
      .fixed.<random>.whyload-old/   (--force) the folder it replaces, removed after the swap
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from whyload.errors import UsageError
from whyload.repair.config_repair import write_config
from whyload.repair.index_repair import write_index
from whyload.repair.prove import prove_load
from whyload.repair.types import ApplyResult, Step

if TYPE_CHECKING:
    from whyload.repair.plan import RepairPlan

CONVERT_TIMEOUT_S = 3600


class RepairFailed(UsageError):
    """Applying the plan failed; nothing was written."""


def apply_plan(plan: RepairPlan, *, force: bool = False, prove: bool = True) -> ApplyResult:
    if plan.refusals:
        raise UsageError("the plan has refusals: " + "; ".join(r.reason for r in plan.refusals),
                         hint=plan.refusals[0].next_step)
    if not plan.steps:
        raise UsageError("nothing to fix: the plan has no steps")
    dest = plan.out
    if (dest.exists() or dest.is_symlink()) and not force:
        raise UsageError(f"{dest} already exists", hint="--force replaces it")
    check_free_space(plan)
    made = make_parents(dest)  # --out a/b where a is new: removed again if the build fails
    build = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".whyload-tmp",
                                  dir=dest.parent))
    try:
        build.chmod(0o777 & ~current_umask())  # mkdtemp's 0700 would hide the result
        copied = [copy_file(plan.source, build, rel) for rel in plan.copies]
        written: list[str] = []
        for step in plan.steps:
            written.extend(run_step(plan.source, step, build))
        sync_tree(build)
        swap_into_place(build, dest)
    except BaseException as exc:
        shutil.rmtree(build, ignore_errors=True)
        for folder in made:  # deepest first; only the folders this run created, if still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        if isinstance(exc, OSError):
            raise RepairFailed(f"writing the repaired copy failed: {exc}; nothing was written "
                               f"to {dest}", hint="free space or fix permissions, then run "
                               "again") from exc
        raise
    from whyload.pipeline import check

    after = check(str(dest), model_class=plan.model_class)
    load, why_not = prove_load(dest, after, plan.model_class) if prove else (None, "--no-load")
    return ApplyResult(out=dest, written=tuple(written), copied=tuple(copied),
                       before=plan.before, after=after, load=load, load_skipped=why_not)


def make_parents(dest: Path) -> list[Path]:
    """Create dest's missing parent folders; the ones created, deepest first."""
    missing = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    return missing


def current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_free_space(plan: RepairPlan) -> None:
    """Refuse before writing anything when the output's file system cannot hold the copy (the
    copied files plus, for a weights rewrite, as much again as the weights read)."""
    needed = sum(_size(plan.source / rel) for rel in plan.copies)
    needed += sum(_size(plan.source / name) for step in plan.steps
                  if step.action == "rewrite-weights" for name in step.reads)
    where = next(p for p in (plan.out.parent, *plan.out.parents) if p.exists())
    free = shutil.disk_usage(where).free
    if needed > free:
        raise RepairFailed(f"the repaired copy needs about {needed:,} bytes; {where} "
                           f"has {free:,} free", hint="free space, or write --out elsewhere")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def copy_file(source: Path, build: Path, rel: str) -> str:
    """Copy one file (a link is copied as the bytes it points to, so a cache snapshot becomes a
    plain folder). Never a hard link: editing the copy must not edit the source."""
    target = build / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source / rel, target)
    return rel


def run_step(source: Path, step: Step, build: Path) -> list[str]:
    if step.action == "write-config":
        write_config(source, step.spec, build)
    elif step.action == "rebuild-index":
        write_index(step.spec, build)
    elif step.action == "rewrite-weights":
        convert_in_child(source, step, build)
    else:
        raise ValueError(f"unknown repair action {step.action!r}")
    return list(step.writes)


def convert_in_child(source: Path, step: Step, build: Path) -> None:
    """Run whyload.repair.convert in a child process: torch loads the weights there, never in
    this process."""
    job = {**step.spec, "source": str(source), "dest": str(build)}
    done = subprocess.run([sys.executable, "-m", "whyload.repair.convert"],
                          input=json.dumps(job), capture_output=True, text=True,
                          timeout=CONVERT_TIMEOUT_S, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RepairFailed(f"rewriting the weights failed (exit {done.returncode}): {tail[0]}; "
                           "nothing was written", hint="run again with WHYLOAD_DEBUG=1, and "
                           "report it")
    missing = [name for name in step.writes if not (build / name).is_file()]
    if missing:
        raise RepairFailed(f"the weights rewrite did not write {', '.join(missing)}")


def sync_tree(folder: Path) -> None:
    """Flush every written file to disk before the rename makes the folder visible."""
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def swap_into_place(build: Path, dest: Path) -> None:
    """Rename the complete build to dest; an existing dest (--force) is moved aside first and
    removed only after the new folder is in place."""
    if not (dest.exists() or dest.is_symlink()):
        os.rename(build, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".whyload-old", dir=dest.parent))
    old.rmdir()
    os.rename(dest, old)
    try:
        os.rename(build, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    if old.is_dir() and not old.is_symlink():
        shutil.rmtree(old, ignore_errors=True)
    else:
        old.unlink()
