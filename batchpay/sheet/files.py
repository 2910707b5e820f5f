"""Reading a sheet file's bytes, and the one-line errors for files that are not what their
name says (old .xls, a password-protected workbook, a zip or a web page with the wrong name)."""

from __future__ import annotations

from pathlib import Path

from batchpay.errors import InputError

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
# Excel stores a password-protected .xlsx as an OLE2 container holding this stream.
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")


def read_bytes(p: Path) -> bytes:
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: file not found", hint="check the path and the file name") from None
    except IsADirectoryError:
        raise InputError(
            f"{p}: is a folder, not a file", hint="give the path of the .xlsx or .csv file"
        ) from None
    except OSError as exc:
        raise InputError(
            f"{p}: cannot be read ({exc.strerror or exc})",
            hint="close it in Excel or check its permissions, then try again",
        ) from None
    if not data:
        raise InputError(
            f"{p.name}: the file is empty (0 bytes)",
            hint="save the sheet again from Excel and retry",
        )
    return data


def unsupported(p: Path) -> InputError:
    if p.suffix.lower() == ".xls":
        return InputError(
            f"{p.name}: old Excel 97-2003 (.xls) files are not supported",
            hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
        )
    shown = p.suffix or "no extension"
    return InputError(
        f"{p.name}: unsupported file type ({shown})", hint="save the sheet as .xlsx or .csv"
    )


def ole2_error(p: Path, data: bytes) -> InputError:
    # Both an encrypted .xlsx and a real .xls are OLE2 containers; only the former holds
    # an EncryptionInfo stream (MS-OFFCRYPTO §2.3.4).
    if _ENCRYPTION_STREAM in data:
        return encrypted_error(p)
    return InputError(
        f"{p.name}: this is an old Excel 97-2003 (.xls) file with a {p.suffix} name",
        hint="open it in Excel and use Save As → Excel Workbook (.xlsx)",
    )


def encrypted_error(p: Path) -> InputError:
    return InputError(
        f"{p.name}: the workbook is password-protected",
        hint="open it in Excel, remove the password (File → Info → Protect "
        "Workbook) and save it as .xlsx",
    )


def looks_like_text(data: bytes) -> bool:
    head = data[:4096]
    return b"\x00" not in head


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:160]
