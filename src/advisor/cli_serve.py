"""``advisor serve``: run the HTTP API (``advisor.server``) with uvicorn, on loopback by default.

Also runnable on its own as ``python -m advisor.cli_serve [options]``, with the same options.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from advisor.catalog import CatalogError, load_catalog
from advisor.engine import ENGINE_NAMES
from advisor.engine.base import CompileError, EngineError
from advisor.paths import rules_dir

if TYPE_CHECKING:
    from fastapi import FastAPI

EXIT_OK = 0
EXIT_INVALID = 2
EXIT_ENGINE = 3
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_MAX_BODY_BYTES = 1_000_000


class _Failure(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``advisor serve``."""
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"address to listen on (default: {DEFAULT_HOST}, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--engine", choices=ENGINE_NAMES, default="durable",
                        help="rule engine backend for requests that do not choose one "
                             "(default: durable)")
    parser.add_argument("--rules", help="rules directory (default: the bundled rules)")
    parser.add_argument("--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES,
                        metavar="N", help="refuse request bodies larger than this "
                                          f"(HTTP 413; default: {DEFAULT_MAX_BODY_BYTES})")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve`` to the ``advisor`` command's subcommands."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API: requirements JSON in, "
                                                 "report out")
    add_arguments(parser)
    parser.set_defaults(handler=serve)


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port``; a clear ``_Failure`` when that is impossible."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise _Failure(EXIT_INVALID, f"--host {host}: not an address of this machine "
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
        raise _Failure(EXIT_INVALID, f"cannot listen on {host}:{port}: "
                                     f"{(error.strerror or str(error)).lower()} ({hint})") from None
    return listener


def _is_loopback(listener: socket.socket) -> bool:
    return ipaddress.ip_address(listener.getsockname()[0]).is_loopback


def _serve(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise _Failure(EXIT_INVALID, f"--port {args.port}: not a TCP port (0 to 65535)")
    if args.max_body_bytes < 1:
        raise _Failure(EXIT_INVALID, f"--max-body-bytes {args.max_body_bytes}: must be at "
                                     "least 1")
    # Bound here, not by uvicorn, so a busy port is a clear error and is found first.
    listener = _listen(args.host, args.port)
    try:
        app, rule_count = _app(args)
    except BaseException:
        listener.close()
        raise
    import uvicorn

    host, port = listener.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(f"advisor: serving the HTTP API on http://{shown}:{port} (engine "
                     f"{args.engine}, {rule_count} rules); Ctrl+C stops it\n")
    if not _is_loopback(listener):
        sys.stderr.write(f"advisor: warning: {host} is reachable from other machines and the "
                         "API has no authentication\n")
    sys.stderr.flush()
    uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="info")).run(sockets=[listener])
    return EXIT_OK


def _app(args: argparse.Namespace) -> tuple[FastAPI, int]:
    from advisor.pipeline import Advisor
    from advisor.server import create_app

    try:
        catalog = load_catalog(Path(args.rules) if args.rules else rules_dir())
    except CatalogError as error:
        raise _Failure(EXIT_INVALID, f"{error}\n{len(error.problems)} problem(s) in the rules"
                       ) from None
    try:
        advisor = Advisor(engine=args.engine, catalog=catalog)
    except (EngineError, CompileError) as error:
        raise _Failure(EXIT_ENGINE, f"engine '{args.engine}' failed: {error}") from None
    return create_app(advisor, max_body_bytes=args.max_body_bytes), len(catalog.rules)


def serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted; returns the exit code (2: bad options, 3: engine)."""
    try:
        return _serve(args)
    except _Failure as failure:
        message = str(failure)
        sys.stderr.write(f"advisor: {message}\n" if "\n" not in message
                         else f"advisor: error\n{message}\n")
        return failure.code
