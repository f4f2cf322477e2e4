"""The header a download carries: its file name for the browser, Chinese names included."""

from __future__ import annotations

from urllib.parse import quote


def content_disposition(filename: str) -> str:
    """attachment with an ASCII fallback and the real (Chinese) name per RFC 5987/6266."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_"
                         for c in filename)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
