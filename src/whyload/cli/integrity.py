"""verify and lock: prove the bytes are the bytes that were saved."""

from __future__ import annotations

from whyload.cli.common import app as app
