"""Every message the generator can give an editor (sitegen/errors.py), each made once here by the
mistake that causes it, with the file, line and field it names and its exact words. A new message
must join the table: the last test fails while one is missing."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import yaml

from conftest import LANGS, ROOT, SITE, build_site
from sitegen.errors import MESSAGES, ContentError, message
from sitegen.pages import reserved_paths
from sitegen.validate import MAX_PROBLEMS_PER_FILE, OPENCC_CONFIGS, load_site

A = "agencies/03-development-reform.yaml"  # a short agency file: one activity, number 25
CODES = [lang.code for lang in SITE.written_languages]
DERIVED = next(index for index, lang in enumerate(SITE.languages) if lang.derive)


def edit(content: Path, rel: str, old: str | re.Pattern, new: str) -> int:
    """Replace the first `old` (text or pattern) in a content file; the line where it was."""
    path = content / rel
    text = path.read_text("utf-8")
    match = old.search(text) if isinstance(old, re.Pattern) else re.search(re.escape(old), text)
    assert match, f"test setup: {old!r} not in {rel}"
    replacement = match.expand(new) if isinstance(old, re.Pattern) else new
    path.write_text(text[:match.start()] + replacement + text[match.end():], "utf-8")
    return text[:match.start()].count("\n") + 1


def line_of(content: Path, rel: str, fragment: str) -> int:
    lines = (content / rel).read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if fragment in line)


def set_yaml(content: Path, rel: str, change: Callable) -> None:
    """Load a content file, change its data, write it back (comments are lost: fine for a test)."""
    path = content / rel
    data = yaml.safe_load(path.read_text("utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), "utf-8")


# --- The table: message name → a mistake → (file, line, field, the message's exact words) -------

CASES: dict[str, Callable] = {}


def case(name: str):
    def register(func):
        CASES[name] = func
        return func
    return register


@case("is_directory")
def _(c, tmp):
    (c / "topics.yaml").unlink()
    (c / "topics.yaml").mkdir()
    return "topics.yaml", None, None, message("is_directory")


@case("file_missing")
def _(c, tmp):
    (c / "topics.yaml").unlink()
    return "topics.yaml", None, None, message("file_missing")


@case("unreadable")
def _(c, tmp, monkeypatch):
    import sitegen.load as load

    real_open = open

    def refusing(path, *args, **kwargs):
        if str(path).endswith("topics.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(load, "open", refusing, raising=False)
    return "topics.yaml", None, None, message("unreadable", reason="Permission denied")


@case("too_large")
def _(c, tmp):
    from sitegen.load import MAX_FILE_BYTES

    size = MAX_FILE_BYTES + 100
    (c / A).write_text("# " + "x" * (size - 3) + "\n", "utf-8")
    return A, None, None, message("too_large", size=size, limit=MAX_FILE_BYTES)


@case("symlink_outside")
def _(c, tmp):
    outside = tmp / "elsewhere.yaml"
    outside.write_bytes((c / A).read_bytes())
    (c / A).unlink()
    (c / A).symlink_to(outside)
    return A, None, None, message("symlink_outside", target=outside.resolve())


@case("binary")
def _(c, tmp):
    (c / A).write_bytes(b"number: 3\nslug: x\n\x00\x01")
    return A, 3, None, message("binary")


@case("not_utf8")
def _(c, tmp):
    (c / A).write_bytes("number: 3\nslug: 市发改委\n".encode("gb18030"))
    return A, 2, None, message("not_utf8", byte=0xca)


@case("invalid_yaml")
def _(c, tmp):
    (c / A).write_text("number: 3\nslug: x\n  name: bad\n", "utf-8")
    return A, 3, None, message("invalid_yaml", detail="mapping values are not allowed in this context")


@case("aliases")
def _(c, tmp):
    line = edit(c, A, re.compile(r"(?m)^name:\n  zh: (.*)$"), "name:\n  zh: &n \\1")
    edit(c, A, re.compile(r"(?m)^full_name:\n  zh: .*$"), "full_name:\n  zh: *n")
    return A, line + 1, None, message("aliases")


@case("duplicate_key")
def _(c, tmp):
    line = edit(c, A, "  zh: 市发改委\n", "  zh: 市发改委\n  zh: 发改委\n") + 1
    return A, line, None, message("duplicate_key", key="zh")


@case("complex_key")
def _(c, tmp):
    line = edit(c, A, "slug: development-reform\n", "slug: development-reform\n? [a, b]\n: c\n") + 1
    return A, line, None, message("complex_key", kind="a list")


@case("empty_file")
def _(c, tmp):
    (c / A).write_text("# nothing but a comment\n", "utf-8")
    return A, None, None, message("empty_file")


@case("required")
def _(c, tmp):
    line = edit(c, A, re.compile(r"    topics: \[[^\]]*\]\n"), "")
    return A, line - 1, "activities[0].topics", message("required")


@case("unknown_field_close")
def _(c, tmp):
    line = edit(c, A, "    title:", "    titel:")
    return A, line, "activities[0].titel", message("unknown_field_close", close="title")


@case("unknown_field")
def _(c, tmp):
    """A typo inside a language entry of site.yaml: the hint names that entry's fields."""
    from sitegen.model import Language

    line = edit(c, "site.yaml", "    numerals: chinese\n", "    numerals: chinese\n    colour: red\n") + 1
    return "site.yaml", line, "languages[0].colour", message(
        "unknown_field", known=", ".join(Language.__struct_encode_fields__))


