"""Receiving an uploaded sheet: the multipart body is parsed as it streams in, the file part
goes straight to ``$BATCHPAY_HOME/uploads/<random>.part`` (0600) with its size counted, and
the upload stops the moment it passes the limit — an unbounded body is never held in memory
nor written in full. The form's CSRF token is checked before the first byte of the file is
written (the form puts it first). The client's file name is only ever *shown*: the stored
file is named by a random token and a suffix from an allow-list."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from python_multipart.multipart import MultipartParser, parse_options_header

from batchpay.config import ensure_private_dir
from batchpay.sheet.model import CSV_SUFFIXES, XLSX_SUFFIXES

MAX_UPLOAD_BYTES = 20 * 1000 * 1000  # 20 MB
_MAX_FIELD_BYTES = 4096
_MAX_FIELDS = 16
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
ALLOWED_SUFFIXES = CSV_SUFFIXES + XLSX_SUFFIXES


class UploadTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the file is larger than {limit // 1_000_000} MB")
        self.limit = limit


class BadForm(Exception):
    """The body is not the upload form (not multipart, no file, a field too long)."""


class CsrfRefused(Exception):
    pass


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    display_name: str = ""  # the client's name, cleaned, for messages only
    stored: Path | None = None  # uploads/<random><suffix>, or None: no allowed suffix
    size: int = 0


def display_name(raw: str) -> str:
    """``C:\\Users\\siti\\bonus.xlsx`` → ``bonus.xlsx``: the last path part, no control
    characters, at most 120 characters. Shown (escaped), never opened."""
    name = PurePosixPath(raw.replace("\\", "/")).name
    name = _CONTROL.sub("", name).strip()[-120:]
    return name if name not in ("", ".", "..") else "upload"


def stored_suffix(name: str) -> str | None:
    suffix = PurePosixPath(name).suffix.lower()
    return suffix if suffix in ALLOWED_SUFFIXES else None


class _Receiver:
    """python-multipart callbacks: small fields into ``upload.fields``, the one file part
    into a private file, the size limit enforced on every chunk."""

    def __init__(self, folder: Path, limit: int, csrf_ok: Callable[[dict[str, str]], bool]):
        self.folder, self.limit, self.csrf_ok = folder, limit, csrf_ok
        self.upload = Upload()
        self.part: Path | None = None
        self.fd: int | None = None
        self._header_field = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._value = bytearray()
        self._file_seen = False

    def on_part_begin(self) -> None:
        self._headers, self._name, self._value = {}, "", bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        # A body sent chunked has no Content-Length to refuse early: bound every piece.
        if len(self._header_field) + len(self._header_value) > _MAX_FIELD_BYTES:
            raise BadForm("a part's header is too long")
        if len(self._headers) > _MAX_FIELDS:
            raise BadForm("a part has too many headers")

    def on_header_end(self) -> None:
        self._headers[self._header_field.lower()] = self._header_value
        self._header_field, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            return
        if self._file_seen:
            raise BadForm("one file per upload")
        if not self.csrf_ok(self.upload.fields):
            raise CsrfRefused
        self._file_seen = True
        self.upload.display_name = display_name(filename.decode("utf-8", "replace"))
        ensure_private_dir(self.folder)
        self.part = self.folder / f"{secrets.token_hex(16)}.part"
        self.fd = os.open(self.part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.fd is not None:
            self.upload.size += end - start
            if self.upload.size > self.limit:
                raise UploadTooLarge(self.limit)
            view = memoryview(data)[start:end]
            while view:
                view = view[os.write(self.fd, view) :]
            return
        self._value += data[start:end]
        if len(self._value) > _MAX_FIELD_BYTES:
            raise BadForm(f"the form field {self._name!r} is too long")

    def on_part_end(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            return
        if len(self.upload.fields) >= _MAX_FIELDS:
            raise BadForm("too many form fields")
        self.upload.fields[self._name] = self._value.decode("utf-8", "replace")

    def finish(self) -> Upload:
        if self.part is None:
            if not self.csrf_ok(self.upload.fields):
                raise CsrfRefused
            raise BadForm("no file in the upload")
        suffix = stored_suffix(self.upload.display_name)
        if suffix is None:
            self.part.unlink(missing_ok=True)
        else:
            self.upload.stored = self.part.with_suffix(suffix)
            os.replace(self.part, self.upload.stored)
        return self.upload

    def discard(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.part is not None:
            self.part.unlink(missing_ok=True)


async def receive_upload(
    content_type: str,
    content_length: str | None,
    body: AsyncIterator[bytes],
    folder: Path,
    *,
    csrf_ok: Callable[[dict[str, str]], bool],
    limit: int = MAX_UPLOAD_BYTES,
) -> Upload:
    """Parse the multipart ``body`` as it arrives; raises :class:`UploadTooLarge`,
    :class:`CsrfRefused` or :class:`BadForm`, leaving no file behind."""
    if content_length is not None and content_length.isdigit():
        # The file's bytes plus the form's few fields; refuse at once, reading nothing.
        if int(content_length) > limit + 64 * 1024:
            raise UploadTooLarge(limit)
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadForm("not a file upload")
    receiver = _Receiver(folder, limit, csrf_ok)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
        return receiver.finish()
    except (UploadTooLarge, CsrfRefused, BadForm):
        receiver.discard()
        raise
    except Exception as exc:  # python-multipart's parse errors: a malformed body
        receiver.discard()
        raise BadForm(f"the upload is malformed ({type(exc).__name__})") from None
    except BaseException:
        receiver.discard()
        raise
