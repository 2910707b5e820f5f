"""Render workbooks as a person sees them: LibreOffice (headless) turns an XLSX into a PDF,
``pdftotext`` reads back the text on the page and ``pdftoppm`` makes pictures of it.

LibreOffice prints what a spreadsheet program shows: a number too wide for its column
becomes ``###``, text is cut where its cell ends (the cut words are not in the PDF at all),
and a wrapped cell in too short a row loses the lines that do not fit. So what
``pdftotext`` reads back is what an accountant can read.

    with Renderer() as lo:                      # one profile dir, reused: warm starts
        pdfs = lo.to_pdf([a_xlsx, b_xlsx], out)  # one soffice call for several files
    words = pdf_words(pdfs[0])
    assert find_text(words, "the whole message, wrapped over lines or not")

``split_sheets`` makes one copy of a workbook per sheet with the other sheets hidden (hidden
sheets are not printed), so each sheet's pages can be told apart.

The ``renderer`` fixture (import it into a test module) gives a session-wide
:class:`Renderer`. When soffice, pdftotext or pdftoppm is missing it skips, except under
``CI=true``, where it FAILS: CI must never silently stop checking what people see.
"""

from __future__ import annotations

import contextlib
import html
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import unicodedata
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.mounts import in_ci

# Binary -> the Debian package that provides it (.ci/run installs them when missing).
TOOLS = {"soffice": "libreoffice-calc", "pdftotext": "poppler-utils", "pdftoppm": "poppler-utils"}
# Seconds for one soffice call, plus 2 s per file: a call takes ~2 s for 25 small files here,
# a cold start on a loaded machine ~10 s.
CONVERT_TIMEOUT = 60.0
TOOL_TIMEOUT = 60.0


class RenderError(RuntimeError):
    """LibreOffice or poppler could not render a workbook."""


def missing_tools() -> list[str]:
    """The rendering binaries not on PATH, with the package that provides each."""
    return [
        f"{tool} (Debian package {pkg})" for tool, pkg in TOOLS.items() if not shutil.which(tool)
    ]


def require_renderer() -> None:
    """Skip (outside CI) or fail (CI=true) when a rendering binary is missing."""
    missing = missing_tools()
    if not missing:
        return
    why = "cannot render workbooks, missing: " + ", ".join(missing)
    if in_ci():
        pytest.fail(
            f"{why} — under CI the real-client render test must run (.ci/run installs them)"
        )
    pytest.skip(why)


def _run(args: Sequence[str], *, timeout: float, env: dict[str, str] | None = None) -> str:
    """Run a tool in its own process group; on timeout the whole group (soffice starts
    oosplash and soffice.bin) is killed. Returns stdout; raises RenderError on failure."""
    proc = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RenderError(f"{args[0]} took more than {timeout:.0f} s: {' '.join(args)}") from None
    if proc.returncode != 0:
        raise RenderError(
            f"{args[0]} exited {proc.returncode}: {' '.join(args)}\n"
            f"{err.decode('utf-8', 'replace').strip()}"
        )
    return out.decode("utf-8", "replace")


