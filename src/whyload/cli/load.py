"""load: a real from_pretrained in an isolated, memory-capped child process."""

from __future__ import annotations

from whyload.cli.common import app as app
