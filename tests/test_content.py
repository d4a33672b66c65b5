"""The content is the whole source document, faithfully, in both languages (issue 2)."""
from __future__ import annotations

import msgspec
from pathlib import Path
import json
import re

import jsonschema
import pytest
import yaml

from conftest import ROOT, SITE
from source_text import normalize, parse
from sitegen.model import SCHEMAS, schemas_for

CONTENT = ROOT / "content"
HAN = re.compile(r"[\u3400-\u9fff]")


@pytest.fixture(scope="module")
def site():
    return SITE


@pytest.fixture(scope="module")
def source():
    return parse()


def test_source_has_26_agencies_and_66_activities(source):
    assert len(source) == 26
    assert sum(len(a["activities"]) for a in source) == 66


def test_agencies_match_the_source_in_order(site, source):
    assert [(a.number, a.name["zh"]) for a in site.agencies] == [(a["number"], a["name"]) for a in source]


def test_every_activity_matches_the_source_word_for_word(site, source):
    expected = [(a["number"], act["number"], normalize(act["text"])) for a in source for act in a["activities"]]
    actual = [(act.agency.number, act.number, normalize(act.text["zh"])) for act in site.activities]
    assert [row[:2] for row in actual] == [row[:2] for row in expected]
    for (agency, number, text), (_, _, original) in zip(actual, expected):
        assert text == original, f"activity {number} (agency {agency}) differs from the source"


def test_every_text_exists_in_every_language(site):
    codes = [lang.code for lang in site.languages]
    for agency in site.agencies:
        for field in (agency.name, agency.full_name):
            assert sorted(field) == sorted(codes) and all(v.strip() for v in field.values())
        for act in agency.activities:
            for field in (act.title, act.text):
                assert sorted(field) == sorted(codes) and all(v.strip() for v in field.values()), act.number
    for topic in site.topics:
        assert sorted(topic.label) == sorted(codes)
    for key, texts in msgspec.structs.asdict(site.config.strings).items():
        assert sorted(texts) == sorted(codes), key


def test_english_is_translated_not_copied(site):
    for agency in site.agencies:
        assert not HAN.search(agency.name["en"] + agency.full_name["en"]), agency.slug
        for act in agency.activities:
            english = act.title["en"] + " " + act.text["en"]
            assert not HAN.search(english), f"activity {act.number} has Chinese in its English"
            assert "TODO" not in english
            # a translation is roughly as long as the original: catches a summary or a stub
            assert len(act.text["en"]) > 1.2 * len(act.text["zh"]), f"activity {act.number} looks too short"


def test_titles_are_short_enough_to_scan(site):
    for act in site.activities:
        assert 4 <= len(act.title["zh"]) <= 16, (act.number, act.title["zh"])
        assert len(act.title["en"].split()) < 10, (act.number, act.title["en"])


def test_every_activity_has_one_to_three_known_topics(site):
    ids = {t.id for t in site.topics}
    assert 10 <= len(ids) <= 15
    for act in site.activities:
        assert 1 <= len(act.topics) <= 3 and {t.id for t in act.topics} <= ids
    used = {t.id for act in site.activities for t in act.topics}
    assert used == ids, f"topics never used: {ids - used}"


def test_glossary_terms_are_translated_the_same_way_everywhere(site):
    glossary = yaml.safe_load((CONTENT / "glossary.yaml").read_text("utf-8"))
    for entry in glossary:
        users = [act for act in site.activities if entry["zh"] in act.text["zh"]]
        assert users, f"glossary term {entry['zh']} is used by no activity"
        for act in users:
            assert entry["en"].lower() in act.text["en"].lower(), \
                f"activity {act.number}: {entry['zh']} should be rendered as '{entry['en']}'"


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_committed_schemas_match_the_model(name):
    committed = (CONTENT / "schema" / name).read_bytes()
    assert committed == schemas_for(SITE)[name], f"run: python build.py schema ({name} is stale)"


def _content_files():
    return sorted(CONTENT.glob("*.yaml")) + sorted((CONTENT / "agencies").glob("*.yaml"))


@pytest.mark.parametrize("path", _content_files(), ids=lambda p: p.name)
def test_each_file_names_its_schema_and_validates_against_it(path):
    first = path.read_text("utf-8").splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert match, f"{path.name} should start with the yaml-language-server schema comment"
    schema_path = (path.parent / match[1]).resolve()
    schema = json.loads(schema_path.read_text("utf-8"))
    data = json.loads(json.dumps(yaml.safe_load(path.read_text("utf-8")), default=str))  # dates as YAML text
    jsonschema.validate(data, schema)


def test_the_schema_rejects_what_the_model_rejects():
    schema = json.loads((CONTENT / "schema" / "agency.schema.json").read_text("utf-8"))
    good = yaml.safe_load((CONTENT / "agencies" / "02-state-assets.yaml").read_text("utf-8"))
    bad = json.loads(json.dumps(good))
    bad["activities"][0]["titel"] = bad["activities"][0].pop("title")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_the_schemas_require_every_written_language_and_know_the_topics():
    """What `check` catches, the editor's IDE catches too: a text without one of the written
    languages, and a topic id that topics.yaml does not list."""
    schema = json.loads((CONTENT / "schema" / "agency.schema.json").read_text("utf-8"))
    good = yaml.safe_load((CONTENT / "agencies" / "02-state-assets.yaml").read_text("utf-8"))
    jsonschema.validate(good, schema)
    for code in [lang.code for lang in SITE.written_languages]:
        bad = json.loads(json.dumps(good))
        del bad["activities"][0]["text"][code]
        with pytest.raises(jsonschema.ValidationError, match=f"'{code}' is a required property"):
            jsonschema.validate(bad, schema)
    bad = json.loads(json.dumps(good))
    bad["activities"][0]["topics"] = ["no-such-topic"]
    with pytest.raises(jsonschema.ValidationError, match="is not one of"):
        jsonschema.validate(bad, schema)
    derived = [lang.code for lang in SITE.languages if lang.derive]
    assert derived and all(code not in json.dumps(schema) for code in derived), "derived languages are not typed"


def test_yamllint_is_clean_with_the_projects_config():
    """An editor's linter (yamllint, with the committed .yamllint) finds nothing to complain about,
    and it still finds a real mistake."""
    import shutil
    import subprocess
    import sys

    tool = shutil.which("yamllint") or str(Path(sys.executable).parent / "yamllint")
    result = subprocess.run([tool, "-f", "parsable", "content/"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout[:2000]
    broken = subprocess.run([tool, "-f", "parsable", "-"], cwd=ROOT, input="a: 1\na: 2\nb:  [x ,y]\n",
                            capture_output=True, text=True)
    assert broken.returncode == 1 and "key-duplicates" in broken.stdout
