"""The few real exceptions. Everything a target can be wrong about is a Finding instead."""

from __future__ import annotations


class WhyloadError(Exception):
    """Base class: the CLI prints the message and exits with 2."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  -> {self.hint}" if self.hint else self.message


class UsageError(WhyloadError):
    """The command line asks for something that cannot be done."""


class TargetError(WhyloadError):
    """The target cannot be examined at all (missing, unreadable, not a model location)."""

    def __init__(self, target: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.target = target