@case("empty_text")
def _(c, tmp):
    line = edit(c, A, re.compile(r'(?m)^(      zh: )"云上自主品牌博览会"'), '\\1"\u200b\u200b"')
    return A, line, "activities[0].title.zh", message("empty_text")


@case("wrong_value")
def _(c, tmp):
    line = edit(c, A, "number: 3\n", "number: three\n")
    return A, line, "number", message("wrong_value", detail="expected a whole number, got text")


@case("expected_mapping")
def _(c, tmp):
    (c / A).write_text("- number: 3\n- slug: x\n", "utf-8")
    return A, None, None, message("expected_mapping", fields="number, slug, name, full_name, activities")


@case("control_character")
def _(c, tmp):
    line = edit(c, A, '      zh: "云上自主品牌博览会"', '      zh: "云上\\a自主品牌博览会"')
    return A, line, "activities[0].title.zh", message("control_character", code=7, position=3)


@case("bidi_control")
def _(c, tmp):
    line = edit(c, A, '      zh: "云上自主品牌博览会"', '      zh: "云上\u202e自主品牌博览会"')
    return A, line, "activities[0].title.zh", message("bidi_control", code=0x202E, position=3)


@case("remote_image")
def _(c, tmp):
    line = edit(c, A, "        持续举办", "        ![logo](https://cdn.example.com/x.png) 持续举办") - 1
    return A, line, "activities[0].text.zh", message("remote_image", host="cdn.example.com")


@case("missing_language")
def _(c, tmp):
    line = edit(c, A, re.compile(r"(?m)^      en: .*\n(?=    text:)"), "")
    return A, line - 2, "activities[0].title", message("missing_language", code=CODES[-1], codes=", ".join(CODES))


@case("unknown_language")
def _(c, tmp):
    line = edit(c, A, "  zh: 市发改委\n", "  zh: 市发改委\n  fr: Commission\n") + 1
    return A, line, "name.fr", message("unknown_language", code="fr", hint=f"site.yaml declares: {', '.join(CODES)}")


@case("language_twice")
def _(c, tmp):
    last = len(SITE.languages) - 1
    line = edit(c, "site.yaml", f"  - code: {SITE.languages[last].code}\n", f"  - code: {SITE.languages[0].code}\n")
    return "site.yaml", line, f"languages[{last}].code", message("language_twice", code=SITE.languages[0].code)


@case("root_language_path")
def _(c, tmp):
    line = edit(c, "site.yaml", '    path: ""\n', "    path: cn\n")
    return "site.yaml", line, "languages[0].path", message("root_language_path")


@case("language_path_twice")
def _(c, tmp):
    last = SITE.languages[-1]
    line = edit(c, "site.yaml", f"    path: {last.path}\n", f"    path: {SITE.languages[1].path}\n")
    return "site.yaml", line, f"languages[{len(SITE.languages) - 1}].path", message(
        "language_path_twice", path=SITE.languages[1].path)


