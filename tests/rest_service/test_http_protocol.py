"""The service's HTTP protocol (api/http_protocol.py): each small answer leaves in one
write, and nothing that used to be sent is held back (HEAD, 100 Continue, pipelining)."""

import asyncio
import socket
import time
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from rest_service.api.http_protocol import LoadwatchHTTPProtocol
from tests.live import running_service


class RecordingTransport(asyncio.Transport):
    """The socket's side of a transport: what the protocol writes, write by write."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await receive()
    body = b"" if scope["method"] == "HEAD" else b'{"status":"ok"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"15")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _writes(*requests: bytes) -> list[bytes]:
    config = Config(app=_app, log_level="warning", access_log=False)
    protocol = LoadwatchHTTPProtocol(config=config, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    for request in requests:
        protocol.data_received(request)
        for _ in range(20):
            await asyncio.sleep(0)
    protocol.connection_lost(None)
    return transport.writes


async def test_an_answer_leaves_in_one_write_and_a_head_is_never_held() -> None:
    get = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    (answer,) = await _writes(get)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'\r\n\r\n{"status":"ok"}')
    # HEAD has no body to carry its head: the head leaves when the answer ends.
    (head,) = await _writes(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    # Pipelined requests: one write each, in order.
    first, second = await _writes(get + get)
    assert first == second == answer


def test_head_continue_and_pipelining_on_the_live_service() -> None:
    env = {"ADMIN_USERNAME": "admin", "ADMIN_PASSWORD": "admin-password"}
    with running_service(env) as service:
        port = int(service.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            # The API's routes take GET, not HEAD: the 405's head arrives, without a body.
            connection.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = connection.recv(4096)
            assert head.startswith(b"HTTP/1.1 405 ") and head.endswith(b"\r\n\r\n")
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 2)
            received, deadline = b"", time.monotonic() + 5
            while received.count(b'{"status":"ok"}') < 2 and time.monotonic() < deadline:
                received += connection.recv(4096)
            assert received.count(b"HTTP/1.1 200 OK") == 2
            # A client that asks before sending its body gets the go-ahead first.
            body = b'{"username":"admin","password":"admin-password"}'
            connection.sendall(
                b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            assert connection.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
            connection.sendall(body)
            assert connection.recv(4096).startswith(b"HTTP/1.1 200 OK")