class Renderer:
    """soffice with its own user profile directory (``-env:UserInstallation``).

    A profile is LibreOffice's per-user state; two soffice processes on one profile hand
    their work to each other or fail, so every Renderer has a fresh one of its own. Calls on
    one Renderer are serialised and reuse the profile (a warm start is several times faster
    than creating the profile again)."""

    def __init__(self, profile: Path | None = None, *, timeout: float = CONVERT_TIMEOUT) -> None:
        self._owned = profile is None
        self.profile = profile or Path(tempfile.mkdtemp(prefix="batchpay-lo-profile-"))
        self.timeout = timeout
        self._lock = threading.Lock()

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.profile, ignore_errors=True)

    def to_pdf(self, sources: Sequence[Path], outdir: Path) -> list[Path]:
        """Convert every XLSX in ``sources`` to ``outdir/<stem>.pdf`` in ONE soffice call;
        returns the PDFs in the order of ``sources``. Stems must be distinct."""
        stems = [Path(s).stem for s in sources]
        if len(set(stems)) != len(stems):
            raise RenderError(f"two sources share a file name stem: {stems}")
        outdir.mkdir(parents=True, exist_ok=True)
        pdfs = [outdir / f"{stem}.pdf" for stem in stems]
        for pdf in pdfs:
            pdf.unlink(missing_ok=True)
        args = [
            "soffice",
            f"-env:UserInstallation={self.profile.resolve().as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            *(str(Path(s).resolve()) for s in sources),
        ]
        # A fixed locale: "#,##0" shows as 1,500,000 whatever the machine's language.
        env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
        with self._lock:
            log = self._convert(args, env, timeout=self.timeout + 2.0 * len(sources))
        missing = [str(s) for s, pdf in zip(sources, pdfs, strict=True) if not pdf.is_file()]
        if missing:
            # soffice exits 0 even when it cannot load a file ("source file could not be
            # loaded"): the missing PDF is the only sign.
            raise RenderError(f"LibreOffice did not render {missing}; its output:\n{log.strip()}")
        return pdfs

    def _convert(self, args: list[str], env: dict[str, str], *, timeout: float) -> str:
        """One soffice call; once more with a new profile if it hangs. (Seen here once in
        ~20 calls on a loaded machine: soffice.bin idle, never exiting. The second call
        is the same conversion, so a real fault still fails, with both messages.)"""
        try:
            return _run(args, timeout=timeout, env=env)
        except RenderError as first:
            if "took more than" not in str(first):
                raise
            shutil.rmtree(self.profile, ignore_errors=True)
            try:
                return _run(args, timeout=timeout, env=env)
            except RenderError as second:
                raise RenderError(f"{first}\nthen, with a new profile: {second}") from None


def to_pdf(
    sources: Sequence[Path], outdir: Path, *, timeout: float = CONVERT_TIMEOUT
) -> list[Path]:
    """One conversion with a fresh profile of its own (safe beside any other soffice)."""
    with Renderer(timeout=timeout) as renderer:
        return renderer.to_pdf(sources, outdir)


# --- reading a PDF back -------------------------------------------------------------------


def pdf_text(pdf: Path, *, layout: bool = True) -> str:
    """The PDF's text as ``pdftotext -layout`` lays it out (pages separated by form feeds)."""
    args = ["pdftotext", "-enc", "UTF-8", *(["-layout"] if layout else []), str(pdf), "-"]
    return _run(args, timeout=TOOL_TIMEOUT)


def page_count(pdf: Path) -> int:
    return pdf_text(pdf).rstrip("\f").count("\f") + 1


def to_png(
    pdf: Path,
    prefix: Path,
    *,
    first: int = 1,
    last: int = 1,
    dpi: int = 110,
    box: tuple[float, float, float, float] | None = None,
) -> list[Path]:
    """Pages ``first``..``last`` as ``<prefix>-<n>.png`` (pdftoppm), cut to ``box``
    (x0, y0, x1, y1 in points) when given; returns the files."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    for old in prefix.parent.glob(f"{prefix.name}-*.png"):
        old.unlink()
    crop: list[str] = []
    if box is not None:
        scale = dpi / 72
        x0, y0, x1, y1 = (round(v * scale) for v in box)
        crop = ["-x", str(x0), "-y", str(y0), "-W", str(x1 - x0), "-H", str(y1 - y0)]
    args = ["pdftoppm", "-png", "-r", str(dpi), "-f", str(first), "-l", str(last), *crop]
    _run([*args, str(pdf), str(prefix)], timeout=TOOL_TIMEOUT)
    made = sorted(prefix.parent.glob(f"{prefix.name}-*.png"))
    if not made:
        raise RenderError(f"pdftoppm made no picture of {pdf} pages {first}-{last}")
    return made


@dataclass(frozen=True)
class Word:
    """One word on a page, in PDF points (origin top left)."""

    page: int
    x0: float
    y0: float
    x1: float
    y1: float
    text: str

    @property
    def height(self) -> float:
        return self.y1 - self.y0


_WORD = re.compile(
    r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>'
)


def pdf_words(pdf: Path) -> list[Word]:
    """Every word with its box (``pdftotext -bbox``)."""
    out = _run(["pdftotext", "-enc", "UTF-8", "-bbox", str(pdf), "-"], timeout=TOOL_TIMEOUT)
    words: list[Word] = []
    for page, chunk in enumerate(out.split("<page ")[1:], start=1):
        for m in _WORD.finditer(chunk):
            x0, y0, x1, y1 = (float(g) for g in m.groups()[:4])
            words.append(Word(page, x0, y0, x1, y1, html.unescape(m.group(5))))
    return words


def content_box(
    words: Sequence[Word], page: int = 1, *, margin: float = 18.0
) -> tuple[float, float, float, float] | None:
    """The area of ``page`` that holds text (a chart is framed by its labels), plus a
    margin: what a picture of the page needs to show."""
    on = [w for w in words if w.page == page]
    if not on:
        return None
    return (
        max(min(w.x0 for w in on) - margin, 0.0),
        max(min(w.y0 for w in on) - margin, 0.0),
        max(w.x1 for w in on) + margin,
        max(w.y1 for w in on) + margin,
    )


def squash(text: str) -> str:
    """Compatibility-normalised, every whitespace removed: what is compared, since where a
    cell wraps (or breaks a long word) is the renderer's choice."""
    return "".join(unicodedata.normalize("NFKC", text).split())


