"""``advisor serve``: run the HTTP API (``advisor.server``) with uvicorn, on loopback by default,
in this process or (``--workers N``) in N forked worker processes (``advisor.server_workers``)."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import socket
import sys
from typing import TYPE_CHECKING

from advisor.cli_common import (
    EXIT_ENGINE,
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_rules_option,
    advisor_or_fail,
    catalog_or_fail,
)
from advisor.engine import ENGINE_NAMES
from advisor.engine.base import CompileError, EngineError
from advisor.server_workers import MAX_WORKERS, fork_available

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

    from advisor.server_limits import ConnectionLimits, Tally
    from advisor.server_log import LogLimiter

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_HEADER_TIMEOUT = 10
DEFAULT_BODY_TIMEOUT = 30
DEFAULT_KEEP_ALIVE_TIMEOUT = 5
# Descriptors beyond the connections: the listener, rule and template files, the log, threads.
SPARE_DESCRIPTORS = 64


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``advisor serve``."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="durable",
                        help="rule engine backend for requests that do not choose one "
                             "(default: durable)")
    add_rules_option(parser)
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        metavar="N", help="refuse request bodies larger than this "
                                          f"(HTTP 413; default: {DEFAULT_MAX_BODY_BYTES})")
    parser.add_argument("--max-connections", type=int, default=DEFAULT_MAX_CONNECTIONS,
                        metavar="N", help="connections open at once; one more is refused at "
                                          f"once (HTTP 503; default: {DEFAULT_MAX_CONNECTIONS})")
    parser.add_argument("--header-timeout", type=int, default=DEFAULT_HEADER_TIMEOUT,
                        metavar="SECONDS", help="drop a client whose request headers take "
                        f"longer (HTTP 408; default: {DEFAULT_HEADER_TIMEOUT})")
    parser.add_argument("--body-timeout", type=int, default=DEFAULT_BODY_TIMEOUT,
                        metavar="SECONDS", help="drop a client whose request body takes longer "
                        "after its headers, or who reads nothing of an answer for as long "
                        f"(HTTP 408; default: {DEFAULT_BODY_TIMEOUT})")
    parser.add_argument("--keep-alive-timeout", type=int, default=DEFAULT_KEEP_ALIVE_TIMEOUT,
                        metavar="SECONDS", help="close a connection idle for longer between "
                        f"requests (default: {DEFAULT_KEEP_ALIVE_TIMEOUT})")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="processes serving requests, forked from one that loaded the "
                             "rules; about one per CPU core; each worker has its own "
                             f"--max-connections (default: 1; at most {MAX_WORKERS})")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``advisor`` command's subcommands."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API: requirements JSON in, "
                                                 "report out")
    add_arguments(parser)
    parser.set_defaults(handler=serve)


def _listen(host: str, port: int, share_port: bool = False) -> socket.socket:
    """A socket bound to ``host``:``port`` (with ``share_port``, one of a group of sockets
    bound to the same port); a clear ``Failure`` when that is impossible."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise Failure(EXIT_INVALID, f"--host {host}: not an address of this machine "
                                     f"({reason})") from None
    listener = socket.socket(family, kind, protocol)
    try:
        # As uvicorn does: a restarted server may reuse a port whose old connections linger.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if share_port:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(address)
    except OSError as error:
        listener.close()
        hint = ("use an address of this machine, e.g. 127.0.0.1" if error.errno != errno.EADDRINUSE
                else f"another process is listening on port {port}; choose another with --port")
        raise Failure(EXIT_INVALID, f"cannot listen on {host}:{port}: "
                                     f"{(error.strerror or str(error)).lower()} ({hint})") from None
    return listener


def _is_loopback(listener: socket.socket) -> bool:
    return ipaddress.ip_address(listener.getsockname()[0]).is_loopback


def _spreads_connections() -> bool:
    """Whether the kernel spreads new connections evenly over sockets sharing a port
    (Linux's SO_REUSEPORT; elsewhere the option exists but one socket gets them all)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _worker_listeners(listener: socket.socket, host: str, count: int) -> list[socket.socket]:
    """The listening socket of each of ``count`` workers, given ``listener`` bound to the port.

    Workers sharing one socket all wake for each new connection and the first takes every
    connection waiting (asyncio accepts in a loop), so one worker could get all the clients'
    kept-alive connections while the others idle. Where the kernel can spread connections,
    each worker gets its own socket on the port instead. ``listener`` (bound without
    SO_REUSEPORT) proved the port free of any other process's group; it is replaced."""
    if count == 1 or not _spreads_connections():
        return [listener]
    port = listener.getsockname()[1]
    listener.close()
    group: list[socket.socket] = []
    try:
        for _ in range(count):
            group.append(_listen(host, port, share_port=True))
    except BaseException:
        for member in group:
            member.close()
        raise
    return group


