"""Benchmark: instructions per report, counted by valgrind's callgrind, for comparing two
checkouts where CPU time is too noisy to show a few per cent (a shared 2-core machine moves CPU
medians by up to 40 %; the same run's instruction count repeats to 0.1 %).

The script runs itself under callgrind per mode, making N and then 2N reports (each run twice,
the smaller count kept) after the same warm-up (loading and compiling the rules, each report
once); the difference divided by N is what one report costs, start-up and warm-up cancelling
out. (Turning counting on and off from inside with ``callgrind_control`` is not used: on a busy
machine the switch lands late and the counts moved by 4 %.) Instructions are not time (cache
misses and the C core's memory traffic are not in them), so a change this shows should still be
confirmed in CPU time (bench/sensitivity.py, bench/targets.py).

    python bench/instructions.py [--mode plain sens gen gensens server server-sens] [--count N]
    PYTHONPATH=<checkout>/src python bench/instructions.py ...   # another checkout

Modes: ``plain`` and ``sens`` make Markdown reports of the bundled examples without and with
"what would change each decision"; ``gen`` and ``gensens`` the same over generated profiles
(fixed seed), each seen once; ``server`` posts the examples to the HTTP API in-process (the
ASGI app, no sockets), sensitivity off and on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

MODES = ("plain", "sens", "gen", "gensens", "server", "server-sens")
_COUNTED = re.compile(r"Collected : (\d+)")
_INSIDE = "ADVISOR_BENCH_UNDER_CALLGRIND"


def _reports(mode: str, count: int) -> None:
    """Warm up, then make ``count`` reports of the mode with counting on."""
    from advisor.inputs import parse_requirements, read_requirements
    from advisor.paths import examples_dir
    from advisor.pipeline import Advisor
    from advisor.render import render_markdown

    advisor = Advisor()
    if mode in ("gen", "gensens"):
        from advisor.sampling import random_profiles

        documents = random_profiles(random.Random(11), advisor.catalog, 40 + count)
        profiles = [parse_requirements(json.loads(json.dumps(document)))
                    for document in documents]
        warm, timed = profiles[:40], profiles[40:]
    else:
        examples = [read_requirements(path) for path in sorted(examples_dir().glob("*.yaml"))]
        warm, timed = examples, (examples * (count // len(examples) + 1))[:count]
    sensitivity = mode in ("sens", "gensens")
    for requirements in warm:
        render_markdown(advisor.recommend(requirements, sensitivity=sensitivity))
    for requirements in timed:
        render_markdown(advisor.recommend(requirements, sensitivity=sensitivity))


def _requests(mode: str, count: int) -> None:
    """Warm up, then post ``count`` example bodies to the ASGI app with counting on."""
    import yaml

    from advisor.paths import examples_dir
    from advisor.server import create_app

    app = create_app()
    bodies = [json.dumps(yaml.safe_load(path.read_text(encoding="utf-8"))).encode()
              for path in sorted(examples_dir().glob("*.yaml"))]
    query = b"" if mode == "server-sens" else b"sensitivity=false"

    async def post(body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "POST", "scheme": "http", "path": "/v1/recommendations",
                 "raw_path": b"/v1/recommendations", "query_string": query, "root_path": "",
                 "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                             (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
        received = False
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            nonlocal received
            if not received:
                received = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(60)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0].get("status") != 200:
            raise SystemExit(f"the API answered {sent[0].get('status')}")

    async def run() -> None:
        for body in bodies:
            await post(body)
        for index in range(count):
            await post(bodies[index % len(bodies)])

    asyncio.run(run())


def _instructions(mode: str, count: int) -> int:
    """Instructions of this script run under callgrind making ``count`` reports of a mode."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--mode", mode, "--count", str(count)]
    done = subprocess.run(command, capture_output=True, text=True,
                          env={**os.environ, _INSIDE: "1"}, check=False)
    found = _COUNTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run of {mode} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def _count(mode: str, count: int) -> float:
    """Instructions one report (or request) of a mode costs: 2N reports less N, over N.

    Each run is made twice and the smaller count kept: once, beside the full test suite, a
    pair of runs gave five times the usual figure, and extra start-up work only ever adds."""
    def least(reports: int) -> int:
        return min(_instructions(mode, reports) for _ in range(2))

    return (least(2 * count) - least(count)) / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--count", type=int, default=0,
                        help="reports per mode (default: 22 for examples and the server, "
                             "60 for generated profiles)")
    args = parser.parse_args()
    if os.environ.get(_INSIDE):
        mode = args.mode[0]
        if mode.startswith("server"):
            _requests(mode, args.count)
        else:
            _reports(mode, args.count)
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed; this benchmark needs it", file=sys.stderr)
        return 2
    import advisor

    print(f"advisor from {Path(advisor.__file__).parent}; Python {sys.version.split()[0]}\n")
    print("| mode | reports | million instructions a report |")
    print("|---|---|---|")
    for mode in args.mode:
        count = args.count or (60 if mode.startswith("gen") else 22)
        print(f"| {mode} | {count} | {_count(mode, count) / 1e6:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
