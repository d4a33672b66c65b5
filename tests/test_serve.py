"""`build.py serve`: an edit is rebuilt and shown, an error is shown in the browser, and the
last good site stays on disk."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT
from test_build import tree_digest

AGENCY = "agencies/02-state-assets.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8")


def wait_for(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the server")


@pytest.fixture
def server(content_copy, tmp_path):
    port = free_port()
    out = tmp_path / "site"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "build.py"), "serve", "--content", str(content_copy), "--out", str(out),
         "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"

    def up():
        try:
            return fetch(url)[0] == 200
        except OSError:
            return False
    try:
        wait_for(up, timeout=20)
        yield {"url": url, "content": content_copy, "out": out, "process": process}
    finally:
        process.terminate()
        process.wait(timeout=10)


def edit(content, old: str, new: str) -> None:
    path = content / AGENCY
    path.write_text(path.read_text("utf-8").replace(old, new), "utf-8")


def test_an_edit_is_rebuilt_and_served(server):
    page = server["url"] + "en/agencies/state-assets/"
    status, body = fetch(page)
    assert status == 200 and "/__reload.js" in body
    edit(server["content"], "Quality training for state-owned enterprises", "Quality drive in state firms")
    wait_for(lambda: "Quality drive in state firms" in fetch(page)[1])


def test_a_content_error_shows_in_the_browser_and_keeps_the_last_good_site(server):
    page = server["url"] + "en/"
    before = tree_digest(server["out"])
    edit(server["content"], "number: 24", "number: twenty-four")
    status, body = wait_for(lambda: (lambda r: r if r[0] == 500 else None)(fetch(page)))
    assert "02-state-assets.yaml:11: activities[0].number: expected a whole number, got text" in body
    assert tree_digest(server["out"]) == before
    edit(server["content"], "number: twenty-four", "number: 24")
    wait_for(lambda: fetch(page)[0] == 200)


def test_the_browser_reloads_by_itself(server, page):
    page.goto(server["url"] + "en/agencies/state-assets/")
    edit(server["content"], "Quality training for state-owned enterprises", "Reloaded title")
    page.wait_for_function("() => document.body.textContent.includes('Reloaded title')", timeout=10000)
    assert not [e for e in page.console_errors if "__events" not in e]


def test_a_rebuild_renders_only_the_pages_an_edit_touches_and_matches_a_full_build(content_copy, tmp_path):
    import build
    from sitegen.serve import Builder

    builder = Builder(content_copy, tmp_path / "served", build.DEFAULTS["templates"], build.DEFAULTS["assets"],
                      "", build.render_site)
    builder.build()
    before = {key: html for key, (_, html) in builder.page_cache.pages.items()}
    edit(content_copy, "Quality training for state-owned enterprises", "Edited in place")
    assert builder.build().startswith("rebuilt")
    rerendered = {key for key, (_, html) in builder.page_cache.pages.items() if html is not before[key]}
    # the agency itself and its neighbours (which show its name), and the pages that list everything
    expected_keys = {"agencies/market-regulation/", "agencies/state-assets/", "agencies/development-reform/",
                     "", "activities/", "print/", "data/", "404.html"}
    assert {key for key, _ in rerendered} == expected_keys
    build.build(content_copy, tmp_path / "full", base_url="")
    assert tree_digest(tmp_path / "served") == tree_digest(tmp_path / "full")