def _check_options(args: argparse.Namespace) -> None:
    """A ``Failure`` (exit 2) naming the first option whose value cannot work."""
    if not 0 <= args.port <= 65535:
        raise Failure(EXIT_INVALID, f"--port {args.port}: not a TCP port (0 to 65535)")
    for option in ("max_body_bytes", "max_connections", "header_timeout", "body_timeout",
                   "keep_alive_timeout", "workers"):
        if getattr(args, option) < 1:
            raise Failure(EXIT_INVALID, f"--{option.replace('_', '-')} {getattr(args, option)}: "
                                         "must be at least 1")
    if args.workers > MAX_WORKERS:
        raise Failure(EXIT_INVALID, f"--workers {args.workers}: at most {MAX_WORKERS} (about "
                                     "one per CPU core serves best; this machine has "
                                     f"{os.cpu_count() or 'an unknown number of'} cores)")
    if args.workers > 1 and not fork_available():
        raise Failure(EXIT_INVALID, f"--workers {args.workers}: more than one worker needs "
                                     "fork(), which this platform lacks; run one advisor serve "
                                     "per port behind a load balancer, or serve advisor.asgi "
                                     "with another ASGI server (docs/deploy.md)")


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; raises ``Failure`` for bad options or rules, and
    for workers that keep ending."""
    _check_options(args)
    # Raised before forking: the workers inherit the limit, and each needs the whole of it.
    _allow_descriptors(args.max_connections)
    # Bound here, not by uvicorn, so a busy port is a clear error and is found first.
    listener = _listen(args.host, args.port)
    host, port = listener.getsockname()[:2]
    loopback = _is_loopback(listener)
    listeners = _worker_listeners(listener, args.host, args.workers)
    try:
        app, rule_count = _app(args, port if loopback else None)
    except BaseException:
        for member in listeners:
            member.close()
        raise
    import uvicorn

    from advisor.server_limits import ConnectionLimits, Tally, guarded_protocol
    from advisor.server_log import LogLimiter, logging_config

    shown = f"[{host}]" if ":" in host else host
    workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
    sys.stderr.write(f"advisor: serving the HTTP API on http://{shown}:{port} (engine "
                     f"{args.engine}, {rule_count} rules, {workers}); Ctrl+C stops it\n")
    if not loopback:
        sys.stderr.write(f"advisor: warning: {host} is reachable from other machines and the "
                         "API has no authentication\n")
    sys.stderr.flush()
    limits = ConnectionLimits(max_connections=args.max_connections,
                              header_timeout=args.header_timeout,
                              body_timeout=args.body_timeout,
                              keep_alive_timeout=args.keep_alive_timeout)
    tally, limiter = Tally(), LogLimiter()
    config = uvicorn.Config(app, lifespan="off", log_level="info",
                            http=guarded_protocol(limits, tally),
                            timeout_keep_alive=limits.keep_alive_timeout,
                            log_config=logging_config(limiter))
    if args.workers == 1:
        _serve_here(config, limits, tally, limiter, listener, supervisor=None)
        return EXIT_OK
    try:
        _serve_in_workers(args.workers, config, limits, tally, limiter, listeners)
    finally:
        for member in listeners:
            member.close()
    return EXIT_OK


def _serve_here(config: uvicorn.Config, limits: ConnectionLimits, tally: Tally,
                limiter: LogLimiter, listener: socket.socket, supervisor: int | None) -> None:
    from advisor.server_limits import GuardedServer

    GuardedServer(config, limits, tally, limiter, supervisor).run(sockets=[listener])


def _serve_in_workers(count: int, config: uvicorn.Config, limits: ConnectionLimits,
                      tally: Tally, limiter: LogLimiter, listeners: list[socket.socket]) -> None:
    """Serve from ``count`` forked processes until SIGINT or SIGTERM: worker ``slot`` on
    ``listeners[slot]``, or all on ``listeners[0]`` when there is only one."""
    from advisor.server_workers import WorkersFailed, run_workers

    parent = os.getpid()

    def work(slot: int) -> None:
        mine = listeners[slot % len(listeners)]
        for other in listeners:
            if other is not mine:  # else another slot's socket lives as long as this worker
                other.close()
        # The tally and the log limiter are this worker's copies: counts and log allowances
        # are per worker, as the connection limit is.
        _serve_here(config, limits, tally, limiter, mine, supervisor=parent)

    def notify(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def stop_listening() -> None:
        # The workers close their copies as they stop; with the parent's closed too, a new
        # connection is refused at once instead of waiting for an answer that never comes.
        for member in listeners:
            member.close()

    try:
        run_workers(count, work, notify, stop_listening)
    except WorkersFailed as error:
        raise Failure(EXIT_ENGINE, str(error)) from None


def _allow_descriptors(connections: int) -> None:
    """Raise the open-file limit to fit ``connections``, and as many refused ones waiting to
    be closed (``advisor.server_limits``); a ``Failure`` if it cannot be."""
    try:
        import resource
    except ImportError:  # not on Unix: no limit to raise
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * connections + SPARE_DESCRIPTORS
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return
    if hard != resource.RLIM_INFINITY and needed > hard:
        raise Failure(EXIT_INVALID, f"--max-connections {connections}: this process may open "
                                     f"at most {hard} files (ulimit -Hn), so at most "
                                     f"{max((hard - SPARE_DESCRIPTORS) // 2, 0)} connections")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def _app(args: argparse.Namespace, loopback_port: int | None) -> tuple[FastAPI, int]:
    from advisor.server import create_app, loopback_hosts, warm_up

    catalog = catalog_or_fail(args.rules)
    advisor = advisor_or_fail(catalog, args.engine)
    if args.workers > 1:
        try:
            warm_up(advisor)
        except (EngineError, CompileError) as error:
            raise Failure(EXIT_ENGINE, f"engine '{args.engine}' failed on a trial report for "
                                       f"empty requirements: {error}") from None
    hosts = loopback_hosts(loopback_port) if loopback_port is not None else None
    return (create_app(advisor, max_body_bytes=args.max_body_bytes, allowed_hosts=hosts),
            len(catalog.rules))
