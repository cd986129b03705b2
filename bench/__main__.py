"""``python -m bench``: start the servers, run every benchmark, print the tables and the targets."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from bench.report import Targets
from bench.stack import running_stack

SECTIONS = ("hot", "trips", "cold", "snapshots", "writers")


def machine() -> str:
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    redis_version = (
        subprocess.run([_redis_binary(), "--version"], capture_output=True, text=True, check=False)
        .stdout.split(" v=")[-1]
        .split()[0]
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, redis-server {redis_version}"
    )


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _redis_binary() -> str:
    from stateway_local.servers import RedisServer

    return RedisServer.find_binary()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples and snapshots (a smoke run)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    args = parser.parse_args(argv)
    only = set(args.only or SECTIONS)
    started = time.perf_counter()
    targets = Targets()

    print("# Stateway benchmarks")
    print()
    print(f"Machine: {machine()}")
    print(f"Load average at start: {_load()} (other work on the machine shows up in every number)")
    with running_stack() as stack:
        os.environ.update(stack.environ())
        servers = "Servers: redis-server and SecantusDB (MongoDB protocol) on loopback, moto S3 in-process"
        if only & {"hot", "trips"}:
            servers += "; sections 1 and 2 each start a 3-master Redis Cluster on loopback too"
        print(servers)
        if "hot" in only:
            from bench import hot_read

            hot_read.run(stack, targets, rounds=3 if args.quick else 7, per_round=300 if args.quick else 1500)
        if "trips" in only:
            from bench import round_trips

            round_trips.run(stack, targets)
        if "cold" in only:
            from bench import cold_start

            cold_start.run(stack, targets, runs=3 if args.quick else 5)
        if "snapshots" in only:
            from bench import snapshots

            snapshots.run(stack, targets, sizes=(1, 100, 1000) if args.quick else (1, 1000, 10000))
        if "writers" in only:
            from bench import throughput

            throughput.run(stack, targets, seconds=1.0 if args.quick else 3.0)

    print("\n## Targets\n")
    print(targets.render())
    print(f"\nTotal time: {time.perf_counter() - started:.0f} s; load average at the end: {_load()}")
    # A missed target is a finding, reported above; the run itself succeeded.
    return 0


if __name__ == "__main__":
    sys.exit(main())
