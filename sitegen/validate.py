"""Stage 2, validate: check raw YAML data against the model and across files, collect every
problem of the run, and build the Site the templates render."""
from __future__ import annotations

import difflib
import re
import typing
from pathlib import Path
from typing import Any

import msgspec

from .errors import ContentError, Problem
from .load import ContentFileError, format_field, line_of, load_yaml
from .model import (Activity, ActivityRecord, Agency, AgencyFile, GlossaryEntry, Site, SiteFile,
                    Topic, TopicRecord)

AGENCY_FILE = re.compile(r"^(\d+)-([a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$")
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
RESERVED_PATHS = {"agencies", "activities", "print", "data", "assets"}  # the site's own folders
_STAND_IN = {"number": 1, "topics": ["x"], "title": {}, "text": {}}
_PLAIN = {  # msgspec's wording → an editor's
    "`int`": "a whole number", "`str`": "text", "`array`": "a list", "`object`": "a mapping (key: value)",
    "`null`": "nothing", "`bool`": "true or false", "`float`": "a number",
}


class Collector:
    """Gathers problems from every file so that one run reports them all."""

    def __init__(self, cache: dict | None = None) -> None:
        self.problems: list[Problem] = []
        self.cache = cache
        self.stamps: dict[str, tuple] = {}

    def add(self, path: Path, message: str, field: tuple = (), line: int | None = None) -> None:
        if line is None and field:
            line = line_of(path, field)
        self.problems.append(Problem(str(path), message, line, format_field(field) or None))

    def convert(self, path: Path, data: Any, kind, prefix: tuple = ()):
        """msgspec.convert with its error turned into a Problem at the right line; None on error."""
        try:
            return msgspec.convert(data, kind)
        except msgspec.ValidationError as err:
            field, message = _explain(str(err), data, kind)
            self.add(path, message, prefix + field)
            return None


def _explain(error: str, data: Any, kind) -> tuple[tuple, str]:
    """Split msgspec's error into a field path and a plain message."""
    match = _AT.match(error)
    what, field = match["what"], []
    for name, index in _STEP.findall(match["path"] or ""):
        field.append(name or (int(index) if index != "..." else "..."))
    if "..." in field:  # msgspec names no key inside a mapping of texts: find the culprit
        field = _resolve_mapping_key(data, field)
    missing = re.match(r"Object missing required field `(.+)`", what)
    unknown = re.match(r"Object contains unknown field `(.+)`", what)
    if missing:
        return tuple(field) + (missing[1],), "required field is missing"
    if unknown:
        known = _fields_at(kind, field)
        close = difflib.get_close_matches(unknown[1], known, n=1)
        if close:
            return tuple(field) + (unknown[1],), f"unknown field; did you mean '{close[0]}'?"
        return tuple(field) + (unknown[1],), f"unknown field; expected one of: {', '.join(known)}"
    if "matching regex '\\\\S'" in what or "matching regex '\\S'" in what:
        return tuple(field), "must not be empty"
    for word, plain in _PLAIN.items():
        what = what.replace(word, plain)
    return tuple(field), what[0].lower() + what[1:]


def _resolve_mapping_key(data: Any, field: list) -> list:
    """Replace msgspec's '...' (a key it does not name) by the key whose value is not a text."""
    def bad_path(node: Any, steps: list) -> list | None:
        if not steps:
            return None if isinstance(node, str) and node.strip() else []
        step, rest = steps[0], steps[1:]
        if step == "..." and isinstance(node, dict):
            candidates = list(node)
        elif isinstance(node, (dict, list)) and (step in node if isinstance(node, dict) else
                                                  isinstance(step, int) and step < len(node)):
            candidates = [step]
        else:
            return None
        for key in candidates:
            found = bad_path(node[key], rest)
            if found is not None:
                return [key, *found]
        return None

    return bad_path(data, field) or [step for step in field if step != "..."]


def _fields_at(kind, field: list) -> list[str]:
    """The field names the model accepts at a path, for 'did you mean' hints."""
    for step in field:
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            kind = typing.get_type_hints(kind, include_extras=True).get(step)
        else:
            args = [a for a in typing.get_args(kind) if a is not None]
            kind = args[0] if args else None
        while typing.get_origin(kind) in (typing.Annotated, list):
            kind = typing.get_args(kind)[0]
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return list(kind.__struct_fields__)
    return []


