"""The HTTP client against a real loopback server that answers as a hostile partner might."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from api.auth.models import Partner
from api.federation.client import HttpPartnerClient, PartnerError

KEY = "tgk_k1_s3cret-value"
# The handler gets the request's headers and writes the whole answer itself.
Answer = Callable[[BaseHTTPRequestHandler], None]


def send(status: int, body: bytes) -> Answer:
    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return write


def drip(byte_every_s: float, count: int) -> Answer:
    """Answer one byte at a time, each well within the read timeout."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(count))
        handler.end_headers()
        for _ in range(count):
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(byte_every_s)

    return write


@pytest.fixture
def partner_at() -> Iterator[Callable[[Answer], Partner]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> Partner:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                # The client giving up mid-answer is what some tests expect of it.
                with suppress(BrokenPipeError, ConnectionResetError):
                    answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return Partner("ACME", f"http://127.0.0.1:{server.server_port}", KEY, 1.0)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def fetch(partner: Partner) -> object:
    return HttpPartnerClient().fetch(partner, "H70001", "up", 2, ["PLANT"])


def test_a_well_formed_answer_is_parsed(partner_at: Callable[[Answer], Partner]) -> None:
    partner = partner_at(send(200, b'{"root": "lot:A"}'))
    assert fetch(partner) == {"root": "lot:A"}


def test_an_answer_nested_too_deeply_is_an_error_not_a_crash(
    partner_at: Callable[[Answer], Partner],
) -> None:
    partner = partner_at(send(200, b"[" * 200_000 + b"]" * 200_000))
    with pytest.raises(PartnerError) as raised:
        fetch(partner)
    assert raised.value.status == "error"
    assert "nested" in raised.value.message


def test_an_answer_dripped_slowly_is_cut_off_at_the_partners_timeout(
    partner_at: Callable[[Answer], Partner],
) -> None:
    # Each byte comes within the 1 s read timeout, the whole would take 8 s.
    partner = partner_at(drip(0.2, 40))
    with pytest.raises(PartnerError) as raised:
        fetch(partner)
    assert raised.value.status == "unreachable"
    assert "within 1 s" in raised.value.message


def test_a_refusal_that_echoes_our_key_does_not_pass_it_on(
    partner_at: Callable[[Answer], Partner],
) -> None:
    message = json.dumps({"message": f"key {KEY} is revoked"}).encode()
    partner = partner_at(send(401, message))
    with pytest.raises(PartnerError) as raised:
        fetch(partner)
    assert raised.value.status == "refused"
    assert "revoked" in raised.value.message
    assert KEY not in raised.value.message and "s3cret" not in str(raised.value)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_an_answer_whose_encoding_is_corrupt_is_an_error_not_unreachable(
    partner_at: Callable[[Answer], Partner], encoding: str
) -> None:
    body = b"this is not " + encoding.encode()

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Encoding", encoding)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with pytest.raises(PartnerError) as raised:
        fetch(partner_at(write))
    assert raised.value.status == "error"
    assert raised.value.message == "the answer could not be read"


def test_an_address_the_client_cannot_ask_is_unreachable_not_a_crash() -> None:
    partner = Partner("ACME", "https://\u0661\u0662.example", KEY, 1.0)
    with pytest.raises(PartnerError) as raised:
        fetch(partner)
    assert raised.value.status == "unreachable"
    assert "InvalidURL" in raised.value.message


def test_headers_dripped_slowly_are_cut_off_at_the_partners_timeout(
    partner_at: Callable[[Answer], Partner],
) -> None:
    # Each byte of the status line and headers comes well within the 1 s read timeout; the
    # whole would take 8 s. The client must give up at its deadline, not when they end.
    headers_sent = threading.Event()

    def write(handler: BaseHTTPRequestHandler) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n":
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(0.2)
        headers_sent.set()
        handler.wfile.write(b"{}")

    with pytest.raises(PartnerError) as raised:
        fetch(partner_at(write))
    assert raised.value.status == "unreachable"
    assert not headers_sent.is_set(), "the client waited for the whole dripped headers"
