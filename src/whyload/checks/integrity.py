"""Integrity: what `whyload verify` proves by reading every byte (hashes, zip CRCs, tensor values)
and what a whyload.lock records."""

from __future__ import annotations
