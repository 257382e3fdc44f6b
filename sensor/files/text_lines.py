"""The lines of a text file as offsets into its bytes, decoded a chunk at a time.

A list of a file's lines as Python strings costs about 60 bytes a line on top
of the text: a 20 MB upload of short rows took 220 MB to parse, and splitting
it was one C call that held the GIL for 0.2 s (a server parses uploads on
threads beside its event loop).  :class:`TextLines` keeps the file's bytes and
one int64 offset per line; readers take the lines in chunks of a few thousand
(:meth:`TextLines.chunk`) and never hold them all as strings.

Decoding is UTF-8 (a leading byte-order mark is skipped), else Latin-1 for the
whole file, as ``bytes.decode`` would do it: a newline byte is a whole character
in both, so any run of lines decodes on its own.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hipflex.sensor.files.limits import check_line_lengths

__all__ = ["TextLines", "file_encoding", "split_lines"]

#: Bytes decoded at once while checking the encoding (bounds the time the GIL is held).
_PIECE_BYTES = 1 << 18
#: First bytes of a line that may make it blank or a comment once decoded and stripped
#: (ASCII whitespace, ``#``); any non-ASCII first byte is checked too (Unicode whitespace).
_SUSPECT_FIRST = np.zeros(256, dtype=bool)
_SUSPECT_FIRST[[9, 11, 12, 13, 28, 29, 30, 31, 32, ord("#")]] = True
_SUSPECT_FIRST[128:] = True


def file_encoding(raw: bytes) -> tuple[str, int]:
    """``("utf-8", start)`` when ``raw`` is valid UTF-8 (``start`` skips a byte-order mark), else ``("latin-1", 0)``.

    Checked in pieces of 256 KiB, keeping nothing of the decoded text.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for a in range(0, len(raw), _PIECE_BYTES):
            decoder.decode(view[a : a + _PIECE_BYTES])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "latin-1", 0
    return "utf-8", len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0


@dataclass(frozen=True)
class TextLines:
    """Some of the lines of a text file, without their ``\\n``.

    Attributes
    ----------
    raw : bytes
        The whole file.
    encoding : str
        ``"utf-8"`` or ``"latin-1"``.
    edges : ndarray of int64
        Line ``j`` is ``raw[edges[j] + 1 : edges[j + 1]]`` (offsets of the newlines around it).
    keep : ndarray of int64 or None
        Indices of the lines in use, increasing (``None``: all of them).
    """

    raw: bytes
    encoding: str
    edges: NDArray[np.int64]
    keep: NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return len(self.edges) - 1 if self.keep is None else len(self.keep)

    def indices(self) -> NDArray[np.int64]:
        """Index of each line in use among all the lines."""
        return np.arange(len(self.edges) - 1, dtype=np.int64) if self.keep is None else self.keep

    def line(self, j: int) -> str:
        """Line ``j`` of all the lines, decoded."""
        return self.raw[int(self.edges[j]) + 1 : int(self.edges[j + 1])].decode(self.encoding)

    def chunk(self, a: int, b: int) -> list[str]:
        """The lines in use ``a`` to ``b - 1``, decoded."""
        b = min(b, len(self))
        if a >= b:
            return []
        idx = np.arange(a, b) if self.keep is None else self.keep[a:b]
        first, last = int(idx[0]), int(idx[-1])
        if last - first == b - a - 1:  # consecutive lines: one decode, one split
            text = self.raw[int(self.edges[first]) + 1 : int(self.edges[last + 1])].decode(self.encoding)
            return text.split("\n")
        return [self.line(int(j)) for j in idx]

    def first_byte_suspects(self) -> NDArray[np.int64]:
        """Indices (among all lines) of the lines that may be blank or comments: empty ones, and those
        whose first byte is whitespace, ``#`` or not ASCII."""
        starts = self.edges[:-1] + 1
        empty = starts >= self.edges[1:]
        first = np.frombuffer(self.raw, dtype=np.uint8)[np.minimum(starts, max(len(self.raw) - 1, 0))]
        return np.flatnonzero(empty | _SUSPECT_FIRST[first])

    def has_empty(self) -> bool:
        """Whether any of all the lines is empty."""
        return bool(np.any(np.diff(self.edges) == 1))

    def without_blank_and_comments(self) -> TextLines:
        """The lines in use that hold something besides whitespace and do not start with ``#``."""
        dropped = [int(j) for j in self.first_byte_suspects() if not (u := self.line(int(j)).strip()) or u[0] == "#"]
        if not dropped:
            return self
        keep = np.setdiff1d(self.indices(), np.asarray(dropped, dtype=np.int64), assume_unique=True)
        return replace(self, keep=keep)

    def without_last(self) -> TextLines:
        """All but the last line in use."""
        if self.keep is None:
            return replace(self, edges=self.edges[:-1])
        return replace(self, keep=self.keep[:-1])

    def check_lengths(self, source: str | Path, first_line: int, most: int) -> None:
        """Refuse a line longer than ``most`` characters (as
        :func:`~hipflex.sensor.files.limits.check_line_lengths`, from the byte lengths: no decoding but
        of the lines whose bytes exceed it).  ``first_line`` is the file line number of line 0.
        """
        long_ones = np.flatnonzero(np.diff(self.edges) - 1 > most)
        if long_ones.size:
            check_line_lengths(
                source, [self.line(int(j)) for j in long_ones], numbers=[int(j) + first_line for j in long_ones]
            )


def split_lines(raw: bytes, start: int, encoding: str) -> TextLines:
    """The lines of ``raw[start:]``, as ``str.split("\\n")`` would give them, but a final empty
    line (after a last newline) is left out."""
    nl = np.flatnonzero(np.frombuffer(raw, dtype=np.uint8)[start:] == ord("\n")) + start
    edges = np.concatenate(([start - 1], nl, [len(raw)])).astype(np.int64)
    if len(edges) > 1 and edges[-1] - edges[-2] == 1:  # empty last line: the file ends with a newline
        edges = edges[:-1]
    return TextLines(raw, encoding, edges)
