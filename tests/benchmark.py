#!/usr/bin/env python3
"""Benchmark of the site generator (issue 7): build time, rebuild time in `serve`, save-to-served
latency, peak memory, output size and page weight, for the real content and for synthetic content
of 1,000 and 10,000 activities made from it.

  .venv/bin/python -m tests.benchmark                      the default run (66, 1000, 10000)
  .venv/bin/python tests/benchmark.py --sizes 66 --runs 9  the real content only, 9 runs
  .venv/bin/python tests/benchmark.py --json bench.json    also write the figures as JSON
  .venv/bin/python tests/benchmark.py --profile 10000      instead cProfile a build and a serve rebuild
  .venv/bin/python tests/benchmark.py --generate 1000 DIR  only write synthetic content into DIR

What is measured runs on a snapshot of the project (build.py, sitegen/, templates/, assets/)
copied into a temporary folder at the start, so a cold run can delete its .cache/ and
__pycache__/ without disturbing anyone, and edits made to the tree during a run do not mix
two versions of the code into one set of figures. Everything is removed on exit, Ctrl+C included.
Not collected by pytest (tests/test_benchmark_smoke.py keeps the content generator honest)."""
from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import platform
import posixpath
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONTENT = ROOT / "content"
PER_AGENCY = 20          # activities per agency in synthetic content
ZH_CHARS = 150           # target length of a synthetic Chinese text, in characters
EN_WORDS = 90            # target length of a synthetic English text, in words
GZIP_LEVEL = 6           # what a typical server's on-the-fly gzip uses
KB, MB = 1000, 1000 ** 2
PROJECT_PARTS = ("build.py", "sitegen", "templates", "assets")

# The targets of issue 7, shown next to the figures they apply to.
TARGETS = {
    "real_full_build_s": 0.15,      # real content, full build as a process, warm
    "serve_save_to_served_s": 0.100,  # real content, save in the editor → new text served
    "big_full_build_s": 4.4,        # 10,000 activities, full build as a process, warm
    "big_peak_mb": 300,             # 10,000 activities, peak RSS of the build process
    "page_gzip_kb": 30,             # every page but print: HTML + CSS + JS before search, gzip
}
BIG = 10_000


# ---------------------------------------------------------------------------------------------
# Synthetic content in our own YAML model, made from the real content's words

@dataclass
class RealActivity:
    topics: list[str]
    title: dict[str, str]
    text: dict[str, str]


@dataclass
class Corpus:
    """What synthetic content is drawn from: the real agencies, activities and sentences."""

    agencies: list[dict]
    activities: list[RealActivity]
    zh_sentences: list[str] = field(default_factory=list)
    en_sentences: list[str] = field(default_factory=list)


_ZH_SENTENCE = re.compile(r"[^。！？；]+[。！？；]?")
_EN_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(])")


def read_corpus(content: Path = CONTENT) -> Corpus:
    agencies, activities = [], []
    for path in sorted((content / "agencies").glob("*.yaml")):
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        agencies.append({key: data[key] for key in ("number", "slug", "name", "full_name")})
        activities += [RealActivity(a["topics"], a["title"], a["text"]) for a in data["activities"]]
    agencies.sort(key=lambda a: a["number"])
    corpus = Corpus(agencies, activities)
    for activity in activities:
        corpus.zh_sentences += [s.strip() for s in _ZH_SENTENCE.findall(activity.text["zh"]) if s.strip()]
        corpus.en_sentences += [s.strip() for s in _EN_SENTENCE.split(activity.text["en"]) if s.strip()]
    return corpus


