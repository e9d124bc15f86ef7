"""What ``advisor serve`` refuses to let a client do to it: hold connections, trickle a request,
leave an answer unread, send bodies whose 422 or whose validation would be huge, fill its log,
reach it under another host name, or put live links into its HTML report. A real server process
on a loopback port, with small limits so each refusal comes within seconds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from advisor.server_limits import ConnectionLimits, Tally
from support import serving, start_server

MAX_CONNECTIONS = 20
HEADER_TIMEOUT = 2
BODY_TIMEOUT = 2
KEEP_ALIVE_TIMEOUT = 1
GRACE = 8  # what a refusal due after N seconds may take beyond N on a busy machine
SMALL = 65_536  # bytes every refusal fits in


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("limits") / "server.log"


@pytest.fixture(scope="module")
def server(log: Path) -> Iterator[str]:
    with serving(log, "--max-connections", str(MAX_CONNECTIONS),
                 "--header-timeout", str(HEADER_TIMEOUT), "--body-timeout", str(BODY_TIMEOUT),
                 "--keep-alive-timeout", str(KEEP_ALIVE_TIMEOUT)) as url:
        yield url


@pytest.fixture(scope="module")
def port(server: str) -> int:
    return int(server.rsplit(":", 1)[1])


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as session:
        yield session


def _connect(port: int, receive_buffer: int | None = None) -> socket.socket:
    connection = socket.socket()
    if receive_buffer is not None:  # set before connecting, so the window stays small
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    connection.connect(("127.0.0.1", port))
    return connection


def _head(port: int, length: int) -> bytes:
    return (f"POST /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n").encode()


def _trickle(connection: socket.socket, data: bytes, pause: float) -> tuple[bytes, int, float]:
    """Send ``data`` a byte at a time until the server answers or closes: its answer, how
    many bytes were sent, and the seconds taken."""
    connection.settimeout(pause)
    start = time.monotonic()
    for sent in range(len(data)):
        try:
            connection.sendall(data[sent:sent + 1])
            answer = connection.recv(SMALL)
        except TimeoutError:
            continue
        except OSError:  # reset: the server closed while a byte was on its way
            return b"", sent, time.monotonic() - start
        return answer, sent + 1, time.monotonic() - start
    return b"", len(data), time.monotonic() - start


def _log_lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines()


def _server_pid(log: Path) -> int:
    found = re.search(r"Started server process \[(\d+)\]", log.read_text())
    assert found, log.read_text()
    return int(found.group(1))


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+) kB$", status, re.MULTILINE)
    assert found, status
    return int(found.group(1))


def _wait_healthy(server: str) -> None:
    """Wait until the flood of an earlier test is gone and the server answers again."""
    deadline = time.monotonic() + HEADER_TIMEOUT + GRACE
    while True:
        try:
            if httpx.get(f"{server}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not answer /healthz again"
        time.sleep(0.2)


def _post(client: httpx.Client, body: bytes | str, path: str = "/v1/recommendations",
          **headers: str) -> httpx.Response:
    return client.post(path, content=body,
                       headers={"content-type": "application/json", **headers})


# --- slow clients ----------------------------------------------------------------------------


def test_a_client_trickling_its_headers_is_cut_off_with_408(server: str, port: int) -> None:
    _wait_healthy(server)
    head = _head(port, 2)
    with _connect(port) as connection:
        answer, sent, seconds = _trickle(connection, head, pause=0.25)
    # Sending the whole head would take len(head) / 4 s, far longer than the timeout.
    assert sent < len(head) and seconds < HEADER_TIMEOUT + GRACE
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"the request headers did not arrive within 2 s" in answer


def test_a_client_trickling_its_body_is_cut_off_with_408(server: str, port: int) -> None:
    _wait_healthy(server)
    body = b"{" + b" " * 200 + b"}"
    with _connect(port) as connection:
        connection.sendall(_head(port, len(body)))
        answer, sent, seconds = _trickle(connection, body, pause=0.25)
    assert sent < len(body) and seconds < BODY_TIMEOUT + GRACE
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
    assert b"the request body did not arrive within 2 s of its headers" in answer
    assert httpx.get(f"{server}/healthz", timeout=10).status_code == 200


def test_an_idle_keep_alive_connection_is_closed(server: str, port: int) -> None:
    _wait_healthy(server)
    with _connect(port) as connection:
        connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        connection.settimeout(KEEP_ALIVE_TIMEOUT + GRACE)
        start = time.monotonic()
        answer = b""
        while chunk := connection.recv(SMALL):  # until the server closes (a time-out raises)
            answer += chunk
        assert time.monotonic() - start < KEEP_ALIVE_TIMEOUT + GRACE
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b'"}'), answer


def test_a_client_that_reads_nothing_of_its_answers_is_dropped(server: str, port: int) -> None:
    _wait_healthy(server)
    size = len(httpx.get(f"{server}/v1/rules", timeout=60).content)
    requests = 40  # far more than the socket buffers of both ends hold
    with _connect(port, receive_buffer=4096) as connection:
        request = f"GET /v1/rules HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        connection.sendall(request * requests)
        time.sleep(BODY_TIMEOUT + GRACE)  # reading nothing, so the server cannot write
        connection.settimeout(10)
        received = 0
        while True:
            try:
                chunk = connection.recv(1 << 20)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += len(chunk)
    assert received < size * requests / 2, (received, size)


# --- connections past the cap ---------------------------------------------------------------


def test_connections_past_the_cap_get_503_and_health_answers_once_they_time_out(
        server: str, port: int, log: Path) -> None:
    _wait_healthy(server)
    lines_before = len(_log_lines(log))
    flood = 3 * MAX_CONNECTIONS
    connections = []
    for _ in range(flood):
        connection = _connect(port)
        connection.sendall(b"GET / HTTP/1.1\r\n")  # and never the rest
        connections.append(connection)
    refused = held = 0
    try:
        time.sleep(0.5)
        for connection in connections:
            connection.settimeout(0.05)
            try:
                answer = connection.recv(SMALL)
            except TimeoutError:
                held += 1
                continue
            except ConnectionResetError:
                answer = b""
            assert answer == b"" or answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
            refused += 1
        assert held <= MAX_CONNECTIONS and refused >= flood - MAX_CONNECTIONS
        # The connections held are dropped after the header time-out; then the server answers.
        deadline = time.monotonic() + HEADER_TIMEOUT + GRACE
        for connection in connections:
            connection.settimeout(max(deadline - time.monotonic(), 0.01))
            with contextlib.suppress(TimeoutError, ConnectionResetError):
                connection.recv(SMALL)
        health = httpx.get(f"{server}/healthz", timeout=2)
        assert health.status_code == 200
    finally:
        for connection in connections:
            connection.close()
    # No line per refused or dropped connection: at most a summary line and the health check.
    assert len(_log_lines(log)) - lines_before <= 5, _log_lines(log)[lines_before:]


def test_the_503_past_the_cap_says_what_happened(server: str, port: int) -> None:
    _wait_healthy(server)
    connections = [_connect(port) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.5)
        response = httpx.get(f"{server}/healthz", timeout=10)
        assert response.status_code == 503
        assert response.headers["connection"] == "close"
        assert response.json()["detail"] == (
            f"the server has {MAX_CONNECTIONS} connections open, its limit "
            "(advisor serve --max-connections); try again shortly")
    finally:
        for connection in connections:
            connection.close()
    _wait_healthy(server)


def test_a_flood_of_bad_requests_leaves_a_bounded_log(server: str, port: int,
                                                      log: Path) -> None:
    _wait_healthy(server)
    lines_before = len(_log_lines(log))
    for _ in range(600):
        with _connect(port) as connection:
            connection.sendall(b"NOT HTTP\r\n\r\n")
            connection.settimeout(10)
            assert connection.recv(SMALL).startswith(b"HTTP/1.1 400 ")
    # At most 50 lines of a kind per 10 s (so twice that across an interval's end), then one
    # line saying how many were left out.
    summary = "like 'Invalid HTTP request received.'"
    deadline = time.monotonic() + 10 + GRACE
    while not any("advisor: left out" in line and summary in line
                  for line in _log_lines(log)[lines_before:]):
        assert time.monotonic() < deadline, _log_lines(log)[lines_before:]
        time.sleep(0.5)
    added = _log_lines(log)[lines_before:]
    assert len([line for line in added if line.endswith("Invalid HTTP request received.")]) <= 100
    assert len(added) <= 110


# --- bodies whose validation or 422 would be huge ------------------------------------------


def _many_keys(count: int) -> bytes:
    return json.dumps({f"k{index}": {} for index in range(count)}).encode()


def test_a_body_of_sixty_thousand_keys_is_refused_small_fast_and_within_memory(
        client: httpx.Client, server: str, log: Path) -> None:
    _wait_healthy(server)
    body = _many_keys(60_000)
    pid = _server_pid(log)
    baseline = _rss_kib(pid)
    start = time.monotonic()
    response = _post(client, body)
    assert time.monotonic() - start < 2
    assert response.status_code == 400 and len(response.content) < SMALL
    assert response.json()["detail"] == (
        "request body: more than 5000 values (keys, list items and scalars together); a "
        "requirements document holds far fewer")

    async def eight_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server, timeout=60) as session:
            return await asyncio.gather(*(
                session.post("/v1/recommendations", content=body,
                             headers={"content-type": "application/json"})
                for _ in range(8)))

    responses = asyncio.run(eight_at_once())
    assert {response.status_code for response in responses} == {400}
    assert _rss_kib(pid) - baseline < 200 * 1024


def test_a_long_list_is_refused_before_validation(client: httpx.Client) -> None:
    body = json.dumps({"workload": {"pillar_priorities": ["security"] * 6_000}})
    response = _post(client, body)
    assert response.status_code == 400 and len(response.content) < SMALL
    assert "more than 5000 values" in response.json()["detail"]


def test_a_422_lists_fifty_problems_then_counts_the_rest(client: httpx.Client) -> None:
    response = _post(client, _many_keys(2_000))  # 4,001 values: under the cap
    assert response.status_code == 422 and len(response.content) < SMALL
    detail = response.json()["detail"]
    assert len(detail) == 51
    assert detail[0]["loc"] == ["body", "k0"] and "unknown key" in detail[0]["msg"]
    assert detail[-1] == {"loc": ["body"], "type": "more_problems",
                          "msg": "1,950 more problems not listed (the first 50 are); correct "
                                 "these and send again"}


def test_a_huge_description_is_not_echoed_back(client: httpx.Client) -> None:
    description = "x" * 900_000
    response = _post(client, json.dumps({"workload": {"description": description}}))
    assert response.status_code == 422 and len(response.content) < 2_000
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "workload", "description"]
    assert "at most 4000 characters" in problem["msg"]
    assert f'"{"x" * 200}\u2026" (900,000 characters)' in problem["msg"]


def test_a_huge_unknown_key_is_shortened_where_it_is_named(client: httpx.Client) -> None:
    key = "k" * 100_000
    response = _post(client, json.dumps({"data": {key: 1}}))
    assert response.status_code == 422 and len(response.content) < 2_000
    (problem,) = response.json()["detail"]
    assert problem["loc"] == ["body", "data", "k" * 200 + "\u2026 (100,000 characters)"]


# --- what a request must say about itself ---------------------------------------------------


def test_a_body_without_content_type_is_415(client: httpx.Client) -> None:
    response = client.post("/v1/recommendations", content=b"{}")
    assert "content-type" not in response.request.headers
    assert response.status_code == 415
    assert response.json()["detail"] == ("send the requirements as JSON with Content-Type: "
                                         "application/json (got no Content-Type header)")


@pytest.mark.parametrize("host", ["evil.example:{port}", "evil.example", "127.0.0.1:1",
                                  "localhost", "127.0.0.2:{port}"])
def test_a_host_that_is_not_loopback_is_421(client: httpx.Client, port: int, host: str) -> None:
    response = client.get("/healthz", headers={"host": host.format(port=port)})
    assert response.status_code == 421
    assert response.json()["detail"].startswith(f'Host "{host.format(port=port)}" does not '
                                                "name this server")
    assert "DNS rebinding" in response.json()["detail"]
    posted = client.post("/v1/recommendations", json={}, headers={"host": host.format(port=port)})
    assert posted.status_code == 421


@pytest.mark.parametrize("host", ["localhost:{port}", "LOCALHOST:{port}", "127.0.0.1:{port}",
                                  "[::1]:{port}"])
def test_a_host_naming_loopback_is_served(client: httpx.Client, port: int, host: str) -> None:
    response = client.get("/healthz", headers={"host": host.format(port=port)})
    assert response.status_code == 200


def test_a_body_with_a_byte_order_mark_is_accepted(client: httpx.Client) -> None:
    body = json.dumps({"workload": {"name": "With a BOM", "kind": "api"}}).encode()
    plain = _post(client, body)
    marked = _post(client, b"\xef\xbb\xbf" + body)
    assert marked.status_code == 200, marked.text
    assert marked.content == plain.content
    state = _post(client, b"\xef\xbb\xbf" + body, path="/v1/questionnaire/state")
    assert state.status_code == 200
    wrong = _post(client, b"\xef\xbb\xbf" + b'{"w": "\xff"}')
    assert wrong.json()["detail"] == "request body is not UTF-8 text (bad byte at offset 10)"


# --- the HTML report -------------------------------------------------------------------------


def test_markdown_links_and_images_in_user_text_are_shown_as_text(client: httpx.Client) -> None:
    name = "[ok](https://evil.example) ![t](http://evil.example/x.png) <https://evil.example/a>"
    response = client.post("/v1/recommendations?html=true",
                           json={"workload": {"kind": "api", "name": name}})
    assert response.status_code == 200, response.text
    html: str = response.json()["html"]
    assert "<img" not in html
    targets = re.findall(r'<a href="([^"]*)"', html)
    assert targets and not [target for target in targets if "evil" in target]
    heading = re.search(r"<h1>(.*)</h1>", html)
    assert heading is not None
    assert heading.group(1) == ("[ok](https://evil.example) ![t](http://evil.example/x.png) "
                                "&lt;https://evil.example/a&gt;")
    # The report's own references stay links.
    references: list[dict[str, Any]] = response.json()["references"]
    web = [reference["location"] for reference in references if reference["kind"] != "seed"]
    assert web and set(web) <= set(targets)


# --- the options -----------------------------------------------------------------------------


@pytest.mark.parametrize("option", ["--max-connections", "--header-timeout", "--body-timeout",
                                    "--keep-alive-timeout"])
def test_a_limit_below_one_exits_2(tmp_path: Path, option: str) -> None:
    log = tmp_path / "serve.log"
    process = start_server(option, "0", "--port", "0", log=log)
    assert process.wait(timeout=120) == 2
    assert f"advisor: {option} 0: must be at least 1" in log.read_text()
    assert "Traceback" not in log.read_text()


def test_the_log_summary_names_each_reason_once_then_starts_again() -> None:
    limits = ConnectionLimits(max_connections=100, header_timeout=10, body_timeout=30,
                              keep_alive_timeout=5)
    tally = Tally(refused=3, slow_headers=1, stalled_reader=2)
    assert tally.summary(limits, 10) == (
        "advisor: in the last 10 s: refused 3 connections past the limit of 100 open; "
        "dropped 1 connection whose headers took more than 10 s; "
        "dropped 2 connections that read nothing of an answer for 30 s")
    assert tally.summary(limits, 10) is None  # counted once, then reset
    tally.slow_body = 1
    assert tally.summary(limits, 10) == (
        "advisor: in the last 10 s: dropped 1 connection whose body took more than 30 s")
