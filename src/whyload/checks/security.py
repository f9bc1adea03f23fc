"""Security (WL6xx): pickles that would run code when loaded, custom code that from_pretrained would
import. The pickle is disassembled, never loaded."""

from __future__ import annotations
