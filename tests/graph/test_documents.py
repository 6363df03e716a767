"""Document checks: the media-type allow-list, the size limit, and sniffing the content."""

from __future__ import annotations

from typing import get_args

import pytest

from graph.documents import (
    MAX_DOCUMENT_BYTES,
    MEDIA_TYPES,
    DocumentTooLarge,
    checked_document,
    sha256_of,
)
from graph.errors import BadRequest
from ingest.models import MediaType

PDF = b"%PDF-1.7\n1 0 obj\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"


def test_the_event_contract_allows_exactly_the_stored_types() -> None:
    assert set(get_args(MediaType)) == set(MEDIA_TYPES)


@pytest.mark.parametrize(
    ("name", "declared", "content", "media_type"),
    [
        ("c.pdf", "application/pdf", PDF, "application/pdf"),
        ("c.png", "image/png", PNG, "image/png"),
        ("c.jpg", "image/jpg", JPEG, "image/jpeg"),
        ("r.csv", "text/csv; charset=utf-8", b"a,b\n1,2\n", "text/csv"),
        ("r.json", None, b'{"heat": "H1"}', "application/json"),
        ("r.txt", "application/octet-stream", "h\u00e4rte ok".encode(), "text/plain"),
        ("r.xml", "text/xml", b"\xef\xbb\xbf<?xml version='1.0'?><cert/>", "application/xml"),
    ],
)
def test_allowed_documents_pass(
    name: str, declared: str | None, content: bytes, media_type: str
) -> None:
    document = checked_document(name, declared, content)
    assert (document.media_type, document.size) == (media_type, len(content))
    assert document.sha256 == sha256_of(content) and len(document.sha256) == 64


@pytest.mark.parametrize(
    ("name", "declared", "content", "says"),
    [
        ("c.pdf", "application/pdf", PNG, "first bytes"),
        ("c.png", "image/png", JPEG, "first bytes"),
        ("c.jpg", "image/jpeg", PDF, "first bytes"),
        ("c.txt", "text/plain", PDF, "binary"),
        ("c.csv", "text/csv", b"\xff\xfe\x00a", "UTF-8"),
        ("c.txt", "text/plain", b"a\x00b", "NUL"),
        ("c.json", "application/json", b"{not json", "JSON"),
        ("c.json", "application/json", b'{"tensile": NaN}', "NaN is not JSON"),
        ("c.json", "application/json", b"[-Infinity]", "-Infinity is not JSON"),
        ("c.xml", "application/xml", b"plain words", "'<'"),
        ("run.exe", None, b"MZ\x90\x00", "give its media type"),
        ("page.html", "text/html", b"<html></html>", "not allowed"),
        ("c.pdf", "application/pdf", b"", "empty"),
        ("", "text/plain", b"x", "1-255"),
        ("a\nb.txt", "text/plain", b"x", "U+000A"),
        ("a\x85b.txt", "text/plain", b"x", "U+0085 (unnamed) is not"),
        ("a\u2028b.txt", "text/plain", b"x", "U+2028 (LINE SEPARATOR) is not"),
        ("evil\u202etxt.exe.txt", "text/plain", b"x", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("a\ufffeb.txt", "text/plain", b"x", "U+FFFE (unnamed) is not"),
    ],
)
def test_bad_documents_are_refused_with_the_reason(
    name: str, declared: str | None, content: bytes, says: str
) -> None:
    with pytest.raises(BadRequest) as caught:
        checked_document(name, declared, content)
    assert says in caught.value.message


def test_a_name_with_spaces_and_other_scripts_is_printable() -> None:
    assert checked_document("Zeugnis Härte 3.1.pdf", None, PDF).media_type == "application/pdf"


def test_the_size_limit_is_exact() -> None:
    at_limit = b"%PDF-" + b"0" * (MAX_DOCUMENT_BYTES - 5)
    assert checked_document("big.pdf", "application/pdf", at_limit).size == MAX_DOCUMENT_BYTES
    with pytest.raises(DocumentTooLarge) as caught:
        checked_document("big.pdf", "application/pdf", at_limit + b"0")
    assert caught.value.status_code == 413 and str(MAX_DOCUMENT_BYTES) in caught.value.message
