#!/usr/bin/env python3
"""Compare whole-process builds of several checkouts of this project, run in turn, round after round,
so that a shared and noisy machine slows them all alike: medians of wall and CPU time per checkout.

  git worktree add /tmp/before a0fc05a
  python scripts/compare_builds.py /tmp/before .                         the real content, 15 rounds
  python scripts/compare_builds.py --content /tmp/c10k --rounds 3 /tmp/before .

Each checkout builds its own content/ unless --content is given (make synthetic content with
`python -m tests.benchmark --generate 10000 DIR`; a checkout whose content format differs needs its
own, given as DIR-<checkout folder name>, e.g. /tmp/c10k-before). Every build writes into a
temporary folder under --tmp (default: the system's), with its caches warmed by one build first.
--render-all deletes a checkout's .cache/built.msgpack before each build, so that a one-off build
renders every page instead of taking the unchanged ones from the last build (as it does since
2026-11-26); the pages come out as they were, so a build may still link their files to the last
site's. --every-page-changed instead adds a comment with the build's number to each checkout's
templates/base.html before each build (and puts it back at the end), as an edit to the base
template does: every page is rendered and written anew. Not collected by pytest; the benchmark (tests/benchmark.py) measures one checkout in depth."""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build(checkout: Path, content: Path, out: Path, render_all: bool = False,
          base_template: bytes | None = None) -> tuple[float, float]:
    """One build as a person runs it: (wall seconds, CPU seconds of all its processes)."""
    if render_all:
        (checkout / ".cache" / "built.msgpack").unlink(missing_ok=True)
    if base_template is not None:  # a new comment in every page
        (checkout / "templates" / "base.html").write_bytes(base_template + f"<!-- {time.time_ns()} -->\n".encode())
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as an editor's would
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, str(checkout / "build.py"), "--content", str(content),
                                "--out", str(out)], stdout=subprocess.DEVNULL, cwd=checkout, env=env)
    _, status, usage = os.wait4(process.pid, 0)
    if status:
        sys.exit(f"{checkout}: the build failed (status {os.waitstatus_to_exitcode(status)})")
    return time.perf_counter() - started, usage.ru_utime + usage.ru_stime


def content_for(checkout: Path, content: Path | None) -> Path:
    if content is None:
        return checkout / "content"
    own = content.with_name(f"{content.name}-{checkout.name}")
    return own if own.is_dir() else content


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkouts", nargs="+", type=Path, help="folders holding build.py")
    parser.add_argument("--content", type=Path, help="content to build (default: each checkout's own content/)")
    parser.add_argument("--rounds", type=int, default=15, help="builds per checkout (default: 15)")
    parser.add_argument("--tmp", type=Path, help="where the sites are written (default: the system's temporary folder)")
    parser.add_argument("--render-all", action="store_true", help="render every page in every build (see above)")
    parser.add_argument("--every-page-changed", action="store_true",
                        help="change every page before every build, by a comment in templates/base.html (see above)")
    args = parser.parse_args()
    checkouts = [c.resolve() for c in args.checkouts]
    bases = {c: (c / "templates" / "base.html").read_bytes() for c in checkouts}
    work = Path(tempfile.mkdtemp(dir=args.tmp))
    try:
        times: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
        for index, checkout in enumerate(checkouts):  # warm .cache/ and __pycache__/
            build(checkout, content_for(checkout, args.content), work / f"site-{index}")
        for _ in range(args.rounds):
            for index, checkout in enumerate(checkouts):
                times[checkout].append(build(checkout, content_for(checkout, args.content), work / f"site-{index}",
                                             args.render_all, bases[checkout] if args.every_page_changed else None))
        for checkout, runs in times.items():
            wall, cpu = [w for w, _ in runs], [c for _, c in runs]
            print(f"{str(checkout):40} wall {statistics.median(wall) * 1000:7.0f} ms "
                  f"({min(wall) * 1000:.0f}–{max(wall) * 1000:.0f})  CPU {statistics.median(cpu) * 1000:7.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for checkout, base in bases.items():
            (checkout / "templates" / "base.html").write_bytes(base)
    return 0


if __name__ == "__main__":
    sys.exit(main())
