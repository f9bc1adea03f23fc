"""Checks, one module per category, plus the codes other commands report (integrity: verify,
loading: load, logs: explain). Importing this package registers them all."""

from whyload.checks import (  # noqa: F401
    architecture,
    config,
    environment,
    files,
    integrity,
    loading,
    logs,
    security,
    version,
)
