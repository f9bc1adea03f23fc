"""fix: a repair plan for a broken checkpoint, applied only to a new folder."""

from __future__ import annotations

from whyload.cli.common import app as app
