"""Documents attached to recall cases: the allowed media types, the size limit, and sniffing.

A document is kept once, by the sha256 of its bytes, outside the event log (events carry its
name, media type, size and digest). Binary types must start with their magic bytes and text
types must be UTF-8 text, so a file cannot pass as what it is not.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from graph.errors import BadRequest, character_name
from graph.store import DocumentRow

MAX_DOCUMENT_BYTES: Final = 10 * 1024 * 1024
MAX_DOCUMENTS: Final = 10
# Media type: the file name endings that suggest it when a sender gives none.
MEDIA_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg"),
    "text/csv": (".csv",),
    "application/json": (".json",),
    "text/plain": (".txt",),
    "application/xml": (".xml",),
}
MAGIC: Final[dict[str, bytes]] = {
    "application/pdf": b"%PDF-",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
}
# What senders often say instead of the one name we keep.
ALIASES: Final = {"text/xml": "application/xml", "image/jpg": "image/jpeg"}
UNSPECIFIED: Final = frozenset({"", "application/octet-stream"})


class DocumentTooLarge(BadRequest):
    status_code = 413
    code = "too_large"


def sha256_of(content: bytes) -> str:
    """Return the hex sha256 of `content`."""
    return hashlib.sha256(content).hexdigest()


def media_type_for(name: str, declared: str | None) -> str:
    """Return the allowed media type a document is declared as, or guessed from its name."""
    wanted = (declared or "").split(";")[0].strip().lower()
    wanted = ALIASES.get(wanted, wanted)
    if wanted in UNSPECIFIED:
        lower = name.lower()
        for media_type, endings in MEDIA_TYPES.items():
            if lower.endswith(endings):
                return media_type
        raise BadRequest(
            f"document {name!r}: give its media type (one of {', '.join(MEDIA_TYPES)})"
        )
    if wanted not in MEDIA_TYPES:
        raise BadRequest(
            f"document {name!r}: media type {wanted!r} is not allowed "
            f"(allowed: {', '.join(MEDIA_TYPES)})"
        )
    return wanted


def checked_document(name: str, declared: str | None, content: bytes) -> DocumentRow:
    """Check a document's name, size, media type and content; return it ready to store."""
    if not name.strip() or len(name) > 255:
        raise BadRequest("a document name is 1-255 printable characters")
    # A name is shown and saved as a file name: no line or paragraph separators, bidirectional
    # overrides or noncharacters, which would show it as another name (the ASCII space is fine).
    if not name.isprintable():
        char = next(c for c in name if not c.isprintable())
        raise BadRequest(
            f"a document name is 1-255 printable characters: {character_name(char)} is not"
        )
    if not content:
        raise BadRequest(f"document {name!r} is empty")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(
            f"document {name!r} is {len(content)} bytes: the limit is {MAX_DOCUMENT_BYTES}"
        )
    media_type = media_type_for(name, declared)
    problem = _sniff(media_type, content)
    if problem is not None:
        raise BadRequest(f"document {name!r} is not {media_type}: {problem}")
    return DocumentRow(sha256_of(content), media_type, len(content), content)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _sniff(media_type: str, content: bytes) -> str | None:
    """Say why `content` is not of `media_type`, or None when it is."""
    magic = MAGIC.get(media_type)
    if magic is not None:
        return None if content.startswith(magic) else "its first bytes do not say so"
    if any(content.startswith(other) for other in MAGIC.values()):
        return "it is a binary file"
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    if "\x00" in text:
        return "it holds NUL characters"
    if media_type == "application/json":
        try:
            # NaN and Infinity are Python's, not JSON: another reader of the file refuses them.
            json.loads(text, parse_constant=_no_constant)
        except (ValueError, RecursionError) as error:
            return f"it does not parse as JSON ({error})"
    if media_type == "application/xml" and not text.lstrip().startswith("<"):
        return "it does not start with '<'"
    return None