@case("language_path_reserved")
def _(c, tmp):
    last = SITE.languages[-1]
    line = edit(c, "site.yaml", f"    path: {last.path}\n", "    path: data\n")
    return "site.yaml", line, f"languages[{len(SITE.languages) - 1}].path", message(
        "language_path_reserved", path="data", reserved=", ".join(sorted(reserved_paths())))


@case("derived_source")
def _(c, tmp):
    line = edit(c, "site.yaml", "      from: zh\n", "      from: ja\n")
    return "site.yaml", line, f"languages[{DERIVED}].derive.from", message(
        "derived_source", source="ja", codes=", ".join(CODES))


@case("derived_first")
def _(c, tmp):
    def swap(data):
        data["languages"][0], data["languages"][DERIVED] = data["languages"][DERIVED], data["languages"][0]
        data["languages"][0]["path"], data["languages"][DERIVED]["path"] = "", data["languages"][0]["path"]
    set_yaml(c, "site.yaml", swap)
    return "site.yaml", line_of(c, "site.yaml", "derive:"), "languages[0].derive", message("derived_first")


@case("converter_unknown")
def _(c, tmp):
    line = edit(c, "site.yaml", "      opencc: s2tw\n", "      opencc: s2xx\n")
    return "site.yaml", line, f"languages[{DERIVED}].derive.opencc", message(
        "converter_unknown", name="s2xx", known=", ".join(OPENCC_CONFIGS))


@case("base_url")
def _(c, tmp):
    line = edit(c, "site.yaml", 'base_url: ""', 'base_url: "javascript:alert(1)"')
    return "site.yaml", line, "base_url", message(
        "base_url", detail="base_url must start with http:// or https:// and name a host, got 'javascript:alert(1)'")


@case("unknown_script")
def _(c, tmp):
    line = edit(c, "site.yaml", "    script: Latn\n", "    script: Cyrl\n")
    index = next(i for i, lang in enumerate(SITE.languages) if lang.script == "Latn")
    return "site.yaml", line, f"languages[{index}].script", message(
        "unknown_script", script="Cyrl", known=", ".join(SITE.config.fonts))


