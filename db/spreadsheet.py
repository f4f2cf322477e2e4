"""Cells that people open in Excel: text that a spreadsheet would evaluate is made inert.

One rule for every file we write (exports and the rejected rows of an import): a leading
=, @, tab or CR, or a leading + or - followed by anything but a plain number or phone number
("-5", "+86 138 1234 5678" stay; "-2+3", "+SUM(A1)" do not), gets an apostrophe in front.
"""

from __future__ import annotations

import re

_ALWAYS = ("=", "@", "\t", "\r")
_PLAIN_SIGNED = re.compile(r"[+-][\d .()]*")


def neutralise(value):
    """The value as it is safe to write into a cell; non-text values are returned as they are."""
    if not isinstance(value, str):
        return value
    if value.startswith(_ALWAYS) or (value.startswith(("+", "-")) and not _PLAIN_SIGNED.fullmatch(value)):
        return "'" + value
    return value