class PageText:
    """Words grouped into visual lines, for :meth:`find` (a wrapped cell reads as runs of
    words on consecutive lines that start at the same left edge)."""

    # Words of one cell are a space apart (about 0.25 of the line height); two cells'
    # texts are further apart (cell padding on both sides), unless text runs into a cell.
    GAP = 0.4
    LEFT_TOLERANCE = 2.5  # points: wrapped lines start at the cell's left edge
    NEXT_LINE = (0.3, 1.8)  # a wrapped line is this many line heights below the previous

    def __init__(self, words: Sequence[Word]) -> None:
        ordered = sorted(words, key=lambda w: (w.page, w.y0, w.x0))
        lines: list[list[Word]] = []
        for w in ordered:
            last = lines[-1][0] if lines else None
            if last is not None and last.page == w.page and abs(last.y0 - w.y0) <= 1.0:
                lines[-1].append(w)
            else:
                lines.append([w])
        self.lines = [sorted(line, key=lambda w: w.x0) for line in lines]
        self.keys = [[squash(w.text) for w in line] for line in self.lines]
        self._starts: dict[str, list[tuple[int, int]]] = {}
        for li, keys in enumerate(self.keys):
            for wi, key in enumerate(keys):
                self._starts.setdefault(key, []).append((li, wi))
        self._longest = max((len(k) for k in self._starts), default=0)

    @property
    def text(self) -> str:
        return "\n".join(" ".join(w.text for w in line) for line in self.lines)

    def find(self, text: str) -> bool:
        """Whether ``text`` is shown whole: its words in order, as one run of words on a
        line or as runs on consecutive lines that start at the same left edge (a wrapped
        cell). Whitespace and line breaks are ignored, characters are not: a word cut at a
        cell edge, or a line lost in a row too short for it, makes it False."""
        target = squash(text)
        if not target:
            return True
        for n in range(1, min(len(target), self._longest) + 1):
            for li, wi in self._starts.get(target[:n], ()):
                word = self.lines[li][wi]
                lefts = (word.x0, self._cell_left(li, wi))
                if self._extend(target, n, li, wi, lefts):
                    return True
        return False

    def _cell_left(self, li: int, wi: int) -> float:
        """The left edge of the run of closely spaced words that ``wi`` belongs to."""
        line = self.lines[li]
        while wi > 0 and line[wi].x0 - line[wi - 1].x1 <= self.GAP * line[wi].height:
            wi -= 1
        return line[wi].x0

    def _extend(self, target: str, pos: int, li: int, wi: int, lefts: tuple[float, ...]) -> bool:
        if pos == len(target):
            return True
        rest = target[pos:]
        line, keys = self.lines[li], self.keys[li]
        here = line[wi]
        if wi + 1 < len(line):
            gap = line[wi + 1].x0 - here.x1
            key = keys[wi + 1]
            close = gap <= self.GAP * here.height
            if close and key and rest.startswith(key):
                if self._extend(target, pos + len(key), li, wi + 1, lefts):
                    return True
        low, high = self.NEXT_LINE
        for lj in range(li + 1, len(self.lines)):
            first = self.lines[lj][0]
            dy = first.y0 - here.y0
            if first.page != here.page or dy > high * here.height:
                break
            if dy < low * here.height:
                continue
            for wj, w in enumerate(self.lines[lj]):
                key = self.keys[lj][wj]
                aligned = any(abs(w.x0 - left) <= self.LEFT_TOLERANCE for left in lefts)
                if aligned and key and rest.startswith(key):
                    if self._extend(target, pos + len(key), lj, wj, lefts):
                        return True
        return False

    def missing(self, texts: Sequence[str]) -> list[str]:
        """The texts (deduplicated, in order) that are not shown whole."""
        return [t for t in dict.fromkeys(texts) if not self.find(t)]


