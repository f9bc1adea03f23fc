"""Which targets are URLs: told apart from local paths without importing anything remote."""

from __future__ import annotations

import re

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_remote_target(target: str) -> bool:
    """A URL with a scheme (hf://, s3://, gs://, https://, ...), not a local path or file://."""
    return bool(_URL.match(target)) and not target.lower().startswith("file://")
