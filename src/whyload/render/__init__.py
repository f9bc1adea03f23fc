"""Reports -> strings. Renderers never print: the CLI does."""

from __future__ import annotations


def printable(value: str) -> str:
    """File names that are not UTF-8 reach Python as lone surrogates, which terminals cannot
    show and strict JSON parsers reject: write their bytes as \\xNN text instead."""
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (from a JSON \ud800)
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
