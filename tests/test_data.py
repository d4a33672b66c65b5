"""Open data (issue 5): /data/activities.json and /data/activities.csv hold every activity in every
language, awkward text survives the round trip safely, and the data page describes every field."""
from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
import yaml
from markupsafe import escape

from conftest import ROOT, SITE, build_site, lang_prefix

CODES = [lang.code for lang in SITE.languages]
FIRST, WRITTEN = CODES[0], [lang.code for lang in SITE.written_languages]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = ["number", "agency_number", "agency_slug", *(f"agency_name_{c}" for c in CODES),
               *(f"agency_full_name_{c}" for c in CODES), "topics", *(f"title_{c}" for c in CODES),
               *(f"text_{c}" for c in CODES)]
NUMBERS = list(range(1, len(SITE.activities) + 1))


def read_json(site: Path) -> dict:
    raw = (site / "data" / "activities.json").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf"), "JSON must not carry a BOM"
    return json.loads(raw.decode("utf-8"))


def read_csv(site: Path) -> list[dict]:
    raw = (site / "data" / "activities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "CSV needs the UTF-8 BOM for spreadsheets"
    reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    rows = list(reader)
    assert reader.fieldnames == CSV_COLUMNS
    return rows


def as_cell(text: str) -> str:
    """What a CSV cell holds for `text`: an apostrophe first if a spreadsheet would run it."""
    return "'" + text if text.startswith(FORMULA_START) else text


def test_json_holds_every_activity_in_every_language(built_site):
    data = read_json(built_site)
    assert data["languages"] == CODES
    assert data["title"] == SITE.config.title and data["source"] == SITE.config.source
    activities = data["activities"]
    assert [a["number"] for a in activities] == NUMBERS
    assert sorted({a["agency"]["number"] for a in activities}) == list(range(1, len(SITE.agencies) + 1))
    expected = SITE.activities
    for got, want in zip(activities, expected):
        assert set(got) == {"number", "agency", "topics", "title", "text"}
        assert got["agency"] == {"number": want.agency.number, "slug": want.agency.slug,
                                 "name": want.agency.name, "full_name": want.agency.full_name}
        assert got["topics"] == [{"id": t.id, "label": t.label} for t in want.topics]
        assert got["title"] == want.title and got["text"] == want.text
        for field in ("title", "text"):
            assert set(got[field]) == set(CODES) and all(got[field][c].strip() for c in CODES)
        assert set(got["agency"]["name"]) == set(CODES)


def test_csv_holds_every_activity_in_every_language(built_site):
    rows = read_csv(built_site)
    assert [row["number"] for row in rows] == [str(n) for n in NUMBERS]
    for row, want in zip(rows, SITE.activities):
        assert row["agency_number"] == str(want.agency.number)
        assert row["agency_slug"] == want.agency.slug
        assert row["topics"] == ";".join(t.id for t in want.topics)
        for code in CODES:
            assert row[f"agency_name_{code}"] == as_cell(want.agency.name[code])
            assert row[f"agency_full_name_{code}"] == as_cell(want.agency.full_name[code])
            assert row[f"title_{code}"] == as_cell(want.title[code])
            assert row[f"text_{code}"] == as_cell(want.text[code])
    raw = (built_site / "data" / "activities.csv").read_bytes()
    assert raw.count(b"\r\n") >= len(NUMBERS) + 1  # one record per line in the spreadsheet sense
    assert SITE.activities[0].title[FIRST].encode("utf-8") in raw  # as UTF-8, not escaped


def test_json_and_csv_agree(built_site):
    data, rows = read_json(built_site), read_csv(built_site)
    assert len(data["activities"]) == len(rows) == len(NUMBERS)
    for item, row in zip(data["activities"], rows):
        assert row["number"] == str(item["number"]) and row["agency_slug"] == item["agency"]["slug"]
        for code in CODES:
            assert row[f"title_{code}"] == as_cell(item["title"][code])


# --- Awkward text --------------------------------------------------------------------------

# One awkward text per written language (the first in Chinese, the others in English).
AWKWARD = {field: dict(zip(WRITTEN, [first] + [other] * (len(WRITTEN) - 1))) for field, (first, other) in {
    "title": ('=HYPERLINK("http://evil.example/","点我")', '+cmd|" /C calc"!A0, "quoted"'),
    "text": ('@SUM(A1:A9) 逗号，"引号", comma,\n\n第二段 </script><script>alert(1)</script>',
             '-2+3 "quotes", commas, and a\nline break\n\n- a list item\n\n`</script>` & <b>bold</b>'),
    "agency_name": ('-减号部门', '@Agency, "Quoted" =1'),
    "agency_full_name": ("全称，含逗号", '=1+1 "full", name'),
}.items()}


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> tuple[Path, dict]:
    """The real content with the first activity and its agency rewritten in awkward characters."""
    import shutil

    content = tmp_path_factory.mktemp("awkward-data") / "content"
    shutil.copytree(ROOT / "content", content)
    path = sorted((content / "agencies").glob("01-*.yaml"))[0]
    agency = yaml.safe_load(path.read_text("utf-8"))
    agency["name"] = dict(AWKWARD["agency_name"])
    agency["full_name"] = dict(AWKWARD["agency_full_name"])
    agency["activities"][0]["title"] = dict(AWKWARD["title"])
    agency["activities"][0]["text"] = dict(AWKWARD["text"])
    path.write_text(yaml.safe_dump(agency, allow_unicode=True, sort_keys=False), "utf-8")
    out = content.parent / "site"
    return out, build_site(content, out).files


def test_awkward_text_survives_the_json_round_trip(awkward):
    site, _ = awkward
    raw = (site / "data" / "activities.json").read_text("utf-8")
    assert "</script" not in raw.lower(), "JSON must stay safe to inline in a <script> element"
    first = json.loads(raw)["activities"][0]
    for code in WRITTEN:
        assert first["title"][code] == AWKWARD["title"][code] and first["text"][code] == AWKWARD["text"][code]
        assert first["agency"]["name"][code] == AWKWARD["agency_name"][code]
        assert first["agency"]["full_name"][code] == AWKWARD["agency_full_name"][code]
    assert len(json.loads(raw)["activities"]) == len(NUMBERS)


def test_awkward_text_survives_the_csv_round_trip_and_never_runs(awkward):
    site, _ = awkward
    rows = read_csv(site)
    assert len(rows) == len(NUMBERS) and rows[0]["number"] == "1" and rows[1]["number"] == "2"
    first = rows[0]
    for code in WRITTEN:
        assert first[f"title_{code}"] == "'" + AWKWARD["title"][code]
        assert first[f"text_{code}"] == as_cell(AWKWARD["text"][code])
        assert first[f"agency_name_{code}"] == "'" + AWKWARD["agency_name"][code]
        assert first[f"agency_full_name_{code}"] == as_cell(AWKWARD["agency_full_name"][code])
    for code in WRITTEN:
        assert first[f"text_{code}"] == "'" + AWKWARD["text"][code]
    assert first[f"agency_full_name_{FIRST}"] == AWKWARD["agency_full_name"][FIRST]  # nothing to guard: unchanged
    for row in rows:
        for column, value in row.items():
            assert not value.startswith(FORMULA_START), (row["number"], column, value)
    # the agency's other activities carry its awkward name too, guarded the same way
    last = WRITTEN[-1]
    assert {row[f"agency_name_{last}"] for row in rows if row["agency_number"] == "1"} == {"'" + AWKWARD["agency_name"][last]}


def test_awkward_text_is_escaped_on_the_print_page(awkward):
    site, _ = awkward
    for page in (site / lang_prefix(code) / "print" / "index.html" for code in CODES):
        html = page.read_text("utf-8")
        assert "<script>alert" not in html and "<b>bold</b>" not in html
        assert "&lt;/script&gt;" in html


# --- The data page --------------------------------------------------------------------------

def _data_page(site: Path, code: str) -> str:
    return (site / lang_prefix(code) / "data" / "index.html").read_text("utf-8")


@pytest.mark.parametrize("code", CODES)
def test_data_page_describes_every_field_and_links_the_files(built_site, code):
    html = _data_page(built_site, code)
    documented = set(re.findall(r"<td><code>([^<]+)</code></td>", html))
    names = {part.strip() for cell in documented for part in cell.split(",")}
    for column in CSV_COLUMNS:
        assert column in names, f"CSV column {column} is not described"
    item = read_json(built_site)["activities"][0]
    paths = {key for key in item if key != "agency"}
    paths |= {f"agency.{key}" for key in item["agency"]}
    for path in paths:
        assert path in names, f"JSON field {path} is not described"
    for texts in SITE.config.data_fields.values():
        assert str(escape(texts.description[code])) in html
    page_dir = built_site / lang_prefix(code) / "data"
    for name in ("activities.json", "activities.csv"):
        hrefs = re.findall(rf'href="([^"]*{re.escape(name)})"', html)
        assert hrefs, name
        assert all((page_dir / href).resolve() == (built_site / "data" / name).resolve() for href in hrefs)


@pytest.mark.parametrize("code", CODES)
def test_data_page_is_linked_from_home_and_footer(built_site, code):
    home = built_site / lang_prefix(code) / "index.html"
    html = home.read_text("utf-8")
    main = html[html.index("<main"):html.index("</main>")]
    footer = html[html.index('<footer class="site-footer"'):]
    assert 'href="data/"' in main, "the home page links the data page"
    assert 'href="data/"' in footer, "the footer links the data page"
    agency = (home.parent / "agencies" / SITE.agencies[0].slug / "index.html").read_text("utf-8")
    assert 'href="../../data/"' in agency[agency.index('<footer class="site-footer"'):]
