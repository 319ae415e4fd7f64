"""HTTP transport: a threaded stdlib server that hands Omie calls to the engine and `/_sim/` to control.

One thread per connection (keep-alive supported), so any number of calls can be in flight at
once; the limits on parallel calls are Omie's, enforced by the engine, not by the transport.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from omie_pipeline.simulator import control
from omie_pipeline.simulator.engine import Engine, Reply, json_bytes

log = logging.getLogger(__name__)


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        self.engine = engine
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _RequestHandler)

    def process_request_thread(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)

    def handle_error(self, request, client_address) -> None:
        """A caller that hung up (timeout, lost-answer fault, stop) is normal here, not an error."""
        error = sys.exc_info()[1]
        if isinstance(error, OSError):
            log.debug("connection from %s ended: %s", client_address[0], error)
        else:
            log.exception("request from %s failed", client_address[0])

    def close_connections(self) -> None:
        """Drop idle keep-alive connections so that stop() leaves nothing behind."""
        with self._connections_lock:
            for connection in list(self._connections):
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One buffered write per answer (flushed by the stdlib after each request) and no Nagle delay:
    # otherwise headers and body travel as two small segments and each call waits ~40 ms for an ACK.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: SimHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s - %s", self.client_address[0], format % args)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if reply.lose_connection:
            # The call was applied; the caller gets no answer at all, as when a connection drops.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def do_POST(self) -> None:
        body = self._body()
        engine = self.server.engine
        if self.path.startswith("/_sim/"):
            self._send(control.handle_post(engine, self.path, body))
        else:
            self._send(engine.handle_api(self.path.split("?", 1)[0], body, self.client_address[0]))

    def do_GET(self) -> None:
        if self.path.startswith("/_sim/"):
            self._send(control.handle_get(self.server.engine, self.path))
            return
        fault = {"faultstring": "ERROR: Utilize o método POST para consumir a API.", "faultcode": "SOAP-ENV:Client-405"}
        self._send(Reply(405, json_bytes(fault)))
