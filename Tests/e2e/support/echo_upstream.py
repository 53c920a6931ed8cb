"""The upstream "tool": a threaded HTTP/1.1 server that answers 200 with JSON describing what
reached it (method, path, headers, body) and records every request, so tests can assert both
"the body arrived intact" and "nothing reached the upstream"."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict
    body: bytes = field(repr=False)

    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "remit-e2e-echo"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # trailers until the empty line
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline(3)
            return b"".join(chunks)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        rec = ReceivedRequest(self.command, self.path, headers, body)
        self.server.record(rec)  # type: ignore[attr-defined]
        try:
            body_text = body.decode("utf-8")
            body_field = {"body": body_text}
        except UnicodeDecodeError:
            body_field = {"body_b64": base64.b64encode(body).decode()}
        payload = json.dumps(
            {"upstream": "echo", "method": self.command, "path": self.path, "headers": headers,
             "body_len": len(body), **body_field}
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _handle


class EchoUpstream(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        super().__init__((host, port), _Handler)
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server_address[1]

    def record(self, rec: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(rec)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def start(self) -> "EchoUpstream":
        self._thread = threading.Thread(target=self.serve_forever, name="echo-upstream", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)
