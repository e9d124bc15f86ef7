"""Benchmark ``advisor serve`` with 1 and with 2 workers: requests per second at concurrency 8 on
``POST /v1/recommendations`` over the bundled examples (as JSON bodies, taken in turn), with
"what would change each decision" on (the API's default) and off, and the CPU time the server's
processes spent per request (read from /proc). Runs alternate between the two servers
(1, 2, 1, 2 ...) and medians are printed, because a shared machine is noisy; then the memory of
each server process (RSS, and PSS where /proc has smaps_rollup).

The load comes from wrk when it is installed (it needs little CPU of its own), else from a small
Python client in this process, which competes with the server for the cores; the first line says
which.

    python bench/serve.py [--rounds 3] [--seconds 10] [--concurrency 8] [--client auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from advisor.paths import examples_dir

PATH = "/v1/recommendations"
START_SECONDS = 120
WARM_UP_SECONDS = 3
STARTED = re.compile(r"serving the HTTP API on http://127\.0\.0\.1:(\d+) ")
TICKS = os.sysconf("SC_CLK_TCK")
# wrk reads the bodies from a file, one JSON document a line, and sends them in turn.
WRK_SCRIPT = """
local bodies = {}
for line in io.lines("%s") do bodies[#bodies + 1] = line end
local index = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  index = index %% #bodies + 1
  return wrk.format(nil, "%s", nil, bodies[index])
end
"""


@dataclass
class Server:
    """A running ``advisor serve`` and where its output goes."""

    workers: int
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def pids(self) -> list[int]:
        """The parent and its workers."""
        return [self.process.pid, *children(self.process.pid)]


@dataclass
class Run:
    requests: float  # per second
    cpu_per_request: float  # seconds


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found.append(int(entry.name))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of ``pids`` together."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def memory(pid: int) -> str:
    """RSS, and PSS split into its shared and private parts when /proc has them, in MB."""
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if rollup.exists():
        values = {key: int(value.split()[0]) / 1024 for key, value in
                  (line.split(":", 1) for line in rollup.read_text().splitlines()[1:])}
        shared = values["Shared_Clean"] + values["Shared_Dirty"]
        private = values["Private_Clean"] + values["Private_Dirty"]
        return (f"RSS {values['Rss']:.0f} MB (shared {shared:.0f}, private {private:.0f}), "
                f"PSS {values['Pss']:.0f} MB")
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return f"RSS {int(found.group(1)) / 1024:.0f} MB" if found else "RSS unknown"


def start(workers: int, scratch: Path) -> Server:
    log = scratch / f"server-{workers}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "advisor", "serve", "--port", "0",
                                    "--workers", str(workers)],
                                   stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_SECONDS
    while True:
        found = STARTED.search(log.read_text())
        if found:
            break
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.1)
    port = int(found.group(1))
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer:\n{log.read_text()}") from None
            time.sleep(0.1)
    server = Server(workers, process, port, log)
    # One process serving alone, or a parent and its workers.
    while len(server.pids()) != (1 if workers == 1 else workers + 1):
        if time.monotonic() > deadline:
            raise SystemExit(f"the server did not start {workers} workers")
        time.sleep(0.05)
    return server


def stop(server: Server) -> None:
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


def run_wrk(port: int, query: str, bodies: Path, seconds: float, concurrency: int,
            scratch: Path) -> int:
    """Requests completed; exits when any answer was not a 200."""
    script = scratch / "post.lua"
    script.write_text(WRK_SCRIPT % (bodies, PATH + query), encoding="utf-8")
    threads = min(concurrency, 2)
    # wrk counts an answer slower than its timeout (2 s by default) as an error.
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(concurrency), "--timeout", "60s",
                          "-d", f"{seconds:.0f}s", "-s", str(script), f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw failures:\n{out}")
    found = re.search(r"(\d+) requests in", out)
    if not found:
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    return int(found.group(1))


async def _python_connection(port: int, requests: list[bytes], until: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    done = 0
    try:
        while time.perf_counter() < until:
            writer.write(requests[done % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = head.split(b" ", 2)[1]
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if status != b"200" or length is None:
                raise SystemExit(f"unexpected answer: {head[:200]!r}")
            await reader.readexactly(int(length.group(1)))
            done += 1
    finally:
        writer.close()
    return done


def run_python(port: int, query: str, bodies: list[str], seconds: float,
               concurrency: int) -> int:
    """Requests completed by ``concurrency`` kept-alive connections in this process."""
    requests = [(f"POST {PATH}{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body.encode())}\r\n"
                 "\r\n").encode() + body.encode() for body in bodies]

    async def all_connections() -> int:
        until = time.perf_counter() + seconds
        # Each connection starts at another body, so the server sees them mixed.
        turns = [requests[index % len(requests):] + requests[:index % len(requests)]
                 for index in range(concurrency)]
        counts = await asyncio.gather(*(_python_connection(port, turn, until) for turn in turns))
        return sum(counts)

    return asyncio.run(all_connections())


def measure(server: Server, query: str, seconds: float, args: argparse.Namespace,
            bodies: list[str], bodies_file: Path, scratch: Path) -> Run:
    pids = server.pids()
    cpu = cpu_seconds(pids)
    started = time.perf_counter()
    if args.client == "wrk":
        done = run_wrk(server.port, query, bodies_file, seconds, args.concurrency, scratch)
    else:
        done = run_python(server.port, query, bodies, seconds, args.concurrency)
    elapsed = time.perf_counter() - started
    if server.pids() != pids:
        raise SystemExit(f"the {server.workers}-worker server's processes changed during a run:"
                         f"\n{server.log.read_text()[-2000:]}")
    return Run(done / elapsed, (cpu_seconds(pids) - cpu) / max(done, 1))


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, with ``client`` resolved to the one used ('wrk' or 'python') and
    ``fallback`` set when wrk was wanted but is not installed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs per server and setting")
    parser.add_argument("--seconds", type=float, default=10, help="length of one run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    args = parser.parse_args(argv)
    if not Path("/proc/self/stat").exists():
        raise SystemExit("this benchmark reads CPU time from /proc (Linux)")
    args.fallback = args.client == "auto" and not shutil.which("wrk")
    if args.client == "auto":
        args.client = "python" if args.fallback else "wrk"
    elif args.client == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (e.g. apt-get install wrk)")
    return args


def run_servers(args: argparse.Namespace) -> dict[tuple[str, int], list[Run]]:
    """Every run, by sensitivity setting ('on', 'off') and worker count; prints the set-up
    first and each server process's memory last."""
    bodies = [json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))
              for path in sorted(examples_dir().glob("*.yaml"))]
    client = ("wrk (its own process, 2 threads)" if args.client == "wrk" else
              "a Python client in this process, which competes with the server for the cores"
              + (" (wrk is not installed)" if args.fallback else ""))
    print(f"client: {client}; concurrency {args.concurrency}; {len(bodies)} example bodies in "
          f"turn; {args.rounds} rounds of {args.seconds:.0f} s per setting, alternating 1 and "
          f"2 workers")
    print(f"machine: {os.cpu_count()} cores; Python {platform.python_version()}; load average "
          f"before: {os.getloadavg()[0]:.2f}")

    with tempfile.TemporaryDirectory(prefix="advisor-bench-serve-") as scratch_name:
        scratch = Path(scratch_name)
        bodies_file = scratch / "bodies.jsonl"
        bodies_file.write_text("".join(body + "\n" for body in bodies), encoding="utf-8")
        servers = [start(1, scratch), start(2, scratch)]
        try:
            for server in servers:  # templates, caches and the CPU's own warm-up
                measure(server, "", WARM_UP_SECONDS, args, bodies, bodies_file, scratch)
            results: dict[tuple[str, int], list[Run]] = {}
            for query, label in (("", "on"), ("?sensitivity=false", "off")):
                for _ in range(args.rounds):
                    for server in servers:
                        run = measure(server, query, args.seconds, args, bodies, bodies_file,
                                      scratch)
                        results.setdefault((label, server.workers), []).append(run)
            print("\nmemory after the runs:")
            for server in servers:
                for index, pid in enumerate(server.pids()):
                    role = ("the only process" if server.workers == 1 else
                            "parent" if index == 0 else f"worker {index}")
                    print(f"  {server.workers} worker(s), {role}: {memory(pid)}")
        finally:
            for server in servers:
                stop(server)
    return results


def main() -> int:
    args = parse_arguments()
    report(run_servers(args), args)
    return 0


def report(results: dict[tuple[str, int], list[Run]], args: argparse.Namespace) -> None:
    print("\n| sensitivity | workers | req/s, median | req/s, each run | CPU ms per request, "
          "median |")
    print("|---|---|---|---|---|")
    medians: dict[tuple[str, int], float] = {}
    for (label, workers), runs in results.items():
        rates = [run.requests for run in runs]
        medians[label, workers] = statistics.median(rates)
        cpu = statistics.median(run.cpu_per_request for run in runs) * 1000
        print(f"| {label} | {workers} | {medians[label, workers]:.1f} | "
              f"{', '.join(f'{rate:.1f}' for rate in rates)} | {cpu:.1f} |")
    print()
    for label in ("on", "off"):
        ratio = medians[label, 2] / medians[label, 1]
        print(f"2 workers / 1 worker, sensitivity {label}: {ratio:.2f}x req/s at concurrency "
              f"{args.concurrency} (target: at least 1.7x)")


if __name__ == "__main__":
    sys.exit(main())
