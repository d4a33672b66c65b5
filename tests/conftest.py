"""Shared fixtures: the real site built once per session, a local static server, one Chromium."""
from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sitegen.pipeline import Builder, Project, build as build_project  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
BASE_URL = "https://quality.example.org/2020/"
SITE = Builder(Project()).model()  # the real content: tests take languages, counts and names from it
LANGS = {lang.code: lang for lang in SITE.languages}


def build_site(content: Path, out: Path, base_url: str | None = None, cache: Path | None = None):
    """Build a site as build.py does (never with the developer's .cache/): the pipeline's Result.
    base_url None takes site.yaml's."""
    return build_project(Project(content=Path(content), out=Path(out), base_url=base_url, cache=cache))


def record_renders(monkeypatch) -> list[str]:
    """The pages rendered from now on in this process (by their path in site/): what a build did
    not take from the last site or from serve's page cache."""
    from sitegen.render import Renderer

    rendered: list[str] = []
    original = Renderer._render

    def recording(self, page, lang, used):
        rendered.append(page.output_path(lang))
        return original(self, page, lang, used)

    monkeypatch.setattr(Renderer, "_render", recording)
    return rendered


def lang_prefix(code: str) -> str:
    """A language's folder in the site, with a slash ('' for the first language)."""
    path = LANGS[code].path
    return path + "/" if path else ""


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The real content built once, without a base URL (as most hosts will use it)."""
    out = tmp_path_factory.mktemp("site") / "site"
    build_site(ROOT / "content", out)
    return out


@pytest.fixture(scope="session")
def built_site_with_base(tmp_path_factory) -> Path:
    """The real content built with a base URL: canonical links, sitemap addresses, QR codes."""
    out = tmp_path_factory.mktemp("site-base") / "site"
    build_site(ROOT / "content", out, base_url=BASE_URL)
    return out


@pytest.fixture
def content_copy(tmp_path) -> Path:
    """A private copy of content/ that a test may break."""
    copy = tmp_path / "content"
    shutil.copytree(ROOT / "content", copy)
    return copy


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class StaticServer:
    """Serves a folder on 127.0.0.1, optionally under a sub-path like /some/prefix/."""

    def __init__(self, root: Path, prefix: str = "/"):
        self.prefix = prefix
        serve_root = root
        if prefix != "/":  # mount the site under the prefix, as a host would
            serve_root = root.parent / ("mount-" + root.name)
            target = serve_root / prefix.strip("/")
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.symlink_to(root, target_is_directory=True)
        handler = functools.partial(_QuietHandler, directory=str(serve_root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def site_server(built_site):
    server = StaticServer(built_site)
    yield server
    server.close()


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session. Skips on a laptop without it, never under CI."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium not found at {CHROMIUM}; CI must install it (apt-get install chromium)")
        pytest.skip(f"Chromium not found at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab that fails the test on any console error."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.console_errors = errors
    yield tab
    context.close()


def pytest_collection_modifyitems(items):
    """Mark the tests that need Chromium ('browser'), so that the fast tests alone can be run:
    pytest -m "not browser" (scripts/mutation.py does)."""
    for item in items:
        if {"browser", "page", "tabs"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: needs Chromium (deselect with -m 'not browser')")
