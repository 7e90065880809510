"""uvicorn's HTTP protocol with a deadline on each request's head, and each small answer
sent in one write.

- **The deadline.** uvicorn closes an idle keep-alive connection, but a client that
  trickles header lines, one every few seconds, keeps its connection (and a place under
  ``limit_concurrency``) for as long as it likes. Here a connection must deliver each
  request's head within ``header_timeout`` seconds: counted from the connection, or from
  the previous answer.
- **One write per answer.** uvicorn writes an answer's status line and headers, then each
  body chunk, each as a write of its own. On a socket without Nagle's delay (uvloop's
  default) a small answer then leaves as two segments: two send calls here, two wake-ups
  of the client. Each request's writes go through ``OneWriteAnswer``, which holds the head
  until the first body chunk (or the end of the answer, or a close) and sends them together;
  a streamed answer (the CSV export) sends its head with its first chunk.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class OneWriteAnswer:
    """The transport as one request's cycle sees it: its first write (the answer's head)
    waits for the next one, a close or ``flush``; a 100 Continue is never held."""

    __slots__ = ("_head", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if not self._started and data != CONTINUE:
            self._started = True
            self._head = data
            return
        head = self._head
        if head is not None:
            self._head = None
            data = head + data
        self._transport.write(data)

    def flush(self) -> bool:
        """Send a held head; whether this answer had started."""
        head = self._head
        if head is not None:
            self._head = None
            self._transport.write(head)
        return self._started

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class LoadwatchHTTPProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._head_deadline: asyncio.TimerHandle | None = None
        self._answers: list[OneWriteAnswer] = []

    def _arm(self) -> None:
        self._disarm()
        self._head_deadline = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        answer = OneWriteAnswer(self.transport)
        self.cycle.transport = answer  # type: ignore[assignment]
        self._answers.append(answer)

    def on_response_complete(self) -> None:
        # A HEAD answer has no body write: its head leaves here. Pipelined requests wait
        # for the answer before theirs, so only the one that finished has started.
        self._answers = [answer for answer in self._answers if not answer.flush()]
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
