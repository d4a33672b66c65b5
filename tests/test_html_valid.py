"""Valid HTML (issue 6, part 2): every page passes the Nu HTML Checker with zero errors.

The checker is vnu.jar from the vnu-jar npm package pinned in tests/package.json (install it with
`npm ci --prefix tests`). It runs ONCE, on the pages of three builds together — the plain site, the
site with a base URL (canonical links, QR code) and the site built from attack strings (escaping
must keep the markup valid) — plus a known-broken page that proves the checker reports errors."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from test_security import build_payload_site

VNU_JAR = ROOT / "tests" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
BROKEN_PAGE = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>broken</title></head>"
               "<body><p><div>unclosed</p><a href='x' href='y'>twice</a><ul><p>not an item</p></ul></body></html>")


def _require(condition: bool, why: str) -> None:
    if not condition:
        if os.environ.get("CI"):
            pytest.fail(f"{why} (CI must install it: `npm ci --prefix tests`, apt-get install default-jre-headless)")
        pytest.skip(why)


@pytest.fixture(scope="module")
def vnu_report(built_site, built_site_with_base, tmp_path_factory):
    """Run the checker once on every page of every build; {site name: {file: [error messages]}}."""
    _require(VNU_JAR.is_file(), f"{VNU_JAR.relative_to(ROOT)} is missing; run `npm ci --prefix tests`")
    _require(shutil.which("java") is not None, "java is not installed")
    _, payload_site = build_payload_site(tmp_path_factory.mktemp("vnu-payload"))
    canary = tmp_path_factory.mktemp("vnu-canary") / "broken.html"
    canary.write_text(BROKEN_PAGE, "utf-8")
    sites = {"plain": built_site, "base-url": built_site_with_base, "payload": payload_site}
    files = {name: sorted(site.rglob("*.html")) for name, site in sites.items()}
    every_file = [f for group in files.values() for f in group] + [canary]
    proc = subprocess.run(["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "json",
                           *map(str, every_file)], capture_output=True, text=True, timeout=300)
    output = proc.stderr  # vnu writes its report to stderr
    assert "{" in output, f"no report from vnu (exit {proc.returncode}): {output[-2000:]} {proc.stdout[-500:]}"
    report = json.loads(output[output.index("{"):])
    by_file: dict[str, list[str]] = {}
    for message in report["messages"]:
        if message.get("type") == "error" or message.get("subType") == "fatal" or message.get("type") == "non-document-error":
            path = message.get("url", "").removeprefix("file:")
            by_file.setdefault(str(Path(path).resolve()) if path else "?", []).append(
                f"line {message.get('lastLine', '?')}: {message['message']}"
                + (f" — {message['extract']!r}" if message.get("extract") else ""))
    return {"by_file": by_file, "files": files, "canary": str(canary.resolve()),
            "sites": sites, "exit": proc.returncode}


def test_the_checker_reports_a_broken_page(vnu_report):
    """Without this the other tests would pass on a checker that checks nothing."""
    errors = vnu_report["by_file"].get(vnu_report["canary"], [])
    assert len(errors) >= 3, errors
    assert vnu_report["exit"] != 0


@pytest.mark.parametrize("name", ["plain", "base-url", "payload"])
def test_every_page_is_valid_html(vnu_report, name):
    files = vnu_report["files"][name]
    assert len(files) >= 62, f"only {len(files)} pages in the {name} build"
    root = vnu_report["sites"][name]
    errors = {str(Path(f).relative_to(root)): vnu_report["by_file"][str(f.resolve())]
              for f in files if str(f.resolve()) in vnu_report["by_file"]}
    assert "?" not in vnu_report["by_file"], f"errors not tied to a file: {vnu_report['by_file']['?']}"
    total = sum(len(v) for v in errors.values())
    detail = "\n".join(f"{file}: {message}" for file, messages in sorted(errors.items()) for message in messages[:5])
    assert not errors, f"{total} HTML errors in {len(errors)} of {len(files)} pages ({name} build):\n{detail}"
