"""How a reading typed on the floor is taken: full-width characters as the ASCII ones they are.

Chinese and Japanese keyboards (IMEs) type full-width forms: U+FF2B U+FF17 U+FF38 for `K7X`,
U+FF1F for `?`. They are read as NFKC reads them, and only they: NFKC's other compatibility
mappings (circled letters, superscript digits, mathematical letters, Roman numerals, the Kelvin
sign) are not what a keyboard types for a letter or digit, so such a character stays what it is,
one no code holds. Spaces of any kind, and characters no one can see (a zero-width space, a soft
hyphen, a byte-order mark pasted in), are no part of what was read.
"""

from __future__ import annotations

from typing import Final

# The fullwidth ASCII variants U+FF01..U+FF5E sit 0xFEE0 above `!`..`~`; the ideographic space
# U+3000 is the full-width space.
FULL_WIDTH: Final[dict[int, int]] = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {
    0x3000: ord(" ")
}


def as_ascii(text: str) -> str:
    """Return `text` with its full-width characters as their ASCII ones."""
    return text.translate(FULL_WIDTH)


def visible(text: str) -> str:
    """Return `text` without spaces of any kind and characters no one can see."""
    return "".join(c for c in text if c.isprintable() and not c.isspace())