@case("data_field_missing")
def _(c, tmp):
    set_yaml(c, "site.yaml", lambda data: data["data_fields"].pop("topics"))
    lines = (c / "site.yaml").read_text("utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("data_fields:"))
    return "site.yaml", line, "data_fields", message(
        "data_field_missing", name="topics")


@case("data_field_unknown")
def _(c, tmp):
    line = edit(c, "site.yaml", "  agency.slug:\n", "  agency.slugs:\n")
    return "site.yaml", line, "data_fields.agency.slugs", message(
        "data_field_unknown", name="agency.slugs", hint="did you mean 'agency.slug'?")


@case("override_length")
def _(c, tmp):
    line = edit(c, "site.yaml", re.compile(r"(?m)^        公布: 公布.*$"), "        公布: 公佈了")
    return "site.yaml", line, f"languages[{DERIVED}].derive.overrides.公布", message(
        "override_length", source="公布", target="公佈了", length=2)


@case("topic_twice")
def _(c, tmp):
    line = edit(c, "topics.yaml", "- id: metrology", "- id: standards")
    return "topics.yaml", line, "[2].id", message("topic_twice", id="standards")


@case("unknown_topic")
def _(c, tmp):
    line = edit(c, A, "topics: [brands-ip", "topics: [brand-ip")
    return A, line, "activities[0].topics[0]", message("unknown_topic", topic="brand-ip",
                                                       hint="did you mean 'brands-ip'? ")


@case("topic_listed_twice")
def _(c, tmp):
    line = edit(c, A, "topics: [brands-ip]", "topics: [brands-ip, brands-ip]")
    return A, line, "activities[0].topics[1]", message("topic_listed_twice", topic="brands-ip")


@case("agencies_missing")
def _(c, tmp):
    import shutil

    shutil.rmtree(c / "agencies")
    return "agencies", None, None, message("agencies_missing")


@case("no_agencies")
def _(c, tmp):
    for path in (c / "agencies").iterdir():
        path.unlink()
    return "agencies", None, None, message("no_agencies")


@case("agency_file_name")
def _(c, tmp):
    (c / A).rename(c / "agencies" / "03 development reform.yml")
    return "agencies/03 development reform.yml", None, None, message("agency_file_name")


@case("file_number_mismatch")
def _(c, tmp):
    line = edit(c, "agencies/02-state-assets.yaml", "number: 2\n", "number: 20\n")
    return "agencies/02-state-assets.yaml", line, "number", message("file_number_mismatch", named=2, number=20)


@case("file_slug_mismatch")
def _(c, tmp):
    line = edit(c, A, "slug: development-reform", "slug: commerce")
    return A, line, "slug", message("file_slug_mismatch", named="development-reform", slug="commerce")


@case("agency_number_shared")
def _(c, tmp):
    (c / A).rename(c / "agencies" / "04-development-reform.yaml")
    moved = "agencies/04-development-reform.yaml"
    line = edit(c, moved, "number: 3\n", "number: 4\n")
    return moved, line, "number", message("agency_number_shared", number=4, count=2)


@case("agency_number_gap")
def _(c, tmp):
    (c / A).unlink()
    return "agencies/04-industry-it.yaml", 2, "number", message("agency_number_gap", expected=3)


@case("activity_number_shared")
def _(c, tmp):
    line = edit(c, "agencies/04-industry-it.yaml", "  - number: 26", "  - number: 25")
    return "agencies/04-industry-it.yaml", line, "activities[0].number", message(
        "activity_number_shared", number=25, other="03-development-reform.yaml")


@case("activity_number_gap")
def _(c, tmp):
    line = edit(c, "agencies/01-market-regulation.yaml", "  - number: 23\n", "  - number: 25\n")
    return "agencies/01-market-regulation.yaml", line, "activities[22].number", message(
        "activity_number_gap", expected=23)


@case("activity_numbers_missing")
def _(c, tmp):
    path = c / "agencies/01-market-regulation.yaml"
    text = path.read_text("utf-8")
    path.write_text(text[: text.index("  - number: 22\n")], "utf-8")  # a save cut off: 22 and 23 gone
    return "agencies/02-state-assets.yaml", line_of(c, "agencies/02-state-assets.yaml", "  - number: 24"), \
        "activities[0].number", message("activity_numbers_missing", missing="numbers 22–23", verb="are",
                                        before=21, before_file="01-market-regulation.yaml", after=24,
                                        after_file="02-state-assets.yaml")


@case("changelog_order")
def _(c, tmp):
    line = edit(c, "changelog.yaml", "- date: 2026-11-25", "- date: 2026-12-25")
    return "changelog.yaml", line, "[1].date", message("changelog_order", date="2026-12-25", previous="2026-11-26")


@case("template_syntax")
def _(c, tmp):
    return "template", ("footer.html", "</footer>", "{% if %}</footer>"), None, None


@case("template_error")
def _(c, tmp):
    return "template", ("base.html", "<main ", "{{ no_such_thing.attribute }}<main "), None, None


# --- Running a case ---------------------------------------------------------------------------

def problems_of(content: Path, tmp_path: Path, templates: Path | None = None) -> list:
    """Every problem a build of this content reports (validation, derivation, rendering)."""
    from sitegen.pipeline import Builder, Project

    project = Project(content=content, out=tmp_path / "site", **({"templates": templates} if templates else {}))
    with pytest.raises(ContentError) as caught:
        Builder(project).render()
    return caught.value.problems


@pytest.mark.parametrize("name", list(CASES))
def test_each_message_names_its_file_line_and_field(name, content_copy, tmp_path, monkeypatch):
    func = CASES[name]
    args = (content_copy, tmp_path, monkeypatch) if func.__code__.co_argcount == 3 else (content_copy, tmp_path)
    rel, line, field, words = func(*args)
    if rel == "template":  # a mistake in a template: copy the templates, break one
        import shutil

        templates = tmp_path / "templates"
        shutil.copytree(ROOT / "templates", templates)
        file, old, new = line
        text = (templates / "partials" / file if file == "footer.html" else templates / file).read_text("utf-8")
        where = templates / "partials" / file if file == "footer.html" else templates / file
        where.write_text(text.replace(old, new, 1), "utf-8")
        expected_line = text[: text.index(old)].count("\n") + 1
        found = problems_of(content_copy, tmp_path, templates)
        assert [p.name for p in found] == [name], [str(p) for p in found]
        assert Path(found[0].path).resolve() == where.resolve(), "the template where it happened"
        assert found[0].line == expected_line, str(found[0])
        return
    found = problems_of(content_copy, tmp_path)
    ours = [p for p in found if p.name == name]
    assert ours, f"no '{name}' message among: {[str(p) for p in found]}"
    problem = ours[0]
    assert Path(problem.path).resolve() == (content_copy / rel).resolve() or \
        Path(problem.path).name == Path(rel).name, str(problem)
    assert problem.line == line, str(problem)
    assert problem.field == field, str(problem)
    assert problem.message == words, str(problem)
    assert len(found) <= 3, f"one mistake, few messages: {[str(p) for p in found]}"


def test_every_message_is_in_the_table():
    assert sorted(CASES) == sorted(MESSAGES), "a message without a case, or a case without a message"


# --- How the messages reach the editor --------------------------------------------------------

def test_all_errors_of_a_run_are_reported_together(content_copy):
    edit(content_copy, A, "    title:", "    titel:")
    edit(content_copy, "agencies/05-commerce.yaml", "number: 28", "number: x")
    edit(content_copy, "topics.yaml", re.compile(r"label: \{zh: 标准化, en: [^}]*\}"), "label: {zh: 标准化}")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    found = [str(p) for p in caught.value.problems]
    assert len(found) == 3
    assert {Path(p.split(":")[0]).name for p in found} == {"03-development-reform.yaml", "05-commerce.yaml",
                                                           "topics.yaml"}


def test_a_file_full_of_mistakes_gives_a_bounded_report_quickly(content_copy):
    """A hostile or mangled file: many problems, but the report stops at a limit per file."""
    import time

    text = (content_copy / A).read_text("utf-8")
    activity = text[text.index("  - number: 25"):]
    broken = activity.replace("    title:", "    titel:")
    (content_copy / A).write_text(text[: text.index("  - number: 25")] + broken * 500, "utf-8")
    started = time.perf_counter()
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    assert time.perf_counter() - started < 5
    mine = [p for p in caught.value.problems if p.path.endswith("03-development-reform.yaml")]
    assert len(mine) == MAX_PROBLEMS_PER_FILE + 1 and "more problems in this file" in mine[-1].message


def test_cli_exits_1_with_the_message_and_no_traceback(content_copy, tmp_path):
    edit(content_copy, A, "    title:", "    titel:")
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", str(content_copy),
                             "--out", str(tmp_path / "site"), "--no-cache"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "activities[0].titel: unknown field" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "site").exists()


def test_a_file_name_that_is_not_utf8_is_shown_not_fatal(content_copy, tmp_path):
    """A file name with bytes that are not UTF-8 (copied from an old archive) still gets a message."""
    name = os.fsdecode(b"27-\xff\xfe.yaml")
    (content_copy / "agencies" / name).write_text("number: 27\n", "utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "--content", str(content_copy),
                             "--out", str(tmp_path / "site"), "--no-cache"], capture_output=True, timeout=60)
    assert result.returncode == 1 and b"Traceback" not in result.stderr
    assert "27-\ufffd\ufffd.yaml" in result.stderr.decode("utf-8"), result.stderr


def test_a_wrong_number_does_not_hide_the_files_other_mistakes(content_copy):
    """The IDE shows every mistake of a file at once; so does `check`."""
    edit(content_copy, A, "number: 3\n", "number: three\n")
    edit(content_copy, A, "slug: development-reform", "slug: Development")
    edit(content_copy, A, "    title:", "    titel:")
    with pytest.raises(ContentError) as caught:
        load_site(content_copy)
    fields = sorted(p.field for p in caught.value.problems)
    assert fields == ["activities[0].titel", "number", "slug"], [str(p) for p in caught.value.problems]
