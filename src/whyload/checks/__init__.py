"""Checks, one module per category. Importing this package registers them all."""

from whyload.checks import architecture, config, environment, files, version  # noqa: F401
