"""Every content mistake of issue 2 gets one clear message: file, line, field, what was expected."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from sitegen.errors import ContentError
from sitegen.validate import load_site

AGENCY = "agencies/03-development-reform.yaml"


def replace(content: Path, relpath: str, old: str, new: str, count: int = 1) -> None:
    path = content / relpath
    text = path.read_text("utf-8")
    assert old in text, f"test setup: {old!r} not in {relpath}"
    path.write_text(text.replace(old, new, count), "utf-8")


def line_number(content: Path, relpath: str, fragment: str) -> int:
    lines = (content / relpath).read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if fragment in line)


def problems(content: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_site(content)
    return [str(p) for p in caught.value.problems]


def only(content: Path) -> str:
    found = problems(content)
    assert len(found) == 1, found
    return found[0]


def test_a_missing_language_and_an_unknown_one(content_copy):
    replace(content_copy, AGENCY, '      en: "Online expo', '      fr: "Online expo')
    line = line_number(content_copy, AGENCY, "fr: ")
    found = problems(content_copy)
    assert len(found) == 2
    assert found[0].endswith(f"{AGENCY}:{line - 2}: activities[0].title: missing the 'en' text (every text needs: zh, en)")
    assert found[1].endswith(f"{AGENCY}:{line}: activities[0].title.fr: unknown language 'fr' (site.yaml declares: zh, en)")


@pytest.mark.parametrize("old, new, at, expected", [
    ("    topics: [", "    # topics: [", "  - number: 25", "activities[0].topics: required field is missing"),
    ("    title:", "    titel:", "titel:", "activities[0].titel: unknown field; did you mean 'title'?"),
    ("number: 3", "number: three", "number: three", "number: expected a whole number, got text"),
    ('  en: "Tianjin Development and Reform Commission"', '  en: "  "', 'en: "  "', "name.en: must not be empty"),
    ("topics: [brands-ip", "topics: [brand-ip", "brand-ip",
     "activities[0].topics[0]: unknown topic 'brand-ip'; did you mean 'brands-ip'? topics are listed in topics.yaml"),
], ids=["missing", "typo", "type", "empty", "topic"])
def test_one_mistake_one_message_at_its_line(content_copy, old, new, at, expected):
    replace(content_copy, AGENCY, old, new)
    line = line_number(content_copy, AGENCY, at)
    assert only(content_copy).endswith(f"content/{AGENCY}:{line}: {expected}")


def test_duplicate_activity_number(content_copy):
    replace(content_copy, "agencies/04-industry-it.yaml", "number: 26", "number: 25")
    message = only(content_copy)
    assert "04-industry-it.yaml" in message and "activity number 25 is also used in 03-development-reform.yaml" in message


def test_agency_numbers_without_gaps(content_copy):
    (content_copy / AGENCY).unlink()
    message = only(content_copy)
    assert "04-industry-it.yaml:2: number:" in message and "expected 3 here" in message


def test_slug_must_be_url_safe(content_copy):
    replace(content_copy, AGENCY, "slug: development-reform", "slug: Development Reform")
    found = problems(content_copy)
    assert any(f"{AGENCY}:3: slug: expected text matching regex" in p for p in found)


def test_slug_must_match_the_file_name(content_copy):
    replace(content_copy, AGENCY, "slug: development-reform", "slug: commerce")
    assert "the file name says slug 'development-reform' but the file says 'commerce'" in only(content_copy)


@pytest.mark.parametrize("text, line, expected", [
    ("number: 3\nslug: x\n  name: bad\n", 3, "invalid YAML: mapping values are not allowed in this context"),
    ("number: 3\nslug: x\nname:\n\tzh: 市发改委\n", 4, "this line contains a tab; indent with spaces"),
    ('number: 3\nslug: "x\nname: y\n', 4, "which started on line 2"),
])
def test_malformed_yaml(content_copy, text, line, expected):
    (content_copy / AGENCY).write_text(text, "utf-8")
    message = only(content_copy)
    assert f"{AGENCY}:{line}: " in message and expected in message


@pytest.mark.parametrize("data, expected", [
    (b"", "file is empty"),
    (b"# nothing but a comment\n", "file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not a text file"),
    ("number: 3\nslug: 市发改委\n".encode("gb18030"), "is not valid UTF-8"),
])
def test_unreadable_files(content_copy, data, expected):
    (content_copy / AGENCY).write_bytes(data)
    assert expected in only(content_copy)


def test_all_errors_of_a_run_are_reported_together(content_copy):
    replace(content_copy, AGENCY, "    title:", "    titel:")
    replace(content_copy, "agencies/05-commerce.yaml", "number: 28", "number: x")
    replace(content_copy, "topics.yaml", "label: {zh: 标准化, en: Standards}", "label: {zh: 标准化}")
    found = problems(content_copy)
    assert len(found) == 3
    assert {Path(p.split(":")[0]).name for p in found} == {"03-development-reform.yaml", "05-commerce.yaml", "topics.yaml"}


def test_cli_exits_1_with_the_message_and_no_traceback(content_copy, tmp_path):
    replace(content_copy, AGENCY, "    title:", "    titel:")
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", str(content_copy),
                             "--out", str(tmp_path / "site"), "--no-cache"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "activities[0].titel: unknown field" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "site").exists()


def test_a_language_path_cannot_be_one_of_the_sites_folders(content_copy):
    replace(content_copy, "site.yaml", "    path: en\n", "    path: data\n")
    line = line_number(content_copy, "site.yaml", "path: data")
    assert only(content_copy).endswith(f"content/site.yaml:{line}: languages[1].path: language path 'data' is a folder "
                                       "the site already uses; avoid: activities, agencies, assets, data, print")