def _splice(rng: random.Random, sentences: list[str], target: int, size, joiner: str) -> str:
    """Random real sentences, added while each brings the length closer to the target."""
    parts = [rng.choice(sentences)]
    length = size(parts[0])
    while True:
        candidate = rng.choice(sentences)
        if length + size(candidate) / 2 >= target:
            return joiner.join(parts)
        parts.append(candidate)
        length += size(candidate)


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are all valid YAML escapes)."""
    return json.dumps(text, ensure_ascii=False)


def _folded(text: str, indent: str) -> str:
    """A `>-` folded block, wrapped like the real files; folding gives back the exact text."""
    lines = textwrap.wrap(text, width=96, break_long_words=False, break_on_hyphens=False) or [text]
    return ">-\n" + "\n".join(indent + line for line in lines)


def agency_file_name(number: int, agencies: int, slug: str) -> str:
    """NN-slug.yaml, zero-padded wide enough that file order is number order."""
    return f"{number:0{max(2, len(str(agencies)))}d}-{slug}.yaml"


def agency_yaml(number: int, slug: str, name: dict, full_name: dict, activities: list[dict]) -> str:
    out = ["# yaml-language-server: $schema=../schema/agency.schema.json", f"number: {number}", f"slug: {slug}"]
    for key, texts in (("name", name), ("full_name", full_name)):
        out.append(f"{key}:")
        out += [f"  {code}: {_quoted(text)}" for code, text in texts.items()]
    out.append("activities:")
    for act in activities:
        out += [f"  - number: {act['number']}", f"    topics: [{', '.join(act['topics'])}]", "    title:"]
        out += [f"      {code}: {_quoted(text)}" for code, text in act["title"].items()]
        out.append("    text:")
        out += [f"      {code}: {_folded(text, ' ' * 8)}" for code, text in act["text"].items()]
    return "\n".join(out) + "\n"


def generate_content(dest: Path, n: int, source: Path = CONTENT, seed: int = 7) -> dict:
    """Write content for n activities into dest (which must not exist). When n is the number of
    real activities the real content is copied as it is; otherwise 20 activities per agency,
    with text spliced from real sentences. Returns {"agencies": M, "activities": n, "real": bool}."""
    corpus = read_corpus(source)
    dest.mkdir(parents=True)
    for name in ("site.yaml", "topics.yaml", "glossary.yaml"):
        if (source / name).exists():
            shutil.copy2(source / name, dest / name)
    if (source / "schema").is_dir():
        shutil.copytree(source / "schema", dest / "schema")
    if n == len(corpus.activities):
        shutil.copytree(source / "agencies", dest / "agencies")
        return {"agencies": len(corpus.agencies), "activities": n, "real": True}
    if n < 1:
        raise ValueError("need at least one activity")
    rng = random.Random(f"{seed}:{n}")
    (dest / "agencies").mkdir()
    count = math.ceil(n / PER_AGENCY)
    zh_len, en_len = len, lambda s: len(s.split())
    number = 0
    for index in range(count):
        base = corpus.agencies[index % len(corpus.agencies)]
        round_ = index // len(corpus.agencies) + 1  # the real agencies again, with a suffix
        slug = base["slug"] if round_ == 1 else f"{base['slug']}-{round_}"
        suffix = {"zh": "" if round_ == 1 else f"（{round_}）", "en": "" if round_ == 1 else f" ({round_})"}
        name = {code: text + suffix.get(code, "") for code, text in base["name"].items()}
        full_name = {code: text + suffix.get(code, "") for code, text in base["full_name"].items()}
        activities = []
        for _ in range(min(PER_AGENCY, n - number)):
            number += 1
            model = rng.choice(corpus.activities)
            activities.append({
                "number": number, "topics": model.topics, "title": model.title,
                "text": {"zh": _splice(rng, corpus.zh_sentences, ZH_CHARS, zh_len, ""),
                         "en": _splice(rng, corpus.en_sentences, EN_WORDS, en_len, " ")},
            })
        path = dest / "agencies" / agency_file_name(index + 1, count, slug)
        path.write_text(agency_yaml(index + 1, slug, name, full_name, activities), encoding="utf-8")
    return {"agencies": count, "activities": n, "real": False}


class Edit:
    """Edits one agency file the way an editor does: a word put in front of its first activity's
    English text. Each apply() starts from the original text, with a different word."""

    _FIRST_EN_TEXT = re.compile(r"^ *text:\n(?:.*\n)*? *en: >-?\n( +)", re.M)

    def __init__(self, content: Path):
        files = sorted((content / "agencies").glob("*.yaml"))
        self.path = files[len(files) // 2]
        self.slug = self.path.stem.split("-", 1)[1]
        self.original = self.path.read_text(encoding="utf-8")
        match = self._FIRST_EN_TEXT.search(self.original)
        if not match:
            raise RuntimeError(f"{self.path}: found no `en: >-` text to edit")
        self.at = match.end()

    def apply(self, word: str) -> None:
        self.path.write_text(self.original[: self.at] + word + " " + self.original[self.at:], encoding="utf-8")

    def restore(self) -> None:
        self.path.write_text(self.original, encoding="utf-8")


def english_path(content: Path) -> str:
    """The URL prefix of the English pages ('en/'), from site.yaml."""
    config = yaml.load((content / "site.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    languages = config["languages"]
    lang = next((lang for lang in languages if lang["code"] == "en"), languages[-1])
    return lang["path"] + "/" if lang["path"] else ""


# ---------------------------------------------------------------------------------------------
# Process bookkeeping: every child is ended and every temp folder removed, even on Ctrl+C

CHILDREN: list[subprocess.Popen] = []
# The processes measured run as an editor's would: writing bytecode to __pycache__/ (a shell or CI
# with PYTHONDONTWRITEBYTECODE set would otherwise make every 'warm' build compile sitegen/ again).
CHILD_ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def stop(process: subprocess.Popen) -> None:
    """Ctrl+C for a child (serve stops cleanly on it); killed if it is still there after 5 s."""
    if process.poll() is None:
        try:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        except ProcessLookupError:
            pass
    if process in CHILDREN:
        CHILDREN.remove(process)


def snapshot_project(dest: Path) -> Path:
    """Copy what a build runs (build.py, sitegen/, templates/, assets/) into dest."""
    dest.mkdir()
    for part in PROJECT_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, dest / part)
    return dest


def make_cold(project: Path) -> None:
    """As in a fresh checkout: no template bytecode cache, no Python bytecode."""
    shutil.rmtree(project / ".cache", ignore_errors=True)
    for folder in project.rglob("__pycache__"):
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Measurements

@dataclass
class Stat:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def as_json(self) -> dict:
        return {"median": self.median, "min": min(self.values), "max": max(self.values), "runs": self.values}


def run_build(project: Path, content: Path, out: Path, log: Path) -> tuple[float, int, float, int]:
    """`python build.py --content C --out O` as a whole process: (wall seconds, peak RSS in bytes of
    its largest process, CPU seconds of all its processes (user + system; less disturbed than wall
    time when the machine is busy), peak memory of all its processes together (PSS, bytes))."""
    with open(log, "wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, str(project / "build.py"), "--content", str(content),
                                    "--out", str(out)], stdout=sink, stderr=subprocess.STDOUT, cwd=project.parent,
                                   env=CHILD_ENV)
        CHILDREN.append(process)
        sampler = PssSampler(process.pid)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own rusage (and its reaped children's)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        CHILDREN.remove(process)
        peak_pss = sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"build failed ({process.returncode}):\n{log.read_text(errors='replace')}")
    return seconds, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime, peak_pss  # Linux: maxrss in KiB


class PssSampler:
    """The peak memory of a process and all its descendants, sampled every 20 ms: the sum of their
    proportional set sizes, in which memory that forked processes share counts once. (Max RSS, of
    the largest process alone, says nothing of the others; the sum of RSS counts shared memory twice.)"""

    def __init__(self, pid: int):
        self.pid, self.peak, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, tree_pss(self.pid))

    def stop(self) -> int:
        self.done.set()
        self.thread.join()
        return self.peak


def tree_pss(pid: int) -> int:
    """Bytes: the PSS of a process and its descendants (0 for those that ended meanwhile)."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/smaps_rollup") as rollup:
                total += next(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    stack += [int(child) for child in children.read().split()]
        except (OSError, StopIteration, ValueError):
            continue
    return total


def folder_size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


class _Refs(HTMLParser):
    """The CSS and JS a page links, and what the search loads on first use."""

    def __init__(self):
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.lazy: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "").split() and attrs.get("href"):
            self.css.append(attrs["href"])
        elif tag == "script" and attrs.get("src"):
            self.js.append(attrs["src"])
        for key in ("data-library", "data-index"):
            if attrs.get(key):
                self.lazy.append(attrs[key])