def find_text(words: Sequence[Word], text: str) -> bool:
    return PageText(words).find(text)


# --- one copy per sheet -------------------------------------------------------------------

_SHEET = re.compile(r"<sheet\b[^>]*?/>")
_NAME = re.compile(r'\bname="([^"]*)"')
_STATE = re.compile(r'\s+state="[^"]*"')
_HIDDEN = re.compile(r'\bstate="(hidden|veryHidden)"')
_VIEW = re.compile(r"<workbookView\b([^>]*?)(/?)>")
_VIEW_ATTRS = re.compile(r'\s+(activeTab|firstSheet)="[^"]*"')


def sheet_names(xlsx: Path) -> list[str]:
    """The visible sheets of a workbook, in tab order."""
    with zipfile.ZipFile(xlsx) as z:
        book = z.read("xl/workbook.xml").decode("utf-8")
    return [
        html.unescape(m.group(1))
        for el in _SHEET.findall(book)
        if (m := _NAME.search(el)) and not _HIDDEN.search(el)
    ]


def _only(book: str, keep: int) -> str:
    """workbook.xml with every sheet but the ``keep``-th (0-based, of all) hidden."""
    elements = _SHEET.findall(book)
    pieces = _SHEET.split(book)
    out = [pieces[0]]
    for i, el in enumerate(elements):
        if i != keep:
            el = _STATE.sub("", el)[:-2].rstrip() + ' state="hidden"/>'
        out += [el, pieces[i + 1]]
    joined = "".join(out)
    return _VIEW.sub(
        lambda m: (
            f'<workbookView{_VIEW_ATTRS.sub("", m.group(1))} activeTab="{keep}"'
            f' firstSheet="{keep}"{m.group(2)}>'
        ),
        joined,
        count=1,
    )


def split_sheets(xlsx: Path, outdir: Path) -> dict[str, Path]:
    """One copy of ``xlsx`` per visible sheet, with every other sheet hidden (LibreOffice
    prints no hidden sheet): ``outdir/<stem>~<n>.xlsx``, keyed by sheet name."""
    outdir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(xlsx) as z:
        book = z.read("xl/workbook.xml").decode("utf-8")
        entries = [(info, z.read(info)) for info in z.infolist()]
    copies: dict[str, Path] = {}
    for i, el in enumerate(_SHEET.findall(book)):
        m = _NAME.search(el)
        if m is None or _HIDDEN.search(el):
            continue
        target = outdir / f"{xlsx.stem}~{i + 1}.xlsx"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
            for info, data in entries:
                if info.filename == "xl/workbook.xml":
                    data = _only(book, i).encode("utf-8")
                out.writestr(info, data)
        copies[html.unescape(m.group(1))] = target
    return copies


# --- the fixture --------------------------------------------------------------------------


@pytest.fixture(name="renderer", scope="session")
def renderer_fixture() -> Iterator[Renderer]:
    """A session-wide :class:`Renderer`; skips without LibreOffice/poppler, FAILS under CI."""
    require_renderer()
    with Renderer() as renderer:
        yield renderer
