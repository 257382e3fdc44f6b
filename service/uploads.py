"""Uploads off the event loop: the body streamed to disk, the multipart parsed on the analysis pool.

Starlette's ``request.form()`` parses a multipart body on the event loop (in
Python, a few MB at a time); fifty concurrent uploads of tens of MB kept the
loop busy long enough that ``GET /sessions`` answered at p95 170 ms.  Here
the loop only moves bytes: :func:`receive_body` appends the body to a file in
the server's temporary folder, in the chunks the connection delivers, writing
about a MiB at a time in a worker thread and yielding to the loop after every
chunk.  :func:`extract_file` then runs on the analysis pool and copies the
``file`` part out of that body in bounded chunks, checking its cancel event
between them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

from fastapi import HTTPException, Request
from fastapi.exceptions import RequestValidationError

from hipflex.service.analysis_pool import Cancelled

__all__ = ["FILE_FIELD", "UploadedFile", "extract_file", "multipart_boundary", "receive_body"]

#: The form field that carries the recording.
FILE_FIELD = "file"
#: Bytes written to disk at once while a body streams in (bounds the memory of one upload).
WRITE_BYTES = 1 << 20
#: Bytes of the saved body parsed between two looks at the cancel event.
PARSE_BYTES = 1 << 20


def missing_file(msg: str = "Field required", kind: str = "missing") -> RequestValidationError:
    """The 422 for a body without a ``file`` part, as FastAPI's own validation reports it."""
    return RequestValidationError([{"loc": ("body", FILE_FIELD), "msg": msg, "type": kind}])


def multipart_boundary(content_type: str | None) -> bytes:
    """The boundary of a ``multipart/form-data`` body (read from its header; nothing of the body is read).

    Raises
    ------
    HTTPException
        422 for another content type (there is no ``file`` part), 400 without a boundary.
    """
    from python_multipart.multipart import parse_options_header

    kind, options = parse_options_header(content_type or "")
    if kind != b"multipart/form-data":
        raise missing_file()
    boundary = options.get(b"boundary", b"")
    if not boundary or len(boundary) > 200:
        raise HTTPException(400, "Missing boundary in multipart.")
    return boundary


async def receive_body(request: Request, dst: Path, limit_bytes: int) -> int:
    """Append the request body to ``dst``, enforcing ``limit_bytes`` as it streams.

    The loop only gathers the chunks the connection delivers (about 64 KiB) and
    hands each MiB to a worker thread to write, so neither a slow disk nor a
    large body holds it; it yields after every chunk even when the next one is
    already buffered.

    Returns
    -------
    int
        The body's size, bytes.

    Raises
    ------
    HTTPException
        413 beyond ``limit_bytes``.
    Cancelled
        The client went away before the body was complete.
    """
    from starlette.requests import ClientDisconnect

    size = 0
    pending = bytearray()
    fh: IO[bytes] = await asyncio.to_thread(open, dst, "wb")
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit_bytes:
                raise HTTPException(413, f"request body too large: the limit is {limit_bytes} bytes")
            pending += chunk
            if len(pending) >= WRITE_BYTES:
                block, pending = bytes(pending), bytearray()
                await asyncio.to_thread(fh.write, block)
            else:
                await asyncio.sleep(0)
        if pending:
            await asyncio.to_thread(fh.write, bytes(pending))
    except ClientDisconnect:
        raise Cancelled("the client went away during the upload") from None
    finally:
        await asyncio.to_thread(fh.close)
    return size


@dataclass(frozen=True)
class UploadedFile:
    """The ``file`` part of an upload, saved on its own."""

    name: str  # the client's file name, without folders (for messages and ``source``)
    path: Path


def _clean_name(raw: bytes) -> str:
    name = raw.decode("utf-8", errors="replace").replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name[:200] or "upload"


class _FileCatcher:
    """Callbacks of ``python_multipart.MultipartParser`` that copy the first ``file`` part to disk."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.name: str | None = None
        self.text_field = False  # a ``file`` field without a file name (a plain value)
        self._out: IO[bytes] | None = None
        self._field: bytearray = bytearray()
        self._value: bytearray = bytearray()
        self._headers: dict[bytes, bytes] = {}

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": lambda d, a, b: self._field.extend(d[a:b]),
            "on_header_value": lambda d, a, b: self._value.extend(d[a:b]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_end(self) -> None:
        self._headers[bytes(self._field).lower()] = bytes(self._value)
        self._field, self._value = bytearray(), bytearray()

    def _headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        if options.get(b"name") != FILE_FIELD.encode() or self.name is not None:
            return  # other fields, and later ``file`` parts, are skipped
        if b"filename" not in options:
            self.text_field = True
            return
        self.name = _clean_name(options[b"filename"])
        # The file keeps its suffix (``upload.csv``): readers may recognise a format by it.
        suffix = "".join(c for c in Path(self.name).suffix if c.isascii() and (c.isalnum() or c in "._-"))
        self.path = self.folder / f"upload{suffix[:16]}"
        self._out = open(self.path, "wb")  # closed at the part's end, or by close()

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._out is not None:
            self._out.write(data[start:end])

    def _part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


def extract_file(body: Path, boundary: bytes, folder: Path, cancel: threading.Event) -> UploadedFile:
    """Copy the ``file`` part of the multipart body saved in ``body`` into ``folder`` (runs on the analysis pool).

    Reads ``body`` in chunks of :data:`PARSE_BYTES`, checking ``cancel`` between them.

    Raises
    ------
    HTTPException
        400 for a malformed body, 422 without a ``file`` part that carries a file.
    Cancelled
    """
    from python_multipart import MultipartParser
    from python_multipart.exceptions import FormParserError

    catcher = _FileCatcher(folder)
    parser = MultipartParser(boundary, catcher.callbacks())
    try:
        with open(body, "rb") as fh:
            while chunk := fh.read(PARSE_BYTES):
                if cancel.is_set():
                    raise Cancelled("upload cancelled")
                parser.write(chunk)
        parser.finalize()
    except FormParserError:
        raise HTTPException(400, "Invalid multipart data.") from None
    finally:
        catcher.close()
    if catcher.name is None or catcher.path is None:
        if catcher.text_field:
            raise missing_file("Expected a file (a part with a file name), received a plain value", "value_error")
        raise missing_file()
    return UploadedFile(catcher.name, catcher.path)
