"""Hardening (issue 14): what an editor, a host or an attacker did to the build and to serve, each
case once, in the style of test_bad_edits.py — the output folder, links out of the project,
tracebacks, interrupted builds, hostile files, and serve's HTTP (tested with raw sockets)."""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, SITE, build_site
from sitegen.text import chinese_numeral
from sitegen.write import MANIFEST

A = "agencies/03-development-reform.yaml"


def run(*args, cwd=ROOT, timeout=60) -> subprocess.CompletedProcess:
    """build.py as a person runs it (never with the developer's .cache/)."""
    return subprocess.run([sys.executable, str(ROOT / "build.py"), *args, "--no-cache"], capture_output=True,
                          text=True, cwd=cwd, timeout=timeout)


def digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-2000:]


# --- The output folder ------------------------------------------------------------------------

@pytest.mark.parametrize("folder", ["docs-with-index", "public_html"])
def test_a_folder_with_an_index_but_no_manifest_is_refused(tmp_path, folder):
    out = tmp_path / folder
    out.mkdir()
    (out / "index.html").write_text("<h1>my page</h1>")
    (out / "thesis.docx").write_bytes(b"precious")
    result = run("--out", str(out))
    assert result.returncode == 2 and "was not written by build.py" in result.stderr
    no_traceback(result)
    assert (out / "thesis.docx").read_bytes() == b"precious" and (out / "index.html").exists()


