"""The command that brings back one damaged file, for where it came from."""

from __future__ import annotations

import importlib.metadata
import shlex
from functools import cache

from whyload.integrity.references import Reference, cached_snapshot
from whyload.resolve import Artifact


@cache
def hub_cli() -> str:
    """`hf` (huggingface_hub >= 0.34) when installed, else the older `huggingface-cli`."""
    try:
        scripts = {e.name for e in importlib.metadata.entry_points(group="console_scripts")}
    except Exception:  # a broken distribution must not hide the fix
        scripts = set()
    return "hf" if "hf" in scripts or "huggingface-cli" not in scripts else "huggingface-cli"


def redownload(artifact: Artifact, name: str, references: list[Reference]) -> str:
    """The exact command that replaces `name`, or what to re-copy when its origin is unknown."""
    quoted = shlex.quote(name)
    if artifact.cache is not None:
        revision = artifact.cache.commit or artifact.cache.revision
        return (f"{hub_cli()} download {artifact.cache.repo_id} {quoted} "
                f"--revision {revision} --force-download")
    snapshot = cached_snapshot(artifact.root)
    if snapshot is not None:
        kind = "" if snapshot.repo_type == "model" else f" --repo-type {snapshot.repo_type}"
        cache_dir = shlex.quote(str(artifact.root.parent.parent.parent))
        return (f"{hub_cli()} download {snapshot.repo_id} {quoted}{kind} "
                f"--revision {snapshot.commit} --cache-dir {cache_dir} --force-download")
    local = next((r for r in references if r.source == "hf-local-dir"), None)
    folder = shlex.quote(str(artifact.root))
    if local is not None:
        revision = f" --revision {local.commit}" if local.commit else ""
        return (f"{hub_cli()} download <repo_id> {quoted}{revision} --local-dir {folder} "
                "--force-download  # <repo_id>: the repo this folder was downloaded from")
    return (f"where {artifact.root} came from is not recorded: copy {name} again from its "
            f"source (cp -L, to follow links), or if it came from the Hub: {hub_cli()} download "
            f"<repo_id> {quoted} --local-dir {folder} --force-download")
