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
    return msgspec.json.encode(data).replace(b"</", b"<\\/")


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
                  "languages": [lang.code for lang in site.languages], "activities": records})


def _cell(value) -> str:
    """A CSV cell that a spreadsheet shows as text and never runs as a formula."""
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def activities_csv(site: Site) -> bytes:
    """data/activities.csv: one row per activity; UTF-8 with a BOM so spreadsheets show Chinese."""
    codes = [lang.code for lang in site.languages]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([column for data_field in DATA_FIELDS for column in data_field.columns(codes)])
    for activity in site.activities:
        writer.writerow([_cell(cell) for data_field in DATA_FIELDS for cell in data_field.cells(activity, codes)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def field_table(site: Site) -> list[tuple[DataField, str, list[str], Any]]:
    """What the data page shows for each field: (field, JSON name, CSV columns, its texts)."""
    codes = [lang.code for lang in site.languages]
    return [(f, f.name, f.columns(codes), site.config.data_fields[f.name]) for f in DATA_FIELDS]


def files(site: Site) -> dict[str, bytes]:
    """The open data files, by their path inside site/."""
    return {"data/activities.json": activities_json(site), "data/activities.csv": activities_csv(site)}
