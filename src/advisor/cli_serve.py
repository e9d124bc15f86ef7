"""``advisor serve``: run the HTTP API (``advisor.server``) with uvicorn, on loopback by default."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from typing import TYPE_CHECKING

from advisor.cli_common import (
    EXIT_INVALID,
    EXIT_OK,
    Failure,
    add_rules_option,
    advisor_or_fail,
    catalog_or_fail,
)
from advisor.engine import ENGINE_NAMES

if TYPE_CHECKING:
    from fastapi import FastAPI

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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``advisor`` command's subcommands."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API: requirements JSON in, "
                                                 "report out")
    add_arguments(parser)
    parser.set_defaults(handler=serve)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``; a clear ``Failure`` when that is impossible."""
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


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; raises ``Failure`` for bad options or rules."""
    if not 0 <= args.port <= 65535:
        raise Failure(EXIT_INVALID, f"--port {args.port}: not a TCP port (0 to 65535)")
    for option in ("max_body_bytes", "max_connections", "header_timeout", "body_timeout",
                   "keep_alive_timeout"):
        if getattr(args, option) < 1:
            raise Failure(EXIT_INVALID, f"--{option.replace('_', '-')} {getattr(args, option)}: "
                                         "must be at least 1")
    _allow_descriptors(args.max_connections)
    # Bound here, not by uvicorn, so a busy port is a clear error and is found first.
    listener = _listen(args.host, args.port)
    host, port = listener.getsockname()[:2]
    try:
        app, rule_count = _app(args, port if _is_loopback(listener) else None)
    except BaseException:
        listener.close()
        raise
    import uvicorn

    from advisor.server_limits import ConnectionLimits, GuardedServer, Tally, guarded_protocol
    from advisor.server_log import LogLimiter, logging_config

    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"advisor: serving the HTTP API on http://{shown}:{port} (engine "
                     f"{args.engine}, {rule_count} rules); Ctrl+C stops it\n")
    if not _is_loopback(listener):
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
    GuardedServer(config, limits, tally, limiter).run(sockets=[listener])
    return EXIT_OK


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
    from advisor.server import create_app, loopback_hosts

    catalog = catalog_or_fail(args.rules)
    advisor = advisor_or_fail(catalog, args.engine)
    hosts = loopback_hosts(loopback_port) if loopback_port is not None else None
    return (create_app(advisor, max_body_bytes=args.max_body_bytes, allowed_hosts=hosts),
            len(catalog.rules))
