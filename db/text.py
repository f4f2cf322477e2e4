"""Control characters in text that people and systems send.

Text may hold a tab and line breaks (a textarea sends CRLF); any other C0 control character
(NUL, ESC, a lone CR, …) is refused where text is stored, and stripped from search terms.
"""

from __future__ import annotations

import re
from typing import Any

CONTROL_MESSAGE = "must not contain control characters"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]|\r(?!\n)")
_ANY_CONTROL = re.compile(r"[\x00-\x1f]")


def has_control(text: str) -> bool:
    """True if `text` holds a control character other than tab, LF or the CR of a CRLF."""
    return _CONTROL.search(text) is not None


def strip_control(text: str) -> str:
    """A search term without control characters: tab and line breaks become spaces."""
    return _ANY_CONTROL.sub(lambda m: " " if m.group() in "\t\n\r" else "", text)


def control_paths(value: Any, limit: int = 10) -> list[str]:
    """Where control characters are in decoded JSON: ["name", "customer.name", "items[0].sku"]
    (a key with one counts too). Iterative, so any nesting depth is safe."""
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack and len(found) < limit:
        path, item = stack.pop()
        if isinstance(item, str):
            if has_control(item):
                found.append(path or "body")
        elif isinstance(item, dict):
            for key, child in item.items():
                key = str(key)
                child_path = f"{path}.{key}" if path else key
                if has_control(key):
                    found.append(path or "body")
                    continue
                stack.append((child_path, child))
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return sorted(found)


def depth(value: Any) -> int:
    """How deeply lists and objects nest in decoded JSON (a scalar is 0). Iterative."""
    deepest = 0
    stack: list[tuple[int, Any]] = [(0, value)]
    while stack:
        level, item = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            stack.extend((level + 1, child) for child in item)
    return deepest
