"""Byte sources: where a snapshot's bytes come from, a local folder or a remote store.

The readers take a seekable binary file and a size; a source hands them one, whichever side of
the network the bytes are on, so there is one reader per format and no second remote one:

    ByteSource
    ├── inventory()     the files (names, sizes, what their first bytes are), as take_inventory
    └── open(name)      a seekable binary file: a local file, or a RangedFile that fetches
                        only the ranges a reader asks for (and counts them)

`LocalSource` is a folder. Remote sources (whyload.sources.remote) are built by
whyload.resolve for hf://, s3://, gs://, https:// and any fsspec URL; their modules import
huggingface_hub and fsspec lazily, so a local check never loads them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from whyload.readers.inventory import Inventory, take_inventory

if TYPE_CHECKING:
    from whyload.sources.remote import RemoteStats


class ByteSource(Protocol):
    """What a snapshot reads a model through."""

    @property
    def remote(self) -> bool: ...

    def inventory(self) -> Inventory: ...

    def open(self, name: str) -> BinaryIO: ...

    def stats(self) -> RemoteStats | None: ...


class LocalSource:
    """A folder on this machine: the inventory is take_inventory's, a file is open()'s."""

    remote = False

    def __init__(self, root: Path) -> None:
        self.root = root

    def inventory(self) -> Inventory:
        return take_inventory(self.root)

    def open(self, name: str) -> BinaryIO:
        return (self.root / name).open("rb")

    def stats(self) -> RemoteStats | None:
        return None