def _check_languages(collector: Collector, path: Path, value: Any, codes: list[str] | None, field: tuple) -> None:
    """Every localized text must have exactly the languages of site.yaml (unknown while it is broken)."""
    if not isinstance(value, dict) or codes is None:
        return
    for code in codes:
        if code not in value:
            collector.add(path, f"missing the '{code}' text (every text needs: {', '.join(codes)})", field)
    for code in value:
        if code not in codes:
            collector.add(path, f"unknown language '{code}' (site.yaml declares: {', '.join(codes)})",
                          field + (code,))


def _load(collector: Collector, path: Path) -> Any:
    try:
        return _parsed(path, collector.cache, collector.stamps)
    except ContentFileError as err:
        collector.problems.append(err.problem)
        return None


def _parsed(path: Path, cache: dict | None, stamps: dict[str, tuple]) -> Any:
    """Parsed YAML, from the cache when the file's mtime and size are unchanged. The data is
    never modified by later stages, so cached objects are shared, not copied. `stamps` records
    each file's (mtime, size) so that serve can tell which pages an edit touches."""
    if cache is None or not path.is_file():
        return load_yaml(path)
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    entry = cache.get(str(path))
    if entry is None or entry[0] != stamp:
        entry = cache[str(path)] = (stamp, load_yaml(path))
    stamps[str(path)] = stamp
    return entry[1]


def load_site(content: Path, cache: dict | None = None) -> Site:
    """Load and validate everything under content/; raise ContentError listing every problem.

    `cache` keeps each file's parsed YAML between builds, with its mtime and size: serve keeps it
    in memory, build.py on disk (load.ParseCache)."""
    content = content.resolve()  # cache keys must not depend on the working directory
    collector = Collector(cache)
    config = _site_config(collector, content / "site.yaml")
    # While site.yaml or topics.yaml is broken, checks that depend on them are skipped (None):
    # one mistake there would otherwise be reported again for every text of every file.
    codes = [lang.code for lang in config.languages] if config and not collector.problems else None
    topics = _topics(collector, content / "topics.yaml", codes)
    _glossary(collector, content / "glossary.yaml")
    agencies = _agencies(collector, content / "agencies", codes,
                         {t.id: t for t in topics} if topics is not None else None)
    if collector.problems:
        raise ContentError(collector.problems)
    return Site(config=config, topics=topics, agencies=agencies, stamps=collector.stamps)


def _site_config(collector: Collector, path: Path) -> SiteFile | None:
    data = _load(collector, path)
    config = collector.convert(path, data, SiteFile) if data is not None else None
    if config is None:
        return None
    codes = [lang.code for lang in config.languages]
    paths = [lang.path for lang in config.languages]
    before = len(collector.problems)
    for index, lang in enumerate(config.languages):
        if codes.index(lang.code) != index:
            collector.add(path, f"language code '{lang.code}' is declared twice", ("languages", index, "code"))
        if (lang.path == "") != (index == 0):
            collector.add(path, "the first language has an empty path (it is served at the root); "
                          "every other needs its own, e.g. en", ("languages", index, "path"))
        elif paths.index(lang.path) != index:
            collector.add(path, f"language path '{lang.path}' is used twice", ("languages", index, "path"))
        elif lang.path in RESERVED_PATHS:
            collector.add(path, f"language path '{lang.path}' is a folder the site already uses; "
                          f"avoid: {', '.join(sorted(RESERVED_PATHS))}", ("languages", index, "path"))
    if len(collector.problems) > before:
        return config  # the languages are wrong: checking every text against them would only add noise
    for name in ("title", "description", "theme", "source", "licence"):
        _check_languages(collector, path, getattr(config, name), codes, (name,))
    for key, value in msgspec.structs.asdict(config.strings).items():
        _check_languages(collector, path, value, codes, ("strings", key))
    for key, value in config.data_fields.items():
        _check_languages(collector, path, value, codes, ("data_fields", key))
    return config


def _topics(collector: Collector, path: Path, codes: list[str] | None) -> list[Topic] | None:
    data = _load(collector, path)
    records = collector.convert(path, data, list[TopicRecord]) if data is not None else None
    if records is None:
        return None
    topics: list[Topic] = []
    for index, record in enumerate(records):
        if any(t.id == record.id for t in topics):
            collector.add(path, f"topic id '{record.id}' is used twice", (index, "id"))
        _check_languages(collector, path, record.label, codes, (index, "label"))
        topics.append(Topic(record.id, record.label))
    return topics


def _glossary(collector: Collector, path: Path) -> None:
    if path.exists():
        data = _load(collector, path)
        if data is not None:
            collector.convert(path, data, list[GlossaryEntry])