def _resolve(out: Path, page: str, href: str) -> Path | None:
    href = href.split("#", 1)[0].split("?", 1)[0]
    if re.match(r"^[a-z]+:|^//", href):
        return None  # not ours
    target = href.lstrip("/") if href.startswith("/") else posixpath.join(posixpath.dirname(page), href)
    return out / posixpath.normpath(target)


def page_weights(out: Path, content: Path) -> tuple[list[dict], dict]:
    """Each page's HTML plus the CSS and JS it links (raw and gzip), and the search data per
    language. The search library and data load only on the first search: counted apart."""
    config = yaml.load((content / "site.yaml").read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    prefixes = {lang["code"]: (lang["path"] + "/" if lang["path"] else "") for lang in config["languages"]}
    sizes: dict[Path, tuple[int, int]] = {}

    def weigh(path: Path) -> tuple[int, int]:
        if path not in sizes:
            data = path.read_bytes()
            sizes[path] = (len(data), gz(data))
        return sizes[path]

    pages, search = [], {}
    for path in sorted(out.rglob("*.html")):
        rel = path.relative_to(out).as_posix()
        code = next((c for c, p in prefixes.items() if p and rel.startswith(p)),
                    next(c for c, p in prefixes.items() if not p))
        key = rel[len(prefixes[code]):]
        key = key[: -len("index.html")] if key.endswith("index.html") else key
        refs = _Refs()
        refs.feed(path.read_text(encoding="utf-8"))
        html_raw, html_gz = weigh(path)
        linked = [p for p in (_resolve(out, rel, h) for h in refs.css + refs.js) if p]
        lazy = [p for p in (_resolve(out, rel, h) for h in refs.lazy) if p]
        missing = [str(p.relative_to(out)) for p in linked + lazy if not p.is_file()]
        if missing:
            raise RuntimeError(f"{rel} links missing files: {missing}")
        page = {"key": key or "/", "lang": code, "path": rel,
                "html_raw": html_raw, "html_gzip": html_gz,
                "raw": html_raw + sum(weigh(p)[0] for p in linked),
                "gzip": html_gz + sum(weigh(p)[1] for p in linked),
                "linked": [p.relative_to(out).as_posix() for p in linked],
                "lazy": [p.relative_to(out).as_posix() for p in lazy],
                "lazy_raw": sum(weigh(p)[0] for p in lazy), "lazy_gzip": sum(weigh(p)[1] for p in lazy)}
        pages.append(page)
        for p in lazy:
            if p.suffix == ".json":
                search[code] = {"file": p.relative_to(out).as_posix(), "raw": weigh(p)[0], "gzip": weigh(p)[1]}
    return pages, search


def builder_rebuilds(project: Path, content: Path, out: Path, edit: Edit, runs: int) -> dict:
    """serve's rebuilds, in this process: sitegen.pipeline.Builder made as serve makes it, built
    once, then rebuilt with nothing changed and after editing one activity's English text."""
    builder = _snapshot_builder(project, content, out)
    started = time.perf_counter()
    builder.build()
    first = time.perf_counter() - started
    noop, edited = [], []
    for _ in range(runs):
        started = time.perf_counter()
        builder.build()
        noop.append(time.perf_counter() - started)
    page = f"{english_path(content)}agencies/{edit.slug}/index.html"
    for run in range(runs):
        word = f"Inprocessedit{run:03d}"
        edit.apply(word)
        started = time.perf_counter()
        builder.build()
        edited.append(time.perf_counter() - started)
        if word.encode() not in (out / page).read_bytes():
            raise RuntimeError(f"the edit did not reach {page}")
    edit.restore()
    builder.build()
    return {"first": first, "noop": Stat(noop), "edit": Stat(edited)}


def _snapshot_builder(project: Path, content: Path, out: Path):
    """A Builder of the snapshot's code (see main()), as serve makes one: caches in memory only."""
    if str(project) not in sys.path:
        sys.path.insert(0, str(project))
    from sitegen.pipeline import Builder, Project

    return Builder(Project(content=content.resolve(), out=out.resolve(), templates=project / "templates",
                           assets=project / "assets"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except urllib.error.HTTPError as err:
        return err.read()
    except OSError:
        return b""


def serve_latency(project: Path, content: Path, out: Path, edit: Edit, runs: int) -> dict:
    """`build.py serve` as a subprocess, `runs` saves measured each way: polling the page every ~5 ms
    until the new text is served (the polls share serve's GIL with its rebuild, which they slow a
    little), and as the browser does it, the reload event then one GET. Also what serve reports."""
    lines: list[tuple[float, str]] = []
    for attempt in range(3):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, str(project / "build.py"), "serve", "--content", str(content), "--out", str(out),
             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=project.parent, env={**CHILD_ENV, "PYTHONUNBUFFERED": "1"})
        CHILDREN.append(process)
        reader = threading.Thread(target=lambda p=process: [lines.append((time.perf_counter(), line.rstrip()))
                                                             for line in p.stdout], daemon=True)
        started = time.perf_counter()
        reader.start()
        while process.poll() is None and not any("Serving" in line for _, line in lines):
            time.sleep(0.005)
        if process.poll() is None:
            break
        reader.join(timeout=1)
        output = "\n".join(line for _, line in lines)
        stop(process)
        if "cannot listen" not in output or attempt == 2:
            raise RuntimeError(f"serve exited:\n{output}")
        lines.clear()
    startup = time.perf_counter() - started
    url = f"http://127.0.0.1:{port}/{english_path(content)}agencies/{edit.slug}/"
    if b"<html" not in _get(url):
        raise RuntimeError(f"serve does not serve {url}")

    def settle(seen: int) -> None:
        """Wait for serve's line about the rebuild of this save, then for 0.3 s of quiet."""
        deadline = time.perf_counter() + 600
        while not any(line.startswith("rebuilt") for _, line in lines[seen:]):
            if time.perf_counter() > deadline or process.poll() is not None:
                raise RuntimeError("serve did not rebuild:\n" + "\n".join(l for _, l in lines[-20:]))
            time.sleep(0.01)
        while time.perf_counter() - lines[-1][0] < 0.3:
            time.sleep(0.05)

    def polled(word: str) -> float:
        """Save, then GET the page every ~5 ms until it has the new word."""
        edit.apply(word)
        saved = time.perf_counter()
        while word.encode() not in _get(url):
            if time.perf_counter() - saved > 600 or process.poll() is not None:
                raise RuntimeError("serve did not show the edit:\n" + "\n".join(l for _, l in lines[-20:]))
            time.sleep(0.005)
        return time.perf_counter() - saved

    def evented(word: str) -> tuple[float, float]:
        """As the browser does it: wait for the reload event, then GET the page once (again only
        if it does not have the new word yet). Returns (save → event, save → served)."""
        events = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        try:
            events.request("GET", "/__events")
            stream = events.getresponse()  # headers are sent before serve starts waiting
            edit.apply(word)
            saved = time.perf_counter()
            while not stream.readline().startswith(b"data:"):
                pass
            event = time.perf_counter() - saved
        finally:
            events.close()
        while word.encode() not in _get(url):
            if time.perf_counter() - saved > 600:
                raise RuntimeError("serve sent a reload but does not show the edit")
            time.sleep(0.005)
        return event, time.perf_counter() - saved

    latencies, to_event, via_event, reported = [], [], [], []
    try:
        for run in range(2 * runs):
            seen = len(lines)
            if run < runs:
                latencies.append(polled(f"Serveedit{run:03d}"))
            else:
                event, served = evented(f"Serveedit{run:03d}")
                to_event.append(event)
                via_event.append(served)
            settle(seen)
            reported += [int(m[1]) / 1000 for _, line in lines[seen:] if (m := re.match(r"rebuilt in (\d+) ms", line))]
    finally:
        stop(process)
        edit.restore()
    return {"startup": startup, "latency": Stat(latencies), "event": Stat(to_event), "via_event": Stat(via_event),
            "reported_rebuild": Stat(reported) if reported else None, "rebuilds_per_save": len(reported) / (2 * runs)}


def measure_size(n: int, runs: int, work: Path, project: Path, do_serve: bool = True) -> dict:
    content, out, log = work / f"content-{n}", work / f"site-{n}", work / f"build-{n}.log"
    started = time.perf_counter()
    info = generate_content(content, n)
    result: dict = {**info, "generate_s": time.perf_counter() - started}
    progress(f"{n:,} activities: content in {result['generate_s']:.1f} s; cold build")

    make_cold(project)
    result["cold_build_s"], result["cold_peak_bytes"], result["cold_cpu_s"], _ = run_build(project, content, out, log)
    result["build_line"] = log.read_text(errors="replace").strip()
    progress(f"{n:,}: cold {result['cold_build_s']:.2f} s; {runs} warm full builds")
    times, peaks, cpu, pss = [], [], [], []
    for _ in range(runs):
        shutil.rmtree(out, ignore_errors=True)
        seconds, peak, cpu_seconds, peak_pss = run_build(project, content, out, log)
        times.append(seconds)
        peaks.append(peak)
        cpu.append(cpu_seconds)
        pss.append(peak_pss)
    result["full_build"], result["peak_bytes"], result["full_build_cpu"] = Stat(times), Stat(peaks), Stat(cpu)
    result["peak_pss_bytes"] = Stat(pss)
    result["output_bytes"], result["output_files"] = folder_size(out)

    pages, search = page_weights(out, content)
    result["search"] = search
    if info["real"]:
        result["pages"] = pages  # the synthetic sites' pages are summed up by the largest one
    largest = max(pages, key=lambda p: p["html_gzip"])
    result["largest_page"] = {k: largest[k] for k in ("path", "html_raw", "html_gzip", "raw", "gzip")}

    progress(f"{n:,}: full build {Stat(times).median:.2f} s; {runs} no-op rebuilds")
    result["noop_build"] = Stat([run_build(project, content, out, log)[0] for _ in range(runs)])

    edit = Edit(content)
    progress(f"{n:,}: in-process serve rebuilds (Builder)")
    result["builder"] = builder_rebuilds(project, content, work / f"site-{n}-builder", edit, runs)
    if do_serve:
        progress(f"{n:,}: serve save-to-served, {runs} edits polled + {runs} by reload event")
        result["serve"] = serve_latency(project, content, work / f"site-{n}-serve", edit, runs)
    for folder in (content, out, work / f"site-{n}-builder", work / f"site-{n}-serve"):
        shutil.rmtree(folder, ignore_errors=True)
    return result


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Report

def _s(value: float) -> str:
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _spread(stat: Stat | None, unit=_s) -> str:
    if stat is None:
        return "—"
    if len(stat.values) == 1:
        return unit(stat.median)
    return f"{unit(stat.median)} ({unit(min(stat.values))}–{unit(max(stat.values))})"


def _mb(value: float) -> str:
    return f"{value / MB:.0f} MB" if value >= 10 * MB else f"{value / MB:.1f} MB"


def _kb(value: float) -> str:
    return f"{value / KB:.1f} KB" if value < 1000 * KB else f"{value / MB:.2f} MB"


def _verdict(value: float, limit: float) -> str:
    return "ok" if value < limit else "MISS"


def report(results: dict[int, dict], meta: dict) -> str:
    sizes = list(results)
    label = {n: f"{n:,}" + (" (real)" if results[n]["real"] else "") for n in sizes}
    rows: list[tuple[str, list[str], str]] = []

    def row(name: str, cell, target: str = "") -> None:
        rows.append((name, [cell(results[n], n) for n in sizes], target))

    real = next((n for n in sizes if results[n]["real"]), None)
    big = BIG if BIG in results else None

    def mark(n, value, kind):
        if kind == "build":
            if n == real:
                return f"  [{_verdict(value, TARGETS['real_full_build_s'])}]"
            if n == big:
                return f"  [{_verdict(value, TARGETS['big_full_build_s'])}]"
        if kind == "peak" and n == big:
            return f"  [{_verdict(value / MB, TARGETS['big_peak_mb'])}]"
        if kind == "serve" and n == real:
            return f"  [{_verdict(value, TARGETS['serve_save_to_served_s'])}]"
        return ""

    row("agencies / activities", lambda r, n: f"{r['agencies']:,} / {r['activities']:,}")
    row("full build, process, warm", lambda r, n: _spread(r["full_build"]) + mark(n, r["full_build"].median, "build"),
        f"real < {TARGETS['real_full_build_s'] * 1000:.0f} ms; 10,000 < {TARGETS['big_full_build_s']} s")
    row("full build, process, CPU", lambda r, n: _spread(r["full_build_cpu"]), "user + system time of the same runs")
    row("full build, process, cold", lambda r, n: _s(r["cold_build_s"]),
        "no .cache/ nor __pycache__/, 1 run")
    row("no-op rebuild, process", lambda r, n: _spread(r["noop_build"]), "build again over the same site/")
    row("serve: first build, in-process", lambda r, n: _s(r["builder"]["first"]))
    row("serve: no-op rebuild, in-process", lambda r, n: _spread(r["builder"]["noop"]), "Builder.build()")
    row("serve: rebuild after 1 edit", lambda r, n: _spread(r["builder"]["edit"]), "Builder.build(), in-process")
    row("serve: save → served, polling", lambda r, n: (_spread(r["serve"]["latency"]) + mark(n, r["serve"]["latency"].median, "serve"))
        if "serve" in r else "—", f"real < {TARGETS['serve_save_to_served_s'] * 1000:.0f} ms; GET every 5 ms until the edit shows")
    row("serve: save → reload event", lambda r, n: _spread(r["serve"]["event"]) if "serve" in r else "—",
        "/__events, as the open page hears it")
    row("serve: save → served, by event", lambda r, n: (_spread(r["serve"]["via_event"]) + mark(n, r["serve"]["via_event"].median, "serve"))
        if "serve" in r else "—", f"real < {TARGETS['serve_save_to_served_s'] * 1000:.0f} ms; the event, then one GET")
    row("serve: rebuild it reports", lambda r, n: _spread(r["serve"]["reported_rebuild"]) if "serve" in r else "—",
        "its 'rebuilt in' line, all saves")
    row("serve: start to serving", lambda r, n: _s(r["serve"]["startup"]) if "serve" in r else "—")
    row("peak memory, full build", lambda r, n: _spread(r["peak_pss_bytes"], _mb) + mark(n, r["peak_pss_bytes"].median, "peak"),
        f"10,000 < {TARGETS['big_peak_mb']} MB (all its processes: PSS, sampled every 20 ms)")
    row("peak memory, largest process", lambda r, n: _spread(r["peak_bytes"], _mb), "max RSS of the build's largest process")
    row("output", lambda r, n: f"{_mb(r['output_bytes'])}, {r['output_files']:,} files")
    for code in sorted({c for r in results.values() for c in r["search"]}):
        row(f"search data {code}, raw / gzip", lambda r, n, c=code: (f"{_kb(r['search'][c]['raw'])} / {_kb(r['search'][c]['gzip'])}"
                                                                  if c in r["search"] else "—"), "loaded on first search")
    row("largest page, HTML raw / gzip", lambda r, n: f"{_kb(r['largest_page']['html_raw'])} / {_kb(r['largest_page']['html_gzip'])}",
        "; ".join(f"{label[n]}: {results[n]['largest_page']['path']}" for n in sizes if n != real) or "")

    name_w = max(len(name) for name, _, _ in rows)
    widths = [max(len(label[n]), *(len(cells[i]) for _, cells, _ in rows)) for i, n in enumerate(sizes)]
    out = [f"sitegen benchmark — {meta['when']}, {meta['code']}, Python {meta['python']}, {meta['cpus']} CPUs, "
           f"load average {meta['load_before']:.1f} before / {meta['load_after']:.1f} after",
           f"median (min–max) of {meta['runs_text']}; 'process' times include interpreter start",
           ""]
    out.append("  ".join([" " * name_w, *(label[n].rjust(w) for n, w in zip(sizes, widths)), "target / note"]))
    out.append("  ".join(["-" * name_w, *("-" * w for w in widths), "-" * 13]))
    for name, cells, target in rows:
        out.append("  ".join([name.ljust(name_w), *(c.rjust(w) for c, w in zip(cells, widths)), target]).rstrip())

    if real is not None:
        out += ["", page_table(results[real]["pages"])]
    return "\n".join(out)


def page_table(pages: list[dict]) -> str:
    """Every page of the real content in both languages: HTML + linked CSS and JS, raw and gzip."""
    codes = list(dict.fromkeys(p["lang"] for p in pages))
    order = ["/", "activities/", "agencies/", "print/", "data/", "404.html"]
    keys = sorted(dict.fromkeys(p["key"] for p in pages),
                  key=lambda k: (next((i for i, o in enumerate(order) if k == o or (o.endswith("/") and o != "/" and k.startswith(o))), len(order)), k))
    by = {(p["key"], p["lang"]): p for p in pages}
    limit = TARGETS["page_gzip_kb"] * KB
    head = ["page"] + [f"{c} {what}" for c in codes for what in ("raw", "gzip", "html gz")] + ["< 30 KB gz"]
    body, misses = [], 0
    for key in keys:
        cells, verdict = [key], ""
        for code in codes:
            page = by.get((key, code))
            cells += [_kb(page["raw"]), _kb(page["gzip"]), _kb(page["html_gzip"])] if page else ["—"] * 3
        worst = max(by[(key, c)]["gzip"] for c in codes if (key, c) in by)
        if key.startswith("print"):
            verdict = "(exempt)"
        else:
            verdict = _verdict(worst, limit)
            misses += verdict == "MISS"
        body.append(cells + [verdict])
    widths = [max(len(r[i]) for r in [head] + body) for i in range(len(head))]
    lines = [f"Page weight, real content: HTML + the CSS and JS it links (gzip -{GZIP_LEVEL} per file; "
             f"1 KB = 1000 B; the favicon is not counted)"]
    for index, r in enumerate([head] + body):
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    lazy = [p for p in pages if p["lazy"]]
    for page in lazy:
        lines.append(f"on first search, {page['path']} also loads {', '.join(Path(f).name for f in page['lazy'])}: "
                     f"+{_kb(page['lazy_raw'])} raw, +{_kb(page['lazy_gzip'])} gzip")
    lines.append(f"pages over {TARGETS['page_gzip_kb']} KB gzip before search (print exempt): {misses}")
    return "\n".join(lines)


def to_json(results: dict[int, dict], meta: dict) -> dict:
    def plain(value):
        if isinstance(value, Stat):
            return value.as_json()
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return {"meta": meta, "targets": TARGETS, "sizes": {str(n): plain(r) for n, r in results.items()}}


def code_version() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *PROJECT_PARTS], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return f"code {rev}" + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "code (no git)"


# ---------------------------------------------------------------------------------------------
# Profile: where one in-process build spends its time

def profile(n: int, work: Path, project: Path, top: int = 25) -> None:
    """cProfile, in this process: one full build (warm: templates compiled, modules imported),
    then one serve rebuild after an edit (sitegen.serve.Builder, as serve makes it)."""
    import cProfile
    import pstats

    content = work / f"content-{n}"
    generate_content(content, n)
    sys.path.insert(0, str(project))
    from sitegen.pipeline import Builder, Project

    def full_build(out: Path) -> None:
        Builder(Project(content=content, out=out, templates=project / "templates", assets=project / "assets",
                        cache=work / "profile-cache")).build()

    full_build(work / "warm")  # fills the cache and imports everything

    def run(title: str, action) -> None:
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        action()
        profiler.disable()
        print(f"\n=== {title}: {time.perf_counter() - started:.2f} s under cProfile ===")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)

    run(f"full build of {n:,} activities, in-process", lambda: full_build(work / "site"))
    builder = _snapshot_builder(project, content, work / "serve")
    builder.build()
    edit = Edit(content)
    edit.apply("Profileedit")
    run(f"serve rebuild after editing {edit.path.name}, in-process", builder.build)


