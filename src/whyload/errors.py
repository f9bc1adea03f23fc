"""The few real exceptions. Everything a target can be wrong about is a Finding instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from whyload.report import Report


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


class MissingExtra(UsageError):
    """A command needs a package that only one of whyload's extras installs."""

    def __init__(self, what: str, modules: Sequence[str], extra: str) -> None:
        super().__init__(f"{what} needs {' and '.join(modules)}, which "
                         f"{'is' if len(modules) == 1 else 'are'} not installed here",
                         hint=f"pip install 'whyload[{extra}]'")
        self.modules = tuple(modules)

    @classmethod
    def check(cls, what: str, modules: Sequence[str], extra: str) -> None:
        """Raise when one of `modules` cannot be imported (found without importing it)."""
        import importlib.util

        missing = [m for m in modules if importlib.util.find_spec(m) is None]
        if missing:
            raise cls(what, missing, extra)


class TargetError(WhyloadError):
    """The target cannot be examined at all (missing, unreadable, not a model location)."""

    def __init__(self, target: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.target = target


class LoadRefused(WhyloadError):
    """whyload.load would not hand out the model; `report` says why."""

    def __init__(self, message: str, report: Report, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.report = report


class PreflightRefused(LoadRefused):
    """`whyload.check` says the load fails: nothing was loaded."""


class LoadFailed(LoadRefused):
    """from_pretrained raised; the original exception is the __cause__."""


class RandomWeightsRefused(LoadRefused):
    """The model loaded with weights at random that allow_random does not name."""

    def __init__(self, message: str, report: Report, random: Sequence[str]) -> None:
        super().__init__(message, report, hint="pass allow_random=(\"classifier.*\",) when a "
                         "new head is what you want (fine-tuning)")
        self.random = tuple(random)
