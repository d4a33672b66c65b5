"""Stage 3, the open data: every activity as JSON and CSV. The fields are declared once, here
(DATA_FIELDS); both files, the data page's field table and (with site.yaml's titles and
descriptions) the data package follow from that declaration."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Callable

import msgspec

from .model import Activity, Site

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class DataField:
    """One field of the open data: its JSON path (dots nest), its CSV column (one per language when
    it is localized), its Table Schema type, and how to read it from an activity."""

    name: str
    csv: str
    type: str
    value: Callable[[Activity], Any]
    localized: bool = False
    csv_value: Callable[[Activity], Any] | None = None  # when the CSV cell differs from the JSON value
    constraints: tuple[tuple[str, Any], ...] = ()

    def columns(self, codes: list[str]) -> list[str]:
        return [f"{self.csv}_{code}" for code in codes] if self.localized else [self.csv]

    def cells(self, activity: Activity, codes: list[str]) -> list[Any]:
        value = (self.csv_value or self.value)(activity)
        return [value[code] for code in codes] if self.localized else [value]


def _topic_list(activity: Activity) -> list[dict]:
    return [{"id": t.id, "label": t.label} for t in activity.topics]


DATA_FIELDS: tuple[DataField, ...] = (
    DataField("number", "number", "integer", lambda a: a.number,
              constraints=(("required", True), ("unique", True), ("minimum", 1))),
    DataField("agency.number", "agency_number", "integer", lambda a: a.agency.number,
              constraints=(("required", True), ("minimum", 1))),
    DataField("agency.slug", "agency_slug", "string", lambda a: a.agency.slug,
              constraints=(("required", True), ("pattern", "[a-z0-9]+(-[a-z0-9]+)*"))),
    DataField("agency.name", "agency_name", "string", lambda a: a.agency.name, localized=True),
    DataField("agency.full_name", "agency_full_name", "string", lambda a: a.agency.full_name, localized=True),
    DataField("topics", "topics", "string", _topic_list,
              csv_value=lambda a: ";".join(t.id for t in a.topics)),
    DataField("title", "title", "string", lambda a: a.title, localized=True),
    DataField("text", "text", "string", lambda a: a.text, localized=True),
)


def json_bytes(data) -> bytes:
    """Compact UTF-8 JSON (Chinese stays readable and small). "</" is escaped so the JSON is also
    safe should anyone ever inline it in a <script> element."""
    encoded = msgspec.json.encode(data)
    return encoded.replace(b"</", b"<\\/") if b"</" in encoded else encoded  # no copy of 20 MB for nothing


def _nest(record: dict, path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        record = record.setdefault(part, {})
    record[last] = value


def activities_json(site: Site) -> bytes:
    """data/activities.json: every activity with its agency and topics, in every language."""
    config = site.config
    records = []
    for activity in site.activities:
        record: dict = {}
        for data_field in DATA_FIELDS:
            _nest(record, data_field.name, data_field.value(activity))
        records.append(record)
    return json_bytes({"title": config.title, "source": config.source, "licence": config.licence,
                       "licence_id": config.licence_terms.id, "publisher": config.publisher,
                       "updated": config.updated.isoformat(),
                       "languages": [lang.code for lang in site.languages], "activities": records})


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text and never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def activities_csv(site: Site) -> bytes:
    """data/activities.csv: one row per activity; UTF-8 with a BOM so spreadsheets show Chinese."""
    codes = [lang.code for lang in site.languages]
    out = io.BytesIO()
    with io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False) as text:
        # encoded as it is written: at 10,000 activities the whole table as one str would take 40 MB
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([column for data_field in DATA_FIELDS for column in data_field.columns(codes)])
        for activity in site.activities:
            writer.writerow([_cell(cell) for data_field in DATA_FIELDS for cell in data_field.cells(activity, codes)])
        text.flush()
        return out.getvalue()


def field_table(site: Site) -> list[tuple[DataField, str, list[str], Any]]:
    """What the data page shows for each field: (field, JSON name, CSV columns, its texts)."""
    codes = [lang.code for lang in site.languages]
    return [(f, f.name, f.columns(codes), site.config.data_fields[f.name]) for f in DATA_FIELDS]


def _both(texts: dict[str, str], site: Site) -> str:
    """A text in every written language, for metadata formats that hold one string: 序号 / Number."""
    return " / ".join(dict.fromkeys(texts[lang.code] for lang in site.written_languages))


def _table_field(data_field: DataField, column: str, site: Site, code: str | None) -> dict:
    texts = site.config.data_fields[data_field.name]
    language = f" ({next(lang.label for lang in site.languages if lang.code == code)})" if code else ""
    field = {"name": column, "type": data_field.type, "title": _both(texts.title, site) + language,
             "description": _both(texts.description, site)}
    if data_field.name == "topics":  # the CSV holds topic ids separated by semicolons
        field.update(type="list", delimiter=";", itemType="string")
    constraints = dict(data_field.constraints)
    if data_field.localized or data_field.name in ("title", "text"):
        constraints.setdefault("required", True)
    if constraints:
        field["constraints"] = constraints
    return field


def datapackage(site: Site, base_url: str) -> bytes:
    """data/datapackage.json: the open data described for machines (a Frictionless Data Package v2):
    both files, every CSV column with its type, title and meaning, the licence by its standard
    identifier, the publisher, the dates and the source. Portals harvest this."""
    config = site.config
    codes = [lang.code for lang in site.languages]
    fields = [_table_field(f, column, site, code if f.localized else None)
              for f in DATA_FIELDS for column, code in zip(f.columns(codes), codes if f.localized else [None])]
    package = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "tianjin-quality-month-2020",
        "title": _both(config.title, site),
        "description": _both(config.description, site),
        "version": config.updated.isoformat(),
        "created": f"{config.updated.isoformat()}T00:00:00Z",
        "keywords": ["质量月", "Quality Month", "天津", "Tianjin", "2020"],
        "licenses": [{"name": config.licence_terms.id, "path": config.licence_terms.url,
                      "title": _both(config.licence, site)}],
        "sources": [{"title": _both(config.source, site)}],
        "contributors": [{"title": _both(config.publisher, site), "roles": ["publisher"]}],
        "resources": [
            {"name": "activities-csv", "type": "table", "path": "activities.csv", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8",
             "title": _both(config.title, site), "description": _both(config.strings.data_format, site),
             "dialect": {"header": True, "delimiter": ",", "lineTerminator": "\r\n"},
             "schema": {"fields": fields, "primaryKey": ["number"]}},
            {"name": "activities-json", "path": "activities.json", "format": "json",
             "mediatype": "application/json", "encoding": "utf-8",
             "title": _both(config.title, site), "description": _both(config.strings.data_format, site)},
        ],
    }
    if base_url:
        package["homepage"] = base_url + "data/"
    return json_bytes(package)


def dataset_jsonld(site: Site, lang, base_url: str, page_url: str):
    """The data page's schema.org Dataset, for search engines and portals, as JSON for a
    non-executable <script type="application/ld+json"> block: every < is escaped (\\u003c), so no
    text can close the block or start a comment in it."""
    from markupsafe import Markup

    config = site.config
    code = lang.code
    download = (base_url or "") + "data/"
    dataset = {
        "@context": "https://schema.org", "@type": "Dataset",
        "name": config.title[code], "description": config.description[code],
        "inLanguage": [language.html_lang for language in site.languages],
        "license": config.licence_terms.url, "isAccessibleForFree": True,
        "creator": {"@type": "Organization", "name": config.publisher[code]},
        "publisher": {"@type": "Organization", "name": config.publisher[code]},
        "dateModified": config.updated.isoformat(),
        "temporalCoverage": "2020-09",
        "spatialCoverage": {"@type": "Place", "name": "天津 Tianjin"},
        "keywords": ["质量月", "Quality Month", "Tianjin"],
        "isBasedOn": config.source[code],
        "distribution": [
            {"@type": "DataDownload", "encodingFormat": "text/csv", "contentUrl": download + "activities.csv"},
            {"@type": "DataDownload", "encodingFormat": "application/json", "contentUrl": download + "activities.json"},
        ],
    }
    if page_url:
        dataset["url"] = page_url
    return Markup(msgspec.json.encode(dataset).decode("utf-8").replace("<", "\\u003c"))


def files(site: Site, base_url: str = "") -> dict[str, Callable[[], bytes]]:
    """The open data files by their paths inside site/, each made when asked (parallel.make_files):
    at 10,000 activities each is tens of megabytes, written and let go before the next is made."""
    return {"data/activities.json": lambda: activities_json(site), "data/activities.csv": lambda: activities_csv(site),
            "data/datapackage.json": lambda: datapackage(site, base_url)}
