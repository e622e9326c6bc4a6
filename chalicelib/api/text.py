"""What free text a person typed may hold: something visible, and no control characters.

A title made of zero-width spaces, or a NUL in a message, passes a length check yet shows as nothing (or breaks the
page, a CSV export or a terminal) wherever it is read, so it is refused where it is typed, with a 422 that says why.
"""

from __future__ import annotations

import unicodedata

LINE_BREAKS = "\n\r"
KEPT_CONTROLS = "\t" + LINE_BREAKS  # what multi-line text (descriptions, work, messages) may hold


def readable(text: str) -> str:
    """Multi-line text: tabs and line breaks allowed, other control characters not; at least one visible one."""
    return _visible(_without_controls(text, allowed=KEPT_CONTROLS))


# Embeddings, overrides and isolates reorder the text that follows them on display: in a title or a name,
# "Logo \u202egnp.exe" shows as "Logo exe.png". Multi-line text keeps them (right-to-left writing may use them).
DIRECTION_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def readable_line(text: str) -> str:
    """One line (a title, a name): no control characters at all, line breaks included, nor controls of direction;
    at least one visible one."""
    for character in text:
        if character in DIRECTION_CONTROLS:
            raise ValueError(f"must not contain the direction control U+{ord(character):04X}")
    return _visible(_without_controls(text, allowed="\t"))


def readable_or_empty(text: str) -> str:
    """Optional text (approval feedback): empty is fine, control characters are not."""
    return _without_controls(text, allowed=KEPT_CONTROLS)


def _without_controls(text: str, *, allowed: str) -> str:
    line_breaks_allowed = "\n" in allowed
    for character in text:
        category = unicodedata.category(character)
        # Zl, Zp: U+2028 and U+2029 break a line as surely as \n does, though they are no control characters.
        if (category == "Cc" and character not in allowed) or (category in ("Zl", "Zp") and not line_breaks_allowed):
            raise ValueError(f"must not contain the control character U+{ord(character):04X}")
    return text


def _visible(text: str) -> str:
    # Format characters (Cf: zero-width spaces and joiners, the byte-order mark, direction marks) draw nothing.
    if not any(not c.isspace() and unicodedata.category(c) != "Cf" for c in text):
        raise ValueError("must contain at least one visible character")
    return text