def test_a_build_leaves_no_staging_folder_and_a_readable_site_under_a_private_umask(tmp_path):
    out = tmp_path / "site"
    result = subprocess.run(["sh", "-c", f"umask 077 && {sys.executable} {ROOT / 'build.py'} --out {out} --no-cache"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], "nothing beside the site"
    for path in [out, *out.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_a_failed_final_swap_keeps_the_old_site_and_says_so(tmp_path, monkeypatch):
    import sitegen.write as write

    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    before = digest(out)
    monkeypatch.setattr(write, "_exchange", lambda a, b: False)  # as on a system without renameat2
    real_rename = Path.rename

    def failing(self, target):
        if Path(target) == out and ".new-" in self.name:
            raise OSError(28, "No space left on device", str(target))
        return real_rename(self, target)
    monkeypatch.setattr(Path, "rename", failing)
    with pytest.raises(OSError, match="No space left"):
        build_site(ROOT / "content", out)
    assert digest(out) == before, "the old site is back in place"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_staging_folders_left_by_a_killed_build_are_removed_by_the_next(tmp_path):
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    for name in (".site.new-abc123", ".site.old-def456"):
        (tmp_path / name / "assets").mkdir(parents=True)
        (tmp_path / name / "assets" / "big.bin").write_bytes(b"x" * 1000)
    build_site(ROOT / "content", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_sigterm_during_a_build_leaves_the_old_site_whole_and_nothing_beside_it(tmp_path):
    """Killed while writing (SIGTERM, as a CI timeout or a service manager sends): the site is
    the old one or the new one, never half, and no staging folder outlives the build."""
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    before = digest(out)
    outcomes = set()
    for delay in (0.15, 0.25, 0.35, 0.45):
        process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "--out", str(out), "--no-cache",
                                    "--jobs", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        assert "Traceback" not in stderr, stderr
        assert not _processes_naming(out), "a rendering process outlived the build"
        outcomes.add(process.returncode)
        assert digest(out) == before, f"after SIGTERM at {delay} s the site changed"  # same content either way
        assert sorted(p.name for p in tmp_path.iterdir()) == ["site"], list(tmp_path.iterdir())
    # 130: stopped and cleaned up; 0: it had finished; -15: killed before it began to write
    assert outcomes <= {0, 130, -signal.SIGTERM} and 130 in outcomes, outcomes


def test_sigterm_that_a_library_turns_into_an_error_of_its_own_still_stops_the_build_cleanly(tmp_path):
    """OpenCC's import catches whatever stops it and raises ImportError instead: a SIGTERM that lands
    there is still a stop (exit 130), not a bug in the generator (exit 3)."""
    script = ("import os, signal, sys, time; sys.path.insert(0, sys.argv[1])\n"
              "sys.argv = ['build.py', '--out', sys.argv[2], '--no-cache']\n"
              "import build, sitegen.derive\n"
              "def a_library_that_swallows_the_stop(*args):\n"
              "    try:\n        os.kill(os.getpid(), signal.SIGTERM)\n        time.sleep(5)\n"
              "    except BaseException:\n        raise ImportError('opencc_clib not found')\n"
              "sitegen.derive.derive_languages = a_library_that_swallows_the_stop\n"
              "sys.exit(build.main())\n")
    result = _run_on_a_built_site(tmp_path, script)
    assert (result.returncode, result.stderr) == (130, "build.py: interrupted; the output folder is as it was\n")


def _python(script: str, *args: str) -> subprocess.CompletedProcess:
    """A Python script run in a process of its own, with the project's folder as its first argument
    (sys.argv[1]) and these after it."""
    return subprocess.run([sys.executable, "-c", script, str(ROOT), *args], capture_output=True, text=True,
                          timeout=60)


def _run_on_a_built_site(tmp_path: Path, script: str) -> subprocess.CompletedProcess:
    """The real site built into tmp_path/site, then the script run with that folder as its second
    argument (sys.argv[2]); it must leave the site as it was, and nothing beside it."""
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    before = digest(out)
    result = _python(script, str(out))
    assert digest(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["site"], result
    return result


def _processes_naming(path: Path) -> list[str]:
    """Processes whose command line names this path (forked rendering processes keep the build's)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass  # ended while we looked
    return found


def test_readers_never_find_the_home_page_missing_while_the_site_is_rebuilt(tmp_path):
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    missing, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            try:
                (out / "index.html").read_bytes()
            except FileNotFoundError:
                missing.append(time.perf_counter())
    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            build_site(ROOT / "content", out)
    finally:
        stop.set()
        thread.join()
    assert missing == [], f"index.html was missing {len(missing)} times"


# --- Nothing from outside the project ----------------------------------------------------------

@pytest.mark.parametrize("where", ["content", "assets", "templates"])
def test_a_link_out_of_the_project_is_an_error_that_names_it(tmp_path, where):
    from sitegen.pipeline import Builder, Project
    from sitegen.errors import ContentError

    secret = tmp_path / "secret.txt"
    secret.write_text("outside the project")
    for name in ("content", "assets", "templates"):
        shutil.copytree(ROOT / name, tmp_path / name)
    link = {"content": tmp_path / "content" / "agencies" / "27-linked.yaml",
            "assets": tmp_path / "assets" / "leak.txt",
            "templates": tmp_path / "templates" / "partials" / "leak.html"}[where]
    link.symlink_to(secret)
    project = Project(content=tmp_path / "content", out=tmp_path / "site", assets=tmp_path / "assets",
                      templates=tmp_path / "templates")
    with pytest.raises(ContentError) as caught:
        Builder(project).build()
    assert [p.name for p in caught.value.problems] == ["symlink_outside"]
    assert str(secret) in str(caught.value.problems[0]) and "leak" in caught.value.problems[0].path or \
        "linked" in caught.value.problems[0].path
    assert not (tmp_path / "site").exists()


# --- Never a traceback, always the right status --------------------------------------------------

@pytest.mark.parametrize("args,status,words", [
    (["--port", "99999"], 2, "--port must be a whole number from 0 to 65535"),
    (["--jobs", "0"], 2, "--jobs must be a whole number from 1 to 256"),
    (["--base-url", "https://example.org/" + "x" * 300], 2, "at most 200"),
    (["--base-url", "javascript:alert(1)"], 2, "must start with http://"),
    (["--base-url", "https://example.org/\nDisallow: /"], 2, "spaces or line breaks"),
], ids=["port", "jobs", "long-base-url", "javascript", "newline"])
def test_usage_mistakes_exit_2_with_a_message(tmp_path, args, status, words):
    result = run(*args, "--out", str(tmp_path / "site"))
    assert result.returncode == status and words in result.stderr, result.stderr
    no_traceback(result)


@pytest.mark.parametrize("name,mutate,words", [
    ("complex-key", lambda t: t.replace("slug: development-reform\n", "slug: development-reform\n? [a, b]\n: c\n"),
     "a key must be plain text"),
    ("base-url-newline", None, "base_url must not contain spaces or line breaks"),
    ("zero-width-title", lambda t: t.replace('zh: "云上自主品牌博览会"', 'zh: "\u200b\u200d\u2060"'), "must not be empty"),
    ("control-character", lambda t: t.replace('zh: "云上自主品牌博览会"', 'zh: "云上\\x1b自主"'), "control character"),
    ("bidi-override", lambda t: t.replace('zh: "云上自主品牌博览会"', 'zh: "云上\u202e自主"'), "bidirectional"),
    ("remote-image", lambda t: t.replace("        持续举办", "        ![x](https://tracker.example/p.gif) 持续举办"),
     "shows an image from tracker.example"),
], ids=lambda value: value if isinstance(value, str) else "")
def test_hostile_or_mistaken_content_is_a_message_with_exit_1(content_copy, tmp_path, name, mutate, words):
    if mutate is None:
        path = content_copy / "site.yaml"
        path.write_text(path.read_text("utf-8").replace('base_url: ""', 'base_url: "https://x.example/\\nDisallow: /"'),
                        "utf-8")
    else:
        path = content_copy / A
        path.write_text(mutate(path.read_text("utf-8")), "utf-8")
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    before = digest(out)
    result = run("--content", str(content_copy), "--out", str(out))
    assert result.returncode == 1 and words in result.stderr, result.stderr
    no_traceback(result)
    assert digest(out) == before


def test_an_allowed_image_host_is_accepted_and_named_in_the_policy(content_copy, tmp_path):
    path = content_copy / A
    path.write_text(path.read_text("utf-8").replace("        持续举办", "        ![x](https://img.example.org/p.png) 持续举办"),
                    "utf-8")
    site_yaml = content_copy / "site.yaml"
    site_yaml.write_text(site_yaml.read_text("utf-8").replace('corrections: ""', 'corrections: ""\n'
                                                              'allowed_image_hosts: [img.example.org]'), "utf-8")
    build_site(content_copy, tmp_path / "site")
    page = (tmp_path / "site" / "agencies/development-reform/index.html").read_text("utf-8")
    assert '<img src="https://img.example.org/p.png"' in page and "img-src 'self' https://img.example.org" in \
        page.replace("&#39;", "'")


def test_a_huge_file_fails_fast_within_fixed_memory(content_copy, tmp_path):
    """Two million keys (about 26 MB): refused by its size before any parsing."""
    path = content_copy / A
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("number: 3\n")
        for n in range(2_000_000):
            handle.write(f"k{n}: 1\n")
    started = time.perf_counter()
    result = subprocess.run(["/usr/bin/time", "-f", "%M", sys.executable, str(ROOT / "build.py"), "check",
                             "--content", str(content_copy)], capture_output=True, text=True, timeout=60) \
        if Path("/usr/bin/time").exists() else run("check", "--content", str(content_copy))
    seconds = time.perf_counter() - started
    assert result.returncode == 1 and "a content file may be at most" in result.stderr, result.stderr[-500:]
    assert seconds < 5, seconds
    if Path("/usr/bin/time").exists():
        peak_kb = int(result.stderr.strip().splitlines()[-1])
        assert peak_kb < 200_000, f"{peak_kb} KB"


def test_a_file_name_that_is_not_utf8_does_not_crash_the_report(content_copy, tmp_path):
    (content_copy / "agencies" / os.fsdecode(b"27-\xff.yaml")).write_text("number: 27\n")
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "check", "--content", str(content_copy)],
                            capture_output=True, timeout=60)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert "27-\ufffd.yaml".encode() in result.stderr


def test_a_bug_is_one_line_with_exit_3_not_a_traceback(tmp_path, monkeypatch):
    import build
    import sitegen.pipeline as pipeline

    def broken(project):
        raise ValueError("something unexpected")
    monkeypatch.setattr(pipeline, "build", broken)
    status = build.main(["--out", str(tmp_path / "site"), "--no-cache"])
    assert status == 3


# --- What the mutation tests found untested ---------------------------------------------------

@pytest.mark.parametrize("n,numeral", [(1, "一"), (10, "十"), (11, "十一"), (20, "二十"), (66, "六十六"), (99, "九十九"),
                                       (100, "一百"), (101, "一百零一"), (110, "一百一十"), (111, "一百一十一"),
                                       (999, "九百九十九"), (1000, "一千"), (1001, "一千零一"), (1010, "一千零一十"),
                                       (1100, "一千一百"), (9999, "九千九百九十九")])
def test_chinese_numerals_from_one_to_9999(n, numeral):
    assert chinese_numeral(n) == numeral


@pytest.mark.parametrize("rel,old,new,field,hint", [
    ("topics.yaml", "  label: {zh: 标准化", "  lable: {zh: 标准化", "[1].lable", "did you mean 'label'?"),
    ("glossary.yaml", "- zh: 质量月\n  en:", "- zh: 质量月\n  eng:", "[0].eng", "did you mean 'en'?"),
], ids=["topics", "glossary"])
def test_typos_in_topics_and_the_glossary_get_a_hint(content_copy, rel, old, new, field, hint):
    from sitegen.errors import ContentError
    from sitegen.validate import load_site

    path = content_copy / rel
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert any(p.field == field and hint in p.message for p in caught.value.problems), \
        [str(p) for p in caught.value.problems]


def test_a_file_named_for_another_slug_is_caught_too(content_copy):
    """The slug check in the other direction: the file renamed, its slug left as it was."""
    from sitegen.errors import ContentError
    from sitegen.validate import load_site

    (content_copy / A).rename(content_copy / "agencies" / "03-reform.yaml")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert [p.name for p in caught.value.problems] == ["file_slug_mismatch"]
    assert "the file name says slug 'reform' but the file says 'development-reform'" in caught.value.problems[0].message


def test_an_empty_agencies_folder_is_an_error_and_the_old_site_stays(content_copy, tmp_path):
    out = tmp_path / "site"
    build_site(ROOT / "content", out)
    before = digest(out)
    for path in (content_copy / "agencies").iterdir():
        path.unlink()
    result = run("--content", str(content_copy), "--out", str(out))
    assert result.returncode == 1 and "no agency files found" in result.stderr
    assert digest(out) == before


def test_the_manifest_lists_every_file_the_build_wrote(built_site):
    import json

    listed = json.loads((built_site / MANIFEST).read_text("utf-8"))["files"]
    on_disk = {p.relative_to(built_site).as_posix() for p in built_site.rglob("*") if p.is_file()} - {MANIFEST}
    assert set(listed) == on_disk and len(on_disk) > len(SITE.agencies) * 3


# --- serve's HTTP, with raw sockets ------------------------------------------------------------

@pytest.fixture(scope="module")
def serving(tmp_path_factory):
    from test_serve import free_port

    work = tmp_path_factory.mktemp("serve-http")
    shutil.copytree(ROOT / "content", work / "content")
    port = free_port()
    process = subprocess.Popen([sys.executable, str(ROOT / "build.py"), "serve", "--content", str(work / "content"),
                                "--out", str(work / "site"), "--port", str(port), "--no-cache"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield {"port": port, "process": process, "work": work}
    process.terminate()
    output = process.communicate(timeout=10)[0]
    assert "Traceback" not in output, output[-3000:]


def raw(port: int, request: bytes, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        if not read:
            return b""
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_headers(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def get(port: int, path: str, method: str = "GET", host: str | None = None) -> tuple[int, dict, bytes]:
    host = host or f"127.0.0.1:{port}"
    return status_and_headers(raw(port, f"{method} {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode("latin-1")))


def test_serve_answers_only_its_own_host_names(serving):
    port = serving["port"]
    assert get(port, "/")[0] == 200
    assert get(port, "/", host=f"localhost:{port}")[0] == 200
    status, _, body = get(port, "/", host="attacker.example")
    assert status == 403 and b"<html" not in body


def test_serve_lists_no_folders_and_leaks_nothing(serving):
    port = serving["port"]
    for path in ("/#fragment", "/%23x", "/assets/", "/assets", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
                 "/..%2f..%2fetc/passwd", "//etc/passwd"):
        status, headers, body = get(port, path)
        assert b"Directory listing" not in body and b"root:" not in body, path
        assert status in (200, 301, 404), (path, status)
    assert get(port, "/#fragment")[0] == 200  # the fragment is not part of the path
    assert get(port, "/assets/")[0] == 404


def test_serve_head_and_types(serving):
    port = serving["port"]
    status, headers, body = get(port, "/", "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000
    status, headers, _ = get(port, "/", "POST")
    assert status == 501
    checked = 0
    index = get(port, "/")[2].decode("utf-8")
    for link in re.findall(r'(?:href|src)="([^"]+\.(?:css|js))"', index):
        status, headers, _ = get(port, "/" + link)
        assert status == 200 and headers["content-type"].endswith("; charset=utf-8"), (link, headers)
        assert headers["x-content-type-options"] == "nosniff"
        checked += 1
    assert checked >= 3
    status, headers, _ = get(port, "/data/activities.csv")
    assert headers["content-type"] == "text/csv; charset=utf-8" and headers["x-content-type-options"] == "nosniff"


def test_serve_takes_a_burst_of_connections_and_hangs_ups_quietly(serving):
    port = serving["port"]
    for _ in range(50):  # clients that hang up mid-request or mid-response
        raw(port, b"GET /print/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port, read=False)
        raw(port, b"GET /data/activities.json HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n" % port, read=False)
    results, started = [], time.perf_counter()

    def one():
        try:
            results.append(get(port, "/robots.txt")[0])
        except OSError as err:
            results.append(str(err))
    threads = [threading.Thread(target=one) for _ in range(600)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert results.count(200) == 600, {r for r in results if r != 200}
    assert time.perf_counter() - started < 8


def test_serve_shows_a_failing_build_and_head_says_so(serving):
    port, work = serving["port"], serving["work"]
    path = work / "content" / A
    original = path.read_text("utf-8")
    path.write_text(original.replace("slug: development-reform\n", "slug: development-reform\n? [a, b]\n: c\n"), "utf-8")
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and get(port, "/")[0] != 500:
            time.sleep(0.05)
        status, headers, body = get(port, "/en/")
        assert status == 500 and b"a key must be plain text" in body
        assert get(port, "/", "HEAD")[0] == 500
    finally:
        path.write_text(original, "utf-8")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and get(port, "/")[0] != 200:
        time.sleep(0.05)
    assert get(port, "/")[0] == 200


# --- Pages rendered by several processes (build.py --jobs) ----------------------------------------

def test_pages_rendered_by_several_processes_are_the_pages_one_process_renders(tmp_path):
    parallel, serial = run("--jobs", "3", "--out", str(tmp_path / "three")), run("--jobs", "1", "--out",
                                                                                     str(tmp_path / "one"))
    assert parallel.returncode == serial.returncode == 0, parallel.stderr + serial.stderr
    assert digest(tmp_path / "three") == digest(tmp_path / "one")
    for _ in range(2):  # and again, taking the unchanged pages from the last build, in three processes
        again = subprocess.run([sys.executable, str(ROOT / "build.py"), "--jobs", "3", "--out", str(tmp_path / "again"),
                                "--cache", str(tmp_path / "cache")], capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr
        assert digest(tmp_path / "again") == digest(tmp_path / "one")


@pytest.mark.parametrize("capacity", [4096, 3], ids=["one-by-one", "in-batches"])
def test_the_processes_take_every_file_once_from_one_queue(tmp_path, capacity):
    """Whichever process is free takes the next file, so a process with long pages does not hold
    the others up; each file is made once. With more files than the queue holds numbers (here 3),
    each number stands for a run of files (60 files: runs of 20)."""
    script = ("import os, sys, time; sys.path.insert(0, sys.argv[1]); from pathlib import Path\n"
              "from sitegen import parallel, write\nparallel.QUEUE_CAPACITY = int(sys.argv[3])\n"
              "def maker(n):\n    def make():\n        time.sleep(0.02)\n        return str(os.getpid()).encode()\n"
              "    return make\n"
              "with write.NewSite(Path(sys.argv[2])) as writer:\n"
              "    parallel.make_files({f'f/{n}': maker(n) for n in range(60)}, writer, processes=3)\n"
              "    writer.commit()\n")
    result = _python(script, str(tmp_path / "out"), str(capacity))
    assert result.returncode == 0, result.stderr
    made_by = {int(p.name): p.read_text() for p in (tmp_path / "out" / "f").iterdir()}
    assert sorted(made_by) == list(range(60))
    assert len(set(made_by.values())) >= 2, "one process made every file"
    if capacity == 3:
        assert all(len({made_by[n] for n in range(run, run + 20)}) == 1 for run in (0, 20, 40)), made_by


def test_a_template_mistake_is_reported_alike_by_one_process_and_by_several(tmp_path):
    """Each process stops at its first failure; the build reports the first in page order, as one
    process does: here the mistake is on every agency page, so that is the first agency's."""
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    agency = templates / "agency.html"
    agency.write_text(agency.read_text("utf-8").replace("{{ count(agency.activities | length) }}",
                                                        "{{ count(agency.activities | length) }}{{ no_such_name }}"),
                      "utf-8")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path\n"
              "from sitegen.pipeline import Project, build\nfrom sitegen.errors import ContentError\n"
              "try:\n    build(Project(templates=Path(sys.argv[2]), out=Path(sys.argv[3]), processes=int(sys.argv[4])))\n"
              "except ContentError as err:\n    print(err.report())\n")
    reports = {}
    for processes in (1, 2, 3):
        result = _python(script, str(templates), str(tmp_path / "site"), str(processes))
        assert result.returncode == 0 and not result.stderr, result.stderr
        reports[processes] = result.stdout
    assert reports[1] == reports[2] == reports[3]
    assert "no_such_name" in reports[1] and f"/agencies/{SITE.agencies[0].slug}/" in reports[1], reports[1]
    assert not (tmp_path / "site").exists()


def test_a_rendering_process_that_dies_fails_the_build_and_leaves_the_site_as_it_was(tmp_path):
    script = ("import os, sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path\n"
              "import sitegen.render as render\nfrom sitegen.pipeline import Project, build\n"
              "parent, original = os.getpid(), render.Renderer.render\n"
              "def dies_in_a_child(self, page, lang):\n"
              "    if os.getpid() != parent:\n        os._exit(9)\n    return original(self, page, lang)\n"
              "render.Renderer.render = dies_in_a_child\n"
              "try:\n    build(Project(out=Path(sys.argv[2]), processes=2))\n"
              "except RuntimeError as err:\n    print(err)\n")
    result = _run_on_a_built_site(tmp_path, script)
    assert result.stdout.strip() == "a rendering process stopped before it finished (status 9)", result


def test_pages_reused_after_a_build_in_several_processes_follow_an_asset_edit(tmp_path):
    """What each page used is gathered from every rendering process: after an edit to a script
    every page links, no page is taken over from the last build with the old script's name."""
    shutil.copytree(ROOT / "assets", tmp_path / "assets")
    script = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path\n"
              "from sitegen.pipeline import Project, build\n"
              "build(Project(out=Path(sys.argv[2]), assets=Path(sys.argv[3]), cache=Path(sys.argv[4]), processes=3))\n")
    def build_in_three(out: Path, cache: Path) -> None:
        result = _python(script, str(out), str(tmp_path / "assets"), str(cache))
        assert result.returncode == 0, result.stderr

    build_in_three(tmp_path / "site", tmp_path / "cache")
    site_js = tmp_path / "assets" / "js" / "site.js"
    site_js.write_text(site_js.read_text("utf-8") + "\n// edited\n", "utf-8")
    build_in_three(tmp_path / "site", tmp_path / "cache")
    build_in_three(tmp_path / "clean", tmp_path / "no-cache-yet")
    assert digest(tmp_path / "site") == digest(tmp_path / "clean")