# ---------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--sizes", default=f"66,1000,{BIG}",
                        help="activity counts, comma-separated; the real count uses the real content (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed runs per measurement (default: 5, and 3 at 10,000 activities or more)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures to FILE as JSON")
    parser.add_argument("--no-serve", action="store_true", help="skip the serve subprocess measurements")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="instead: cProfile, in-process, a full build of N activities and a serve rebuild after one edit")
    parser.add_argument("--generate", nargs=2, metavar=("N", "DIR"), help="instead: only write content for N activities into DIR")
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be numbers, e.g. 66,1000,{BIG}")
    if not args.sizes or min(args.sizes) < 1 or (args.runs is not None and args.runs < 1):
        parser.error("sizes and runs must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.generate:
        info = generate_content(Path(args.generate[1]), int(args.generate[0]))
        print(f"wrote {info['activities']:,} activities by {info['agencies']:,} agencies to {args.generate[1]}")
        return 0
    signal.signal(signal.SIGTERM, _on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="sitegen-bench-"))
    try:
        project = snapshot_project(work / "project")
        if args.profile:
            profile(args.profile, work, project)
            return 0
        began = time.perf_counter()
        results, load_before = {}, os.getloadavg()[0]
        runs_of = {n: args.runs or (3 if n >= BIG else 5) for n in args.sizes}
        for n in args.sizes:
            results[n] = measure_size(n, runs_of[n], work, project, do_serve=not args.no_serve)
        counts = sorted(set(runs_of.values()))
        meta = {"when": time.strftime("%Y-%m-%d %H:%M"), "code": code_version(),
                "python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                "runs": {str(n): r for n, r in runs_of.items()},
                "load_before": load_before, "load_after": os.getloadavg()[0],
                "runs_text": " / ".join(f"{r} runs" for r in counts) if len(counts) > 1 else f"{counts[0]} runs"}
        if len(counts) > 1:
            meta["runs_text"] = ", ".join(f"{r} runs at {n:,}" for n, r in runs_of.items())
        print(report(results, meta), flush=True)
        print(f"(benchmark took {time.perf_counter() - began:.0f} s)")
        if args.json:
            args.json.write_text(json.dumps(to_json(results, meta), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"figures written to {args.json}")
        return 0
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl+C must not skip the cleanup
        for process in list(CHILDREN):
            stop(process)
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)


if __name__ == "__main__":
    sys.exit(main())
