"""Typed results: every driver returns one of these; files and terminal lines come from them.

A :class:`Result` has ``to_dict()`` (the JSON document written to disk) and ``format()`` (the
lines printed by the command line); it also reads like that dict (``summary["cross_section_pb"]``),
so scripts written against the JSON work on the object unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

__all__ = ["Result"]


class Result(Mapping):
    """Base of the run, scan and validation results: a read-only mapping view of ``to_dict()``."""

    def to_dict(self) -> dict:
        raise NotImplementedError

    def format(self) -> str:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())
