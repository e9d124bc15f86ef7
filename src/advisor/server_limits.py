"""What ``advisor serve`` bounds below the application: open connections and how long a client
may take to send a request or to read the answer.

uvicorn alone keeps a connection open for as long as its client sends nothing or trickles its
headers, so idle connections can use up the process's file descriptors. The protocol here
refuses connections past a cap at once (HTTP 503) and drops a client that is too slow, counting
both in a ``Tally`` rather than logging a line per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, fields

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from advisor.server_log import SUMMARY, LogLimiter

SUMMARY_SECONDS = 10  # how often the log says what was turned away and left out


@dataclass(frozen=True)
class ConnectionLimits:
    """How many connections may be open and how long (in seconds) a client may take: to send
    a request's headers (from connecting or from the previous answer), to send its body (from
    its headers), to stay idle between requests, and to read some of an answer."""

    max_connections: int
    header_timeout: int
    body_timeout: int
    keep_alive_timeout: int


@dataclass
class Tally:
    """Connections turned away since the last summary, by reason."""

    refused: int = 0  # past the connection cap
    slow_headers: int = 0
    slow_body: int = 0
    stalled_reader: int = 0

    def summary(self, limits: ConnectionLimits, seconds: float) -> str | None:
        """One line naming every count that is not zero (None if all are), then all reset."""
        counts = [getattr(self, field.name) for field in fields(self)]
        parts = [f"{verb} {_connections(count)} {why.format(limits=limits)}"
                 for (verb, why), count in zip(_REASONS, counts, strict=True) if count]
        for field in fields(self):
            setattr(self, field.name, 0)
        if not parts:
            return None
        return f"advisor: in the last {seconds:.0f} s: {'; '.join(parts)}"


# What each count of a Tally says in the summary, in field order.
_REASONS = (
    ("refused", "past the limit of {limits.max_connections} open"),
    ("dropped", "whose headers took more than {limits.header_timeout} s"),
    ("dropped", "whose body took more than {limits.body_timeout} s"),
    ("dropped", "that read nothing of an answer for {limits.body_timeout} s"),
)


def _connections(count: int) -> str:
    return f"{count:,} connection{'' if count == 1 else 's'}"


def _raw_response(status: int, reason: str, detail: str, *extra: str) -> bytes:
    # Written straight to the socket: h11 can only answer a request whose head it has parsed.
    body = json.dumps({"detail": detail}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json",
            f"content-length: {len(body)}", "connection: close", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii") + body


def guarded_protocol(limits: ConnectionLimits, tally: Tally) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol with ``limits`` enforced and refusals counted in ``tally``."""
    overloaded = _raw_response(
        503, "Service Unavailable", f"the server has {limits.max_connections} connections "
        "open, its limit (advisor serve --max-connections); try again shortly",
        "retry-after: 1")
    slow_headers = _raw_response(408, "Request Timeout", "the request headers did not arrive "
                                 f"within {limits.header_timeout} s")
    slow_body = _raw_response(408, "Request Timeout", "the request body did not arrive within "
                              f"{limits.body_timeout} s of its headers")

    class GuardedProtocol(H11Protocol):
        lingering = 0  # refused connections waiting for their request, of every instance
        _refused = False
        _linger: asyncio.TimerHandle | None = None
        _phase: str | None = None  # "head" or "body" while a deadline runs for it
        _deadline: asyncio.TimerHandle | None = None
        _stall: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            # Refused before uvicorn counts it, and closed once its request has come in (then
            # the close does not reset the connection and lose the 503 with it) or after a
            # second; at most as many as the cap wait at once, the others are closed at once.
            # So the server never holds more than twice the cap in file descriptors.
            if len(self.server_state.connections) >= limits.max_connections:
                self._refused = True
                tally.refused += 1
                self.transport = transport
                transport.write(overloaded)
                if GuardedProtocol.lingering >= limits.max_connections:
                    transport.close()
                else:
                    GuardedProtocol.lingering += 1
                    self._linger = asyncio.get_running_loop().call_later(1, transport.close)
                return
            super().connection_made(transport)
            self._watch()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                self.transport.close()
                return
            super().data_received(data)
            self._watch()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._watch()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused:
                if self._linger is not None:
                    self._linger.cancel()
                    self._linger = None
                    GuardedProtocol.lingering -= 1
                return
            self._set_deadline(None)
            self._stop_stall_clock()
            super().connection_lost(exc)

        def pause_writing(self) -> None:
            if self._refused:
                return
            super().pause_writing()
            if self._stall is None:
                self._stall = self.loop.call_later(limits.body_timeout, self._stalled)

        def resume_writing(self) -> None:
            if self._refused:
                return
            super().resume_writing()
            self._stop_stall_clock()

        def _watch(self) -> None:
            """Start the deadline of what the client is sending now, if it changed."""
            if self.transport.is_closing():
                return
            state = self.conn.their_state
            phase = "head" if state is h11.IDLE else "body" if state is h11.SEND_BODY else None
            if phase != self._phase:
                self._set_deadline(phase)

        def _set_deadline(self, phase: str | None) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None
            self._phase = phase
            if phase is not None:
                seconds = limits.header_timeout if phase == "head" else limits.body_timeout
                self._deadline = self.loop.call_later(seconds, self._too_slow, phase)

        def _too_slow(self, phase: str) -> None:
            self._deadline = None
            if self.transport.is_closing():
                return
            if phase == "head":
                tally.slow_headers += 1
                # Silence for a connection that sent nothing, as for an idle keep-alive one.
                if self.conn.trailing_data[0]:
                    self.transport.write(slow_headers)
            else:
                tally.slow_body += 1
                if self.cycle is None or not self.cycle.response_started:
                    self.transport.write(slow_body)
            # Closing ends the request: the application sees the client disconnect.
            self.transport.close()

        def _stalled(self) -> None:
            self._stall = None
            if not self.transport.is_closing():
                tally.stalled_reader += 1
            # abort, not close: close would wait for the unread answer to drain.
            self.transport.abort()

        def _stop_stall_clock(self) -> None:
            if self._stall is not None:
                self._stall.cancel()
                self._stall = None

    return GuardedProtocol


class GuardedServer(uvicorn.Server):
    """uvicorn's server writing, every ``SUMMARY_SECONDS`` and when it stops, one line for the
    connections it turned away and one for the log lines it left out. With ``supervisor``, a
    worker of that process: it stops, as on SIGTERM, once that process is no longer its parent."""

    def __init__(self, config: uvicorn.Config, limits: ConnectionLimits, tally: Tally,
                 limiter: LogLimiter, supervisor: int | None = None) -> None:
        super().__init__(config)
        self._limits = limits
        self._tally = tally
        self._limiter = limiter
        self._supervisor = supervisor
        self._since = time.monotonic()

    async def on_tick(self, counter: int) -> bool:
        if time.monotonic() - self._since >= SUMMARY_SECONDS:
            self._summarise()
        # A supervisor killed outright (SIGKILL) cannot stop its workers; without this they
        # would serve on, orphaned, holding the port.
        if self._supervisor is not None and os.getppid() != self._supervisor:
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        self._summarise()

    def _summarise(self) -> None:
        now = time.monotonic()
        seconds, self._since = now - self._since, now
        logger = logging.getLogger("uvicorn.error")
        for line in (self._tally.summary(self._limits, seconds),
                     self._limiter.summary(seconds)):
            if line is not None:
                logger.warning(line, extra={SUMMARY: True})
