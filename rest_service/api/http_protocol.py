"""uvicorn's HTTP protocol with deadlines on each request's head and body, and each small
answer sent in one write.

- **The deadlines.** uvicorn closes an idle keep-alive connection, but a client that
  trickles header lines, one every few seconds, keeps its connection (and a place under
  ``limit_concurrency``) for as long as it likes; so does one that sends a head promising
  a body and then the body a byte at a time, and uvicorn has no timeout for that. Here a
  connection must deliver each request's head within ``header_timeout`` seconds (counted
  from the connection, or from the previous answer), and its body within
  ``body_timeout`` seconds of its head. Past either, the connection is closed: the
  application sees the client leave, as it would on a dropped connection.
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
    def __init__(
        self, *args: Any, header_timeout: float = 10.0, body_timeout: float = 30.0, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._answers: list[OneWriteAnswer] = []

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout)

    def on_headers_complete(self) -> None:
        self._arm(self.body_timeout)
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
            self._arm(self.header_timeout)

    def on_message_complete(self) -> None:
        # An answer sent before its body had all arrived has armed the next head's
        # deadline already: that one stays.
        if not self.cycle.response_complete:
            self._disarm()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
