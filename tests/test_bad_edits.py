"""Bad edits (issue 6, part 5): a corpus of broken content, each made from a copy of content/ the way
an editor might break it. Every one must make `build.py --content X --out Y` exit 1 within a second,
with a message naming the file (and the line broken, and the field where there is one), no
traceback, and the site already in Y left byte for byte as it was."""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from conftest import ROOT, build_site

SECONDS = 1.0  # an editor waits no longer than this for the verdict
A = "agencies/03-development-reform.yaml"  # a short agency file: one activity, number 25
FIRST = "agencies/01-market-regulation.yaml"
LAST = "agencies/26-supply-marketing.yaml"


@dataclass
class Expect:
    """What the message must say: the file (relative to content/), the line (None: the message
    has no line, e.g. for a missing or empty file), the field, and words the message contains."""

    file: str
    line: int | None
    field: str | None = None
    words: tuple[str, ...] = ()
    max_messages: int = 5  # one mistake must not bury its message under follow-on errors


VARIANTS: dict[str, Callable[[Path], Expect]] = {}


def variant(func: Callable[[Path], Expect]) -> Callable[[Path], Expect]:
    VARIANTS[func.__name__.replace("_", "-")] = func
    return func


# --- Editing helpers: each returns the 1-based line it broke ------------------------------------

def line_with(content: Path, rel: str, fragment: str) -> int:
    lines = (content / rel).read_text("utf-8").splitlines()
    matches = [i for i, line in enumerate(lines, 1) if fragment in line]
    assert matches, f"test setup: {fragment!r} not in {rel}"
    return matches[0]


def edit(content: Path, rel: str, old: str | re.Pattern, new: str) -> int:
    """Replace the first `old` (a string, or a pattern whose groups `new` may use as \\1) and
    return the line where it started. Patterns keep the corpus independent of the English
    wording, which editors change."""
    path = content / rel
    text = path.read_text("utf-8")
    if isinstance(old, re.Pattern):
        match = old.search(text)
        assert match, f"test setup: {old.pattern!r} not in {rel}"
        start, replaced = match.start(), text[:match.start()] + match.expand(new) + text[match.end():]
    else:
        assert old in text, f"test setup: {old!r} not in {rel}"
        start, replaced = text.index(old), text.replace(old, new, 1)
    path.write_text(replaced, "utf-8")
    return text[:start].count("\n") + 1


# Lines of file A, found by structure: its name's English, and its first activity's English title.
NAME_EN = re.compile(r"(?m)^  en: .*$")
FULL_NAME_EN = re.compile(r"(?s)(full_name:\n  zh: [^\n]*\n)  en: [^\n]*")
TITLE_EN = re.compile(r"(?m)(?<=\n)      en: .*\n(?=    text:)")
TITLE_BLOCK = re.compile(r"    title:\n      zh: [^\n]*\n      en: [^\n]*\n")


def rename(content: Path, rel: str, new_name: str) -> str:
    path = content / rel
    path.rename(path.with_name(new_name))
    return str(Path(rel).with_name(new_name))


# --- The corpus -------------------------------------------------------------------------------

@variant
def yaml_unclosed_bracket(c):
    line = edit(c, A, "    topics: [brands-ip]\n", "    topics: [brands-ip\n")
    return Expect(A, line + 1, None, ("invalid YAML",))  # found where the next key starts


@variant
def yaml_bad_indentation(c):
    line = edit(c, A, "    title:\n      zh:", "    title:\n     zh:")
    return Expect(A, line + 2, None, ("invalid YAML",))  # the mapping it breaks ends at 'en:'


@variant
def yaml_colon_missing(c):
    line = edit(c, A, "slug: development-reform", "slug development-reform")
    return Expect(A, line + 1, None, ("invalid YAML",))


@variant
def tab_indentation(c):
    line = edit(c, A, re.compile(r"(?m)^      (en: .*\n)(?=    text:)"), "\t\\1")
    return Expect(A, line, None, ("tab",))


