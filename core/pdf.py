"""Fonts for PDF documents: a TrueType font that has the Chinese glyphs (CJK), found on the system.

PDF viewers have no Chinese font built in: a document with a Chinese name must embed one, and
PDF libraries (ReportLab) embed TrueType-flavoured fonts only (``.ttf``, or a face of a ``.ttc``
collection with TrueType outlines, not the CFF-flavoured OpenType of Noto CJK's ``.otf``/``.ttc``).

``find_cjk_font(configured)`` returns, in this order: the configured file (a setting such as
``[addon.sale] pdf_font``; an error if it is missing or unusable), a known system path
(``fonts-wqy-zenhei``, ``fonts-wqy-microhei``, ``fonts-arphic-*``, ...), or what fontconfig
(``fc-list :lang=zh-cn``) knows; ``None`` when nothing fits. A document that needs a CJK font and
has none must raise ``FontNotFound`` (which says what to install), never draw empty boxes.
"""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from core.errors import Unavailable

#: the Debian package scripts/system-deps.sh installs (``bash scripts/system-deps.sh fonts``)
FONT_PACKAGE = "fonts-wqy-zenhei"

#: known TrueType CJK fonts (path, face index), best first
KNOWN_FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/wenquanyi/wqy-zenhei/wqy-zenhei.ttc", 0),  # Fedora
    ("/usr/share/fonts/wqy-zenhei/wqy-zenhei.ttc", 0),  # Arch
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/ukai.ttc", 0),
    ("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf", 0),
    ("/System/Library/Fonts/STHeiti Light.ttc", 0),  # macOS
    ("C:/Windows/Fonts/simhei.ttf", 0),
    ("C:/Windows/Fonts/msyh.ttc", 0),
)


class FontNotFound(Unavailable):
    """No usable CJK font: says which package to install or which setting to give."""

    def __init__(self, detail: str = "", setting: str | None = None):
        hint = (f"install a CJK TrueType font: apt-get install {FONT_PACKAGE} "
                f"(or: bash scripts/system-deps.sh fonts)")
        if setting:
            hint += f", or name a .ttf/.ttc file in {setting}"
        super().__init__(f"{detail + ': ' if detail else ''}no CJK font for PDF documents; {hint}")


@dataclass(frozen=True)
class FontFile:
    path: str
    #: the face in a TrueType collection (``.ttc``)
    index: int = 0


def truetype_faces(path: str | Path) -> int:
    """How many TrueType-outline faces the file has at its start: 1 for a ``.ttf``, the number
    of faces for a ``.ttc`` whose first face has TrueType outlines, 0 when the file is not a
    TrueType font (CFF-flavoured OpenType, anything else, unreadable)."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] == b"ttcf":
                count = struct.unpack(">I", head[8:12])[0]
                f.seek(12)
                first = struct.unpack(">I", f.read(4))[0]
                f.seek(first)
                return count if f.read(4) in (b"\x00\x01\x00\x00", b"true") else 0
            return 1 if head[:4] in (b"\x00\x01\x00\x00", b"true") else 0
    except (OSError, struct.error):
        return 0


def usable(font: FontFile) -> bool:
    return 0 <= font.index < truetype_faces(font.path)


def find_cjk_font(configured: str | None = None, index: int = 0,
                  setting: str | None = None) -> FontFile | None:
    """The CJK font to embed: ``configured`` if given (``FontNotFound`` naming ``setting`` when
    it is missing or not TrueType), else the first usable system font, else ``None``."""
    if configured:
        font = FontFile(str(Path(configured).expanduser()), index)
        if not usable(font):
            raise FontNotFound(f"{setting or 'the configured font'} = {configured!r} (face "
                               f"{index}) is missing or not a TrueType font", setting)
        return font
    return system_cjk_font()


@functools.lru_cache(maxsize=1)
def system_cjk_font() -> FontFile | None:
    """The first usable known font, else the first TrueType font fontconfig lists for Chinese
    (looked up once per process)."""
    for path, index in KNOWN_FONTS:
        font = FontFile(path, index)
        if usable(font):
            return font
    for font in _fontconfig_fonts():
        if usable(font):
            return font
    return None


def _fontconfig_fonts() -> list[FontFile]:
    exe = shutil.which("fc-list")
    if exe is None:
        return []
    try:
        out = subprocess.run([exe, ":lang=zh-cn", "-f", "%{file}\t%{index}\n"], capture_output=True,
                             text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    fonts = []
    for line in sorted(out.splitlines()):
        path, _, index = line.partition("\t")
        if path and index.strip().isdigit():
            fonts.append(FontFile(path, int(index)))
    # face 0 of each file first (e.g. the proportional face before the monospaced one)
    return sorted(fonts, key=lambda f: (f.index, f.path))


def needs_cjk_font(text: str) -> bool:
    """True when ``text`` has a character the PDF standard fonts cannot show (outside cp1252)."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False
