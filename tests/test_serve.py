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

from pathlib import Path

from conftest import BASE_URL, ROOT, SITE, build_site, record_renders
from sitegen.pages import EVERY_AGENCY, site_pages
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
         "--port", str(port), "--no-cache"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
    page.wait_for_function("() => document.body !== null && document.body.textContent.includes('Reloaded title')",
                           timeout=10000)
    assert not [e for e in page.console_errors if "__events" not in e]


def test_a_rebuild_renders_only_the_pages_an_edit_touches_and_matches_a_full_build(content_copy, tmp_path,
                                                                                    monkeypatch):
    from sitegen.pipeline import Builder, Project

    builder = Builder(Project(content=content_copy, out=tmp_path / "served"))
    builder.build()
    rendered = record_renders(monkeypatch)
    builder.build()
    assert rendered == [], "a rebuild with no edit renders nothing"
    agency = SITE.agencies[1]
    lists_everything = {page.key for page in site_pages(SITE)
                        if page.kind.agencies == EVERY_AGENCY and not page.kind.per_agency}
    # an activity: the agency's page and the pages that list everything; its name: its neighbours'
    # pages too, which show it, and the home page, which lists the agencies by name. Only in the
    # languages that show the text edited: the English alone, or the Chinese and the 繁體 made from it.
    english, chinese = ["en"], ["zh", "zh-Hant"]
    for old, new, shown, home, languages in (
            (agency.activities[0].title["en"], "Edited in place", SITE.agencies[1:2], set(), english),
            (agency.activities[0].title["zh"], "就地修改", SITE.agencies[1:2], set(), chinese),
            (agency.name["en"], "Renamed in place", SITE.agencies[0:3], {""}, english)):
        rendered.clear()
        edit(content_copy, old, new)
        builder.build()
        keys = {f"agencies/{a.slug}/" for a in shown} | lists_everything | home
        assert sorted(rendered) == sorted(page.output_path(lang) for page in site_pages(SITE) if page.key in keys
                                          for lang in SITE.languages if lang.code in languages)
        build_site(content_copy, tmp_path / "full")
        assert tree_digest(tmp_path / "served") == tree_digest(tmp_path / "full")


def _edits(content: Path, templates: Path, assets: Path):
    """Edits of every kind an editor makes, each a (name, function) that changes the files."""
    def replace(path: Path, old: str, new: str) -> None:
        text = path.read_text("utf-8")
        assert old in text, (path, old)
        path.write_text(text.replace(old, new, 1), "utf-8")

    last = sorted((content / "agencies").glob("*.yaml"))[-1]
    number = int(last.name.split("-")[0])
    slug = last.stem.split("-", 1)[1]
    extra = last.with_name(f"{number + 1:02d}-extra-agency.yaml")
    first_activity = sum(len(a.activities) for a in SITE.agencies) + 1
    return [
        ("an activity's title", lambda: replace(content / "agencies" / "03-development-reform.yaml",
                                                "云上自主品牌博览会\"", "云上品牌博览会\"")),
        ("an interface string", lambda: replace(content / "site.yaml", "skip_to_content: {", "skip_to_content:  {")),
        ("the site title", lambda: replace(content / "site.yaml", "title:\n  zh: ", "title:\n  zh: 新")),
        ("a topic label", lambda: replace(content / "topics.yaml", "label: {zh: 计量,", "label: {zh: 计量与测量,")),
        ("a template", lambda: replace(templates / "partials" / "footer.html", "</footer>", "<!-- edited --></footer>")),
        ("the stylesheet", lambda: (assets / "css" / "site.css").write_text(
            (assets / "css" / "site.css").read_text("utf-8") + "\n/* edited */\n", "utf-8")),
        ("a new agency", lambda: extra.write_text(
            f"number: {number + 1}\nslug: extra-agency\nname: {{zh: 新部门, en: New agency}}\n"
            f"full_name: {{zh: 新部门全称, en: The new agency}}\nactivities:\n  - number: {first_activity}\n"
            f"    topics: [metrology]\n    title: {{zh: 新活动, en: A new activity}}\n"
            f"    text: {{zh: 新活动的全文。, en: The new activity's text.}}\n", "utf-8")),
        ("a renamed agency", lambda: (extra.rename(extra.with_name(f"{number + 1:02d}-renamed.yaml")),
                                      replace(extra.with_name(f"{number + 1:02d}-renamed.yaml"),
                                              "slug: extra-agency", "slug: renamed"))),
        ("a deleted agency", lambda: extra.with_name(f"{number + 1:02d}-renamed.yaml").unlink()),
        ("an agency's name", lambda: replace(last, "name:\n  zh: ", "name:\n  zh: 天津")),
    ]


def test_serve_matches_a_clean_build_after_edits_of_every_kind(tmp_path):
    """One Builder, as serve keeps it, through a series of edits: after each, its site/ is the same,
    byte for byte, as a clean build of the same files into a fresh folder."""
    import shutil

    from sitegen.pipeline import Builder, Project

    project = Project(content=tmp_path / "content", out=tmp_path / "served", templates=tmp_path / "templates",
                      assets=tmp_path / "assets")
    for name in ("content", "templates", "assets"):
        shutil.copytree(ROOT / name, tmp_path / name)
    builder = Builder(project)
    builder.build()
    for n, (what, apply) in enumerate(_edits(project.content, project.templates, project.assets)):
        apply()
        builder.build()
        clean = Project(content=project.content, out=tmp_path / f"clean-{n}", templates=project.templates,
                        assets=project.assets)
        Builder(clean).build()
        assert tree_digest(project.out) == tree_digest(clean.out), f"after {what}"
        assert _folders(project.out) == _folders(clean.out), f"after {what}: empty folders left behind"


def _folders(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_dir()}


def test_serve_says_so_when_another_build_wrote_its_folder(content_copy, tmp_path):
    from sitegen.pipeline import Builder, Project

    out = tmp_path / "site"
    builder = Builder(Project(content=content_copy, out=out))
    builder.build()
    build_site(content_copy, out, base_url=BASE_URL)  # `build.py --base-url …` while serve runs
    edit(content_copy, "number: 24", "number: 24  # edited")
    result = builder.build()
    assert "changed by another build" in result.notice
    build_site(content_copy, tmp_path / "clean")
    assert tree_digest(out) == tree_digest(tmp_path / "clean"), "no mix of the two builds"
