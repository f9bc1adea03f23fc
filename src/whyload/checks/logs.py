"""Failures only a log shows (`whyload explain`): errors raised at run time, network and hub
errors."""

from __future__ import annotations
