"""resolve() for verify, lock and fix, with names huggingface_hub rejects as hub ids (a local
folder `bert--finetuned`, `org--x/name`) answered as paths or as a clear error."""

from __future__ import annotations

import os

from whyload.errors import TargetError
from whyload.resolve import Artifact, resolve


def resolve_target(target: str, revision: str | None = None) -> Artifact:
    """resolve(target, revision); a name with `--` or `..` is not a hub id: an existing folder
    is examined as the path it is, anything else is a TargetError."""
    try:
        return resolve(target, revision)
    except ValueError as exc:  # huggingface_hub's HFValidationError
        if type(exc).__name__ != "HFValidationError":
            raise
        if os.path.lexists(target) and not os.path.isabs(target):
            return resolve(os.path.join(os.curdir, target), revision)
        raise TargetError(target, f"{target!r} is not a local path, and not a valid hub id "
                          f"({exc})", hint="check the path; a hub id looks like 'org/name'"
                          ) from None