def _agencies(collector: Collector, folder: Path, codes: list[str] | None,
              topics: dict[str, Topic] | None) -> list[Agency]:
    if not folder.is_dir():
        collector.add(folder, "folder is missing: expected one YAML file per agency, e.g. 01-market-regulation.yaml")
        return []
    agencies = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or path.name.endswith("~"):
            continue  # editors' swap and backup files
        agency = _agency(collector, path, codes, topics)
        if agency:
            agencies.append(agency)
    agencies.sort(key=lambda a: a.number)
    if not agencies and not collector.problems:
        collector.add(folder, "no agency files found: expected files like 01-market-regulation.yaml")
    if not collector.problems:  # numbering across files means little while records are missing
        _check_numbering(collector, agencies)
    return agencies


def _agency(collector: Collector, path: Path, codes: list[str] | None,
            topics: dict[str, Topic] | None) -> Agency | None:
    named = AGENCY_FILE.match(path.name)
    if not named:
        collector.add(path, "agency file names look like NN-slug.yaml (e.g. 03-development-reform.yaml)")
        return None
    data = _load(collector, path)
    if data is None:
        return None
    if not isinstance(data, dict):
        collector.add(path, f"expected a mapping with the fields {', '.join(AgencyFile.__struct_fields__)}")
        return None
    # Check the agency's own fields first, with the activities replaced by one valid stand-in,
    # then each activity on its own: one run reports a mistake in every activity, not only the first.
    raw_activities = data.get("activities")
    each_activity = isinstance(raw_activities, list) and len(raw_activities) > 0
    header = collector.convert(path, {**data, "activities": [_STAND_IN]} if each_activity else data, AgencyFile)
    if header is None:
        return None
    agency = Agency(header.number, header.slug, header.name, header.full_name, str(path))
    if int(named[1]) != header.number:
        collector.add(path, f"the file name says agency {int(named[1])} but the file says {header.number}; "
                      "make them agree", ("number",))
    if named[2] != header.slug:
        collector.add(path, f"the file name says slug '{named[2]}' but the file says '{header.slug}'; "
                      "make them agree", ("slug",))
    _check_languages(collector, path, header.name, codes, ("name",))
    _check_languages(collector, path, header.full_name, codes, ("full_name",))
    for index, raw in enumerate(raw_activities):
        activity = _activity(collector, path, raw, index, codes, topics, agency)
        if activity:
            agency.activities.append(activity)
    return agency


def _activity(collector: Collector, path: Path, raw: Any, index: int, codes: list[str] | None,
              topics: dict[str, Topic] | None, agency: Agency) -> Activity | None:
    field = ("activities", index)
    record = collector.convert(path, raw, ActivityRecord, prefix=field)
    if record is None:
        return None
    for name in ("title", "text"):
        _check_languages(collector, path, getattr(record, name), codes, field + (name,))
    for position, topic in enumerate(record.topics if topics is not None else []):
        if topic not in topics:
            close = difflib.get_close_matches(topic, list(topics), n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            collector.add(path, f"unknown topic '{topic}'; {hint}topics are listed in topics.yaml",
                          field + ("topics", position))
        elif record.topics.index(topic) != position:
            collector.add(path, f"topic '{topic}' is listed twice", field + ("topics", position))
    return Activity(record.number, record.title, record.text, {},
                    [topics[t] for t in record.topics if t in (topics or {})], agency)


def _check_numbering(collector: Collector, agencies: list[Agency]) -> None:
    """Agencies are numbered 1..N and activities 1..M, both without gaps, in document order."""
    for expected, agency in enumerate(agencies, start=1):
        if agency.number != expected:
            same = [a for a in agencies if a.number == agency.number]
            message = (f"agency number {agency.number} is used by {len(same)} files"
                       if len(same) > 1 else
                       f"agency numbers must run 1, 2, 3… without gaps: expected {expected} here "
                       f"(is agency {expected}'s file missing?)")
            collector.add(Path(agency.source_file), message, ("number",))
            return
    expected, seen = 1, {}
    for agency in agencies:
        for index, activity in enumerate(agency.activities):
            path, field = Path(agency.source_file), ("activities", index, "number")
            if activity.number in seen:
                collector.add(path, f"activity number {activity.number} is also used in "
                              f"{Path(seen[activity.number]).name}; numbers are unique across the site", field)
            elif activity.number != expected:
                collector.add(path, f"expected activity number {expected}: activities are numbered "
                              "1, 2, 3… across all agencies in document order, without gaps", field)
            seen.setdefault(activity.number, agency.source_file)
            expected = max(expected, activity.number) + 1  # one mistake, one message
