"""The Chinese font of the PDFs the platform writes (reports, mediation agreements).

Where a TrueType font with Chinese glyphs is on the machine, it is embedded, cut down to the
glyphs a document uses: the PDF then looks the same in every viewer and may be archived
(archival PDF requires embedded fonts, and a mediation agreement 调解协议书 is kept for years).
Otherwise the document names Adobe's STSong-Light, a CID font that reportlab knows without a
file and that a Chinese-capable viewer replaces with a font of its own; a viewer without one
shows boxes.

``ZHIWANG_PDF_FONT`` chooses: empty looks for a font in the usual places (Debian's
``fonts-wqy-microhei``, which ``make test`` installs, then others); a path (``path#N`` for the
N-th font of a collection, ``.ttc``) names one; ``none`` always uses STSong-Light (smaller
files). Fonts with PostScript outlines (most ``.otf``, Noto/Source Han CJK) cannot be embedded
by reportlab and are skipped. A configured font that cannot be used is a system-check warning,
and the documents fall back to STSong-Light rather than fail.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

CID_FONT = "STSong-Light"
# Looked for in this order when ZHIWANG_PDF_FONT is empty: TrueType outlines only.
CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",  # Debian/Ubuntu fonts-wqy-microhei
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",  # Debian/Ubuntu fonts-wqy-zenhei
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch
    "/usr/share/fonts/truetype/arphic/uming.ttc",  # Debian fonts-arphic-uming
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",  # Debian fonts-droid-fallback
    "C:/Windows/Fonts/simsun.ttc",
)
# a sample of what every document prints: a font lacking these is not a Chinese font
_PROBE = "调解协议书受理办结率：（）"


@dataclass(frozen=True)
class PdfFont:
    """The font a PDF is written in: its registered name, and the file embedded (None: CID)."""

    name: str
    path: str | None
    problem: str = ""

    @property
    def embedded(self) -> bool:
        return self.path is not None


_lock = threading.Lock()
_chosen: dict[str, PdfFont] = {}


def _split(value: str) -> tuple[str, int]:
    path, _sep, index = value.partition("#")
    return path, int(index) if index.isdigit() else 0


def _load(value: str) -> tuple[PdfFont | None, str]:
    """Register the TrueType font named by ``value`` (``path`` or ``path#N``); (font, problem)."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    path, index = _split(value)
    if not Path(path).is_file():
        return None, f"{path}: no such file"
    name = "ZhiwangCJK-" + hashlib.sha1(value.encode()).hexdigest()[:8]
    try:
        font = TTFont(name, path, subfontIndex=index)
    except (TTFError, OSError, ValueError, IndexError) as exc:
        return None, f"{value}: {exc}"
    missing = [ch for ch in _PROBE if ord(ch) not in font.face.charToGlyph]
    if missing:
        return None, f"{value}: no Chinese glyphs ({''.join(missing)})"
    pdfmetrics.registerFont(font)
    # one face for every style: <b> in a paragraph must not look for a bold file that is not there
    for bold in (0, 1):
        for italic in (0, 1):
            addMapping(name, bold, italic, name)
    return PdfFont(name=name, path=value), ""


def _cid(problem: str = "") -> PdfFont:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    if CID_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CID_FONT))
    return PdfFont(name=CID_FONT, path=None, problem=problem)


def _choose(configured: str) -> PdfFont:
    if configured.lower() == "none":
        return _cid()
    if configured:
        font, problem = _load(configured)
        if font is None:
            logger.warning("ZHIWANG_PDF_FONT unusable, PDFs name STSong-Light instead: %s", problem)
            return _cid(problem)
        return font
    for candidate in CANDIDATES:
        if Path(candidate).is_file():
            font, problem = _load(candidate)
            if font is not None:
                return font
            logger.info("skipped PDF font candidate %s", problem)
    return _cid()


def pdf_font() -> PdfFont:
    """The font to write PDFs in, registered with reportlab (chosen once per process and setting)."""
    configured = (getattr(settings, "ZHIWANG_PDF_FONT", "") or "").strip()
    with _lock:
        if configured not in _chosen:
            _chosen[configured] = _choose(configured)
        return _chosen[configured]


def check_pdf_font(app_configs=None, **kwargs):
    """System check: a ZHIWANG_PDF_FONT that names a file must be a usable Chinese TrueType font.

    Only a configured path is loaded here (the search of the usual places waits for the first
    PDF, so that a plain ``manage.py`` command does not read a font file).
    """
    from django.core.checks import Warning

    configured = (getattr(settings, "ZHIWANG_PDF_FONT", "") or "").strip()
    if not configured or configured.lower() == "none":
        return []
    font = pdf_font()
    if not font.problem:
        return []
    return [
        Warning(
            f"ZHIWANG_PDF_FONT cannot be used: {font.problem}",
            hint="Name a TrueType font with Chinese glyphs (path, or path#N in a .ttc), "
            "leave it empty to look in the usual places, or set it to 'none'. "
            "Until then PDFs name STSong-Light without embedding a font.",
            id="zhiwang.W001",
        )
    ]
