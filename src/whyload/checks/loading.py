"""What a real load in a child process (`whyload load`) showed: how it ended, what it loaded."""

from __future__ import annotations
