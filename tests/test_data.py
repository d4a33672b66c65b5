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

from conftest import BASE_URL, ROOT, SITE, build_site, lang_prefix

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


# --- For machines: the data package and the schema.org Dataset (issue 13) ----------------------

def _frictionless(folder: Path) -> dict:
    import shutil
    import subprocess
    import sys

    tool = shutil.which("frictionless") or str(Path(sys.executable).parent / "frictionless")
    result = subprocess.run([tool, "validate", "--json", "datapackage.json"], cwd=folder, capture_output=True,
                            text=True, timeout=120)
    return json.loads(result.stdout)


def test_the_data_package_passes_frictionless_validate(built_site_with_base, tmp_path):
    import shutil

    report = _frictionless(built_site_with_base / "data")
    assert report["valid"], json.dumps(report, ensure_ascii=False)[:3000]
    assert [task["name"] for task in report["tasks"]] == ["activities-csv", "activities-json"]
    # and the check bites: a number that is not a whole number, a repeated one
    broken = tmp_path / "data"
    shutil.copytree(built_site_with_base / "data", broken)
    csv_file = broken / "activities.csv"
    raw = csv_file.read_bytes()
    assert b"\r\n2," in raw and b"\r\n4," in raw
    csv_file.write_bytes(raw.replace(b"\r\n2,", b"\r\ntwo,", 1).replace(b"\r\n4,", b"\r\n3,", 1))
    report = _frictionless(broken)
    assert not report["valid"]
    kinds = {error["type"] for task in report["tasks"] for error in task["errors"]}
    assert {"type-error", "primary-key"} <= kinds, kinds


def test_the_data_package_describes_every_column_with_licence_publisher_dates_and_source(built_site_with_base):
    package = json.loads((built_site_with_base / "data" / "datapackage.json").read_text("utf-8"))
    assert package["$schema"].startswith("https://datapackage.org/profiles/2.0/")
    config = SITE.config
    assert package["licenses"][0]["name"] == "CC-BY-4.0" == config.licence_terms.id
    assert package["licenses"][0]["path"].startswith("https://creativecommons.org/")
    assert package["contributors"][0]["roles"] == ["publisher"]
    assert all(config.publisher[code] in package["contributors"][0]["title"] for code in WRITTEN)
    assert package["created"].startswith(config.updated.isoformat()) and package["version"] == config.updated.isoformat()
    assert config.source[FIRST] in package["sources"][0]["title"]
    assert package["homepage"] == BASE_URL + "data/"
    csv_resource = package["resources"][0]
    fields = csv_resource["schema"]["fields"]
    assert [f["name"] for f in fields] == CSV_COLUMNS
    for field in fields:
        assert field["type"] in ("integer", "string", "list") and field["title"] and field["description"]
    by_name = {f["name"]: f for f in fields}
    assert by_name["number"]["constraints"] == {"required": True, "unique": True, "minimum": 1}
    texts = SITE.config.data_fields["title"]
    assert all(texts.description[code] in by_name[f"title_{FIRST}"]["description"] for code in WRITTEN)
    assert csv_resource["schema"]["primaryKey"] == ["number"]


def _jsonld(page: str) -> dict:
    match = re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert match, "no JSON-LD block"
    return json.loads(match[1])


@pytest.mark.parametrize("code", CODES)
def test_the_data_page_carries_a_schema_org_dataset(built_site_with_base, code):
    dataset = _jsonld(_data_page(built_site_with_base, code))
    assert dataset["@context"] == "https://schema.org" and dataset["@type"] == "Dataset"
    for key in ("name", "description", "license", "creator", "publisher", "dateModified", "distribution",
                "inLanguage", "temporalCoverage", "url"):
        assert dataset.get(key), key
    assert dataset["name"] == SITE.config.title[code] and dataset["license"] == SITE.config.licence_terms.url
    urls = {d["encodingFormat"]: d["contentUrl"] for d in dataset["distribution"]}
    assert urls == {"text/csv": BASE_URL + "data/activities.csv", "application/json": BASE_URL + "data/activities.json"}
    assert dataset["url"] == BASE_URL + lang_prefix(code) + "data/"


def test_the_dataset_block_is_never_run_and_never_blocked(browser, built_site_with_base):
    """A JSON-LD block is data: the CSP (no inline script) lets the page load without a violation,
    and awkward text cannot close the block."""
    from conftest import StaticServer

    from sitegen.opendata import dataset_jsonld
    from sitegen.pages import url_path  # noqa: F401  (the page exists at its usual place)

    hostile = dataset_jsonld(SITE, SITE.languages[0], BASE_URL, "</script><script>alert(1)</script><!--")
    assert "<" not in hostile and json.loads(hostile)["url"].startswith("</script>")
    server = StaticServer(built_site_with_base)
    context = browser.new_context()
    try:
        tab = context.new_page()
        errors: list[str] = []
        tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tab.goto(server.url + "data/")
        assert tab.evaluate("() => JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').textContent)['@type']") == "Dataset"
        assert errors == [], errors
    finally:
        context.close()
        server.close()
