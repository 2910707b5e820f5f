"""The streamed upload parser (batchpay/web/uploads.py): a chunked body with no
Content-Length is still stopped at the limit, an oversized part header is refused, the CSRF
check runs before the file's first byte is written, and the client's name is only shown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

pytest.importorskip("python_multipart")

from batchpay.web.uploads import (
    BadForm,
    CsrfRefused,
    Upload,
    UploadTooLarge,
    display_name,
    receive_upload,
)

Check = Callable[[dict[str, str]], bool]
HEAD = (
    b'--XX\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\ntok\r\n'
    b'--XX\r\nContent-Disposition: form-data; name="file"; filename="C:\\\\x\\\\bonus.csv"\r\n\r\n'
)
TYPE = "multipart/form-data; boundary=XX"


async def _chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def _receive(
    parts: list[bytes],
    folder: Path,
    *,
    limit: int = 10_000,
    csrf: Callable[..., bool] | None = None,
) -> Upload:
    ok = csrf or (lambda fields: fields.get("csrf_token") == "tok")
    return asyncio.run(receive_upload(TYPE, None, _chunks(parts), folder, csrf_ok=ok, limit=limit))


def test_web_uploads_chunked_body_over_limit_stopped_nothing_kept(tmp_path: Path) -> None:
    with pytest.raises(UploadTooLarge):
        _receive([HEAD] + [b"x" * 1000] * 50, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_web_uploads_huge_part_header_refused(tmp_path: Path) -> None:
    body = b'--XX\r\nContent-Disposition: form-data; name="a"\r\nX-Big: ' + b"y" * 20_000
    with pytest.raises(BadForm):
        _receive([body], tmp_path)


def test_web_uploads_csrf_checked_before_the_file_is_written(tmp_path: Path) -> None:
    seen: list[dict[str, str]] = []

    def refuse(fields: dict[str, str]) -> bool:
        seen.append(dict(fields))
        return False

    with pytest.raises(CsrfRefused):
        _receive([HEAD, b"a,b\r\n"], tmp_path, csrf=refuse)
    assert seen == [{"csrf_token": "tok"}]
    assert not (tmp_path / "uploads").exists() and list(tmp_path.iterdir()) == []


def test_web_uploads_small_chunks_stored_private_random_name(tmp_path: Path) -> None:
    body = HEAD + b"a,b\r\n1,2\r\n" + b"\r\n--XX--\r\n"
    got = _receive([body[i : i + 7] for i in range(0, len(body), 7)], tmp_path)
    assert got.display_name == "bonus.csv"
    assert got.stored is not None and got.stored.parent == tmp_path
    assert got.stored.name != "bonus.csv" and got.stored.suffix == ".csv"
    assert got.stored.read_bytes() == b"a,b\r\n1,2\r\n"
    assert got.stored.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\siti\\bonus.xlsx", "bonus.xlsx"),
        ("bo\x00nus\n.csv", "bonus.csv"),
        ("..", "upload"),
        ("", "upload"),
    ],
)
def test_web_uploads_display_name_is_a_bare_name(raw: str, shown: str) -> None:
    assert display_name(raw) == shown
