"""A real HTTP receiver on 127.0.0.1 whose behaviour tests switch: answer, fail,
time out, close the connection, redirect, or answer with a huge body."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class Receiver:
    def __init__(self) -> None:
        self.mode = "ok"
        self.script: list[str] = []  # modes for the next requests, then `mode`
        self.accepted: list[Received] = []
        self.seen = 0
        self.lock = threading.Lock()
        self.slow_seconds = 2.0
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def next_mode(self) -> str:
        with self.lock:
            self.seen += 1
            return self.script.pop(0) if self.script else self.mode


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if len(body) < length:
                # The sender died mid-request (a SIGKILLed worker): a real receiver
                # never sees a truncated body as a delivery, and neither do we.
                self.close_connection = True
                return
            mode = receiver.next_mode()
            if mode == "close":
                self.close_connection = True
                self.connection.close()
                return
            if mode == "slow":
                time.sleep(receiver.slow_seconds)
            if mode == "fail":
                self._answer(500, b"nope")
                return
            if mode == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if mode == "huge":
                self.send_response(200)
                self.send_header("Content-Length", str(10 * 1024 * 1024))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    for _ in range(160):
                        self.wfile.write(chunk)
                except OSError:
                    pass  # the sender stopped reading, as it should
                return
            with receiver.lock:
                receiver.accepted.append(Received(dict(self.headers.items()), body))
            self._answer(200, b"ok")

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the sender gave up on us (a timeout)
                self.wfile.write(body)

    return Handler


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        pass  # connections the sender dropped on purpose are not errors here


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    server = _QuietServer(("127.0.0.1", 0), _handler(receiver))
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
