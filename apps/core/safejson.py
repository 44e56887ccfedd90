"""JSON from untrusted text without recursion blow-ups.

Python's ``json`` recurses once per nesting level: 50,000 ``[`` raise RecursionError (a 500,
or a lost audit row) and anything that later walks the result recursively can fail the same
way. The text's nesting depth is measured first, by a scan that does not recurse, and text
nested deeper than ``MAX_DEPTH`` is refused before it is parsed.
"""

from __future__ import annotations

import json
import re

MAX_DEPTH = 200

# Strings are skipped whole, so brackets inside them do not count.
_LEXEME = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


class TooDeep(ValueError):
    def __init__(self, limit: int):
        super().__init__(f"JSON nested deeper than {limit} levels.")
        self.limit = limit


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether ``text`` nests brackets deeper than ``limit`` (outside strings)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # not enough brackets to get there: no scan needed
    depth = 0
    for match in _LEXEME.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif lexeme in ("]", "}"):
            depth -= 1
    return False


def loads(text: str | bytes, limit: int = MAX_DEPTH):
    """``json.loads`` that raises TooDeep (a ValueError) instead of recursing past ``limit``."""
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    if too_deep(text, limit):
        raise TooDeep(limit)
    return json.loads(text)