@variant
def unclosed_quote(c):
    line = edit(c, A, "      zh: \"云上自主品牌博览会\"", "      zh: \"云上自主品牌博览会")
    return Expect(A, line + 1, None, ("invalid YAML",))


@variant
def wrong_type_number(c):
    line = edit(c, A, "number: 3\n", "number: three\n")
    return Expect(A, line, "number", ("whole number",))


@variant
def wrong_type_topics_not_a_list(c):
    line = edit(c, A, "    topics: [brands-ip]", "    topics: brands-ip")
    return Expect(A, line, "activities[0].topics", ("list",))


@variant
def wrong_type_text_is_a_number(c):
    line = edit(c, A, "  zh: 市发改委", "  zh: 2020")
    return Expect(A, line, "name.zh", ("text",))


@variant
def null_text(c):
    line = edit(c, A, NAME_EN, "  en:")
    return Expect(A, line, "name.en", ("text",))


@variant
def number_zero(c):
    line = edit(c, A, "  - number: 25", "  - number: 0")
    return Expect(A, line, "activities[0].number", (">= 1",))


@variant
def missing_required_field(c):
    line = edit(c, A, TITLE_BLOCK, "")
    return Expect(A, line - 2, "activities[0].title", ("required field is missing",))  # the activity's line


@variant
def unknown_field_typo(c):
    line = edit(c, A, "    title:", "    titel:")
    return Expect(A, line, "activities[0].titel", ("unknown field", "did you mean 'title'"))


@variant
def unknown_top_level_field(c):
    line = edit(c, A, "slug: development-reform\n", "slug: development-reform\nwebsite: https://fzgg.tj.gov.cn\n") + 1
    return Expect(A, line, "website", ("unknown field",))


@variant
def duplicate_activity_number(c):
    line = edit(c, FIRST, "  - number: 2\n", "  - number: 1\n")
    return Expect(FIRST, line, "activities[1].number", ("also used",))


@variant
def duplicate_agency_number(c):
    moved = rename(c, "agencies/04-industry-it.yaml", "03-industry-it.yaml")
    line = edit(c, moved, "number: 4\n", "number: 3\n")
    return Expect(moved, line, "number", ("used by 2 files",))


@variant
def agency_number_gap(c):
    moved = rename(c, LAST, "27-supply-marketing.yaml")
    line = edit(c, moved, "number: 26\n", "number: 27\n")
    return Expect(moved, line, "number", ("without gaps", "26"))


@variant
def activity_number_gap(c):
    line = edit(c, LAST, "  - number: 66", "  - number: 67")
    return Expect(LAST, line, "activities[0].number", ("activity 66 is missing", "25-consumers-association.yaml"))


@variant
def activity_number_gap_within_a_file(c):
    line = edit(c, FIRST, "  - number: 23\n", "  - number: 25\n")
    return Expect(FIRST, line, "activities[22].number", ("expected activity number 23",))


@variant
def agency_file_cut_off_at_the_end(c):
    """A save that stopped part-way: the last activity of a file is gone. Say which number is
    missing and name both files, not only the next one."""
    path = c / FIRST
    text = path.read_text("utf-8")
    path.write_text(text[: text.index("  - number: 23\n")], "utf-8")
    line = line_with(c, "agencies/02-state-assets.yaml", "  - number: 24")
    return Expect("agencies/02-state-assets.yaml", line, "activities[0].number",
                  ("activity 23 is missing", "01-market-regulation.yaml", "cut off"))


@variant
def file_name_disagrees_with_number(c):
    line = edit(c, "agencies/02-state-assets.yaml", "number: 2\n", "number: 20\n")
    return Expect("agencies/02-state-assets.yaml", line, "number", ("file name says agency 2",))


@variant
def deleted_agency_file(c):
    (c / "agencies" / "12-water.yaml").unlink()
    return Expect("agencies/13-health.yaml", 2, "number", ("agency 12's file missing",))


@variant
def unknown_topic(c):
    line = edit(c, A, "    topics: [brands-ip]", "    topics: [brand-ip]")
    return Expect(A, line, "activities[0].topics[0]", ("unknown topic 'brand-ip'", "did you mean 'brands-ip'"))


@variant
def topic_listed_twice(c):
    line = edit(c, A, "    topics: [brands-ip]", "    topics: [brands-ip, brands-ip]")
    return Expect(A, line, "activities[0].topics[1]", ("twice",))


@variant
def too_many_topics(c):
    line = edit(c, A, "    topics: [brands-ip]", "    topics: [brands-ip, standards, metrology, finance]")
    return Expect(A, line, "activities[0].topics", ("<= 3",))


@variant
def no_activities(c):
    path = c / A
    lines = path.read_text("utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:9]) + "activities: []\n", "utf-8")
    return Expect(A, 10, "activities", (">= 1",))


@variant
def empty_file(c):
    (c / A).write_text("", "utf-8")
    return Expect(A, None, None, ("empty",))


@variant
def only_comments(c):
    (c / A).write_text("# number: 3\n# slug: development-reform\n", "utf-8")
    return Expect(A, None, None, ("empty",))


@variant
def empty_site_yaml(c):
    (c / "site.yaml").write_text("\n", "utf-8")
    return Expect("site.yaml", None, None, ("empty",))


@variant
def a_list_instead_of_a_mapping(c):
    (c / A).write_text("- number: 3\n- slug: development-reform\n", "utf-8")
    return Expect(A, None, None, ("mapping",))


@variant
def binary_file(c):
    (c / A).write_bytes(b"number: 3\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    return Expect(A, 4, None, ("binary",))  # the first NUL byte follows the third line break


@variant
def utf16_file(c):
    (c / A).write_bytes((c / A).read_text("utf-8").encode("utf-16"))
    return Expect(A, 1, None, ("UTF-8",))


@variant
def non_utf8_file(c):
    text = (c / A).read_text("utf-8")
    (c / A).write_bytes(text.encode("gb18030"))
    return Expect(A, 5, None, ("UTF-8",))  # line 5, "  zh: 市发改委", is the first with Chinese


@variant
def one_latin1_character(c):
    path = c / A
    line = line_with(c, A, "    text:") - 1  # the first activity's English title
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = lines[line - 1][:-1] + "caf\xe9".encode("latin-1") + lines[line - 1][-1:]
    path.write_bytes(b"\n".join(lines))
    return Expect(A, line, None, ("UTF-8", "0xe9"))


@variant
def directory_instead_of_topics_file(c):
    (c / "topics.yaml").unlink()
    (c / "topics.yaml").mkdir()
    return Expect("topics.yaml", None, None, ("directory",))


@variant
def topics_file_unreadable(c):
    line = edit(c, "topics.yaml", "- id: standards\n", "- id: standards\n  label: {zh: 标准化, en: Standards\n")
    return Expect("topics.yaml", line + 2, None, ("invalid YAML",))


@variant
def directory_among_agency_files(c):
    (c / "agencies" / "27-extra.yaml").mkdir()
    (c / "agencies" / "27-extra.yaml" / "notes.txt").write_text("x", "utf-8")
    return Expect("agencies/27-extra.yaml", None, None, ("directory",))


@variant
def missing_site_yaml(c):
    (c / "site.yaml").unlink()
    return Expect("site.yaml", None, None, ("missing",))


@variant
def yaml_bomb(c):
    bomb = ["number: 3", 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for name, prev in zip("bcdefghij", "abcdefghi"):
        bomb.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (c / A).write_text("\n".join(bomb) + "\n", "utf-8")
    return Expect(A, 2, None, ("aliases",))  # reported where the first anchor is defined


@variant
def alias_in_content(c):
    line = edit(c, A, NAME_EN, "  en: &name Tianjin DRC")
    edit(c, A, FULL_NAME_EN, "\\1  en: *name")
    return Expect(A, line, None, ("aliases",))  # reported at the anchor, the first line changed


@variant
def deeply_nested(c):
    (c / A).write_text("number: 3\nslug: " + "[" * 5000 + "]" * 5000 + "\n", "utf-8")
    return Expect(A, 2, "slug", ("text",))  # no RecursionError: a wrong type like any other


@variant
def bad_slug(c):
    line = edit(c, A, "slug: development-reform", "slug: Development_Reform")
    return Expect(A, line, "slug", ("match",))


@variant
def bad_file_name(c):
    moved = rename(c, A, "03 development reform.yml")
    return Expect(moved, None, None, ("NN-slug.yaml",))


@variant
def empty_translation(c):
    line = edit(c, A, TITLE_EN, '      en: ""\n')
    return Expect(A, line, "activities[0].title.en", ("must not be empty",))


@variant
def blank_translation(c):
    line = edit(c, A, "      zh: >-\n        持续举办", "      zh: \"   \"\n      x_: >-\n        持续举办")
    # The folded text under x_ is a second mistake (an unknown language); the blank zh is the first.
    return Expect(A, line, "activities[0].text.zh", ("must not be empty",))


@variant
def missing_language(c):
    line = edit(c, A, TITLE_EN, "")
    return Expect(A, line - 2, "activities[0].title", ("missing the 'en' text",))


@variant
def unknown_language(c):
    line = edit(c, A, "  zh: 市发改委\n", "  zh: 市发改委\n  fr: Commission\n") + 1
    return Expect(A, line, "name.fr", ("unknown language 'fr'",))


@variant
def duplicate_key(c):
    line = edit(c, A, "  zh: 市发改委\n", "  zh: 市发改委\n  zh: 发改委\n") + 1
    return Expect(A, line, None, ("duplicate key 'zh'",))


@variant
def duplicate_topic_id(c):
    line = edit(c, "topics.yaml", "- id: metrology", "- id: standards")
    return Expect("topics.yaml", line, "[2].id", ("used twice",))


@variant
def topic_without_english(c):
    line = edit(c, "topics.yaml", re.compile(r"label: \{zh: 计量, en: [^}]*\}"), "label: {zh: 计量}")
    return Expect("topics.yaml", line, "[2].label", ("missing the 'en' text",))


@variant
def glossary_entry_incomplete(c):
    import yaml

    index = [entry["zh"] for entry in yaml.safe_load((c / "glossary.yaml").read_text("utf-8"))].index("鲁班奖")
    line = edit(c, "glossary.yaml", re.compile(r"- zh: 鲁班奖\n  en: [^\n]*\n"), "- zh: 鲁班奖\n")
    return Expect("glossary.yaml", line, f"[{index}].en", ("required field is missing",))


@variant
def site_string_missing(c):
    edit(c, "site.yaml", re.compile(r"  search: \{zh: 搜索, en: [^}]*\}\n"), "")
    strings = edit(c, "site.yaml", "strings:\n", "strings:\n")  # the message points at the mapping
    return Expect("site.yaml", strings, "strings.search", ("required field is missing",))


@variant
def site_string_misspelt(c):
    line = edit(c, "site.yaml", re.compile(r"  search: (\{zh: 搜索, en: [^}]*\})\n"), "  serach: \\1\n")
    return Expect("site.yaml", line, "strings.serach", ("unknown field; did you mean 'search'?",))


@variant
def site_language_declared_twice(c):
    import yaml

    languages = yaml.safe_load((c / "site.yaml").read_text("utf-8"))["languages"]
    last = len(languages) - 1
    line = edit(c, "site.yaml", f"  - code: {languages[last]['code']}\n", f"  - code: {languages[0]['code']}\n")
    return Expect("site.yaml", line, f"languages[{last}].code", ("twice",))


@variant
def site_no_languages(c):
    text = (c / "site.yaml").read_text("utf-8")
    start, end = text.index("languages:\n"), text.index("\ntitle:")
    (c / "site.yaml").write_text(text[:start] + "languages: []\n" + text[end:], "utf-8")
    return Expect("site.yaml", line_with(c, "site.yaml", "languages: []"), "languages", (">= 1",))


@variant
def byte_order_mark_and_typo(c):
    line = edit(c, A, "    title:", "    titel:")
    (c / A).write_bytes(b"\xef\xbb\xbf" + (c / A).read_bytes())
    return Expect(A, line, "activities[0].titel", ("unknown field",))


@variant
def windows_line_endings_and_typo(c):
    line = edit(c, A, "    title:", "    titel:")
    (c / A).write_bytes((c / A).read_bytes().replace(b"\n", b"\r\n"))
    return Expect(A, line, "activities[0].titel", ("unknown field",))


# --- The run ----------------------------------------------------------------------------------

def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def existing_site(tmp_path_factory):
    """A good site, built once, that every failed build must leave alone."""
    out = tmp_path_factory.mktemp("existing") / "site"
    build_site(ROOT / "content", out)
    digest = tree_digest(out)
    assert len(digest) > 70
    return out, digest


def messages_for(stderr: str, file: str) -> list[tuple[int | None, str]]:
    """(line, rest of the message) for every line of stderr that names content/<file>."""
    found = []
    prefix = f"content/{file}"
    for text in stderr.splitlines():
        text = text.strip()
        if not text.startswith(prefix):
            continue
        tail = text[len(prefix):]
        match = re.match(r"^(?::(\d+))?: (.*)$", tail)
        if match:
            found.append((int(match[1]) if match[1] else None, match[2]))
    return found


def test_the_corpus_is_large_enough():
    assert len(VARIANTS) >= 25


@pytest.mark.parametrize("name", list(VARIANTS))
def test_a_bad_edit_is_reported_and_changes_nothing(name, tmp_path, existing_site):
    site, digest = existing_site
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    expect = VARIANTS[name](content)
    neighbours = sorted(p.name for p in site.parent.iterdir())

    def run() -> tuple[subprocess.CompletedProcess, float]:
        started = time.perf_counter()
        proc = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", "content", "--out", str(site),
                               "--no-cache"],
                              cwd=tmp_path, capture_output=True, text=True, timeout=30)
        return proc, time.perf_counter() - started

    proc, seconds = run()
    for _ in range(2):  # a busy machine can stall a run: the verdict is the fastest of three
        if seconds < SECONDS:
            break
        proc, again = run()
        seconds = min(seconds, again)

    report = f"exit {proc.returncode} in {seconds:.2f} s\nstderr:\n{proc.stderr}\nstdout:\n{proc.stdout}"
    assert "Traceback" not in proc.stderr + proc.stdout, report
    assert proc.returncode == 1, report
    assert seconds < SECONDS, report
    assert proc.stderr.strip(), report

    found = messages_for(proc.stderr, expect.file)
    assert found, f"no message names content/{expect.file}\n{report}"

    def fits(line: int | None, rest: str) -> bool:
        if expect.line is not None and line != expect.line:
            return False
        if expect.field is not None and not rest.startswith(f"{expect.field}: "):
            return False
        return all(word.lower() in rest.lower() for word in expect.words)

    assert any(fits(line, rest) for line, rest in found), (
        f"expected content/{expect.file}" + (f":{expect.line}" if expect.line else "")
        + (f": {expect.field}" if expect.field else "") + f": …{' … '.join(expect.words)}…\n{report}")
    count = sum(1 for text in proc.stderr.splitlines() if text.startswith("  "))
    assert count <= expect.max_messages, f"{count} messages for one mistake:\n{report[:3000]}"

    assert tree_digest(site) == digest, "the existing site was changed by a failed build"
    assert sorted(p.name for p in site.parent.iterdir()) == neighbours, "a failed build left files beside the site"
