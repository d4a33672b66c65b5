"""Stage 2, validate: check raw YAML data against the model and across files, collect every
problem of the run, and build the Site the templates render."""
from __future__ import annotations

import difflib
import re
import types
import typing
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec

from .cache import Store, digest
from .errors import HELD_BACK, ContentError, Problem, problem
from .load import ContentFileError, format_field, line_of, load_yaml
from .model import (Activity, ActivityRecord, Agency, AgencyFile, ChangeRecord, GlossaryEntry, Site, SiteFile,
                    Topic, TopicRecord, localized_fields)

AGENCY_FILE = re.compile(r"^(\d+)-([a-z0-9]+(?:-[a-z0-9]+)*)\.yaml$")
OPENCC_CONFIGS = ("s2t", "s2tw", "s2twp", "s2hk", "t2s", "tw2s", "tw2sp", "hk2s", "t2tw", "t2hk", "tw2t", "hk2t")
MAX_PROBLEMS_PER_FILE = 20  # a hostile or badly broken file must not bury the report (or take minutes)
_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_STAND_IN = {"number": 1, "topics": ["x"], "title": {}, "text": {}}
# C0 and C1 control characters (tab and line breaks are fine), and the bidi embeddings, overrides
# and isolates that can make text display in another order than it is stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069]")
_HARMFUL = re.compile(f"{_CONTROL.pattern}|{_BIDI.pattern}")
_CLEAN_KEY = "clean " + digest(_HARMFUL.pattern.encode("utf-8"))[:8]  # a new check makes new entries
_PLAIN = {  # msgspec's wording → an editor's
    "`int`": "a whole number", "`str`": "text", "`array`": "a list", "`object`": "a mapping (key: value)",
    "`null`": "nothing", "`bool`": "true or false", "`float`": "a number",
}


class Collector:
    """Gathers problems from every file so that one run reports them all (up to a limit per file)."""

    def __init__(self, root: Path, parsed: Store | None = None) -> None:
        self.problems: list[Problem] = []
        self.root = root
        self.parsed = parsed
        self.sources: dict[str, str] = {}
        self.per_file: dict[str, int] = {}

    def add(self, where: Path, key: str, /, field: tuple = (), line: int | None = None, **values) -> None:
        self.append(problem(where, key, line, format_field(field) or None, **values), field)

    def append(self, found: Problem, field: tuple = ()) -> None:
        count = self.per_file[found.path] = self.per_file.get(found.path, 0) + 1
        if count > MAX_PROBLEMS_PER_FILE:
            return
        if found.line is None and field:
            found = Problem(found.path, found.message, line_of(Path(found.path), field), found.field, found.name)
        self.problems.append(found)

    def load(self, path: Path) -> Any:
        """A file's data (None, with a problem added, when it cannot be read), its fingerprint
        recorded, and every text in it checked for invisible characters that do harm."""
        try:
            key, data = load_yaml(path, self.root, self.parsed)
        except ContentFileError as err:
            self.append(err.problem)
            return None
        self.sources[str(path)] = key
        # A file's texts are looked through once per version of the file (the parse cache keeps the
        # verdict): at 10,000 activities the look costs a quarter of a second.
        clean = self.parsed.get(f"{_CLEAN_KEY} {key}", lambda: _clean(data)) if self.parsed else _clean(data)
        if not clean:
            for field, text in _strings(data):
                self._check_characters(path, field, text)
        return data

    def _check_characters(self, path: Path, field: tuple, text: str) -> None:
        for pattern, name in ((_CONTROL, "control_character"), (_BIDI, "bidi_control")):
            if found := pattern.search(text):
                self.add(path, name, field, code=ord(found[0]), position=found.start() + 1)

    def convert(self, path: Path, data: Any, kind, prefix: tuple = ()):
        """msgspec.convert with its errors turned into Problems at the right lines; None on error.
        msgspec stops at the first mistake; for a record, every field is then checked on its own,
        so that one run reports them all (a wrong number does not hide a misspelt key)."""
        try:
            return msgspec.convert(data, kind)
        except msgspec.ValidationError as err:
            if isinstance(data, dict) and isinstance(kind, type) and issubclass(kind, msgspec.Struct):
                self._each_field(path, data, kind, prefix)
            else:
                field, name, values = _explain(str(err), data, kind)
                self.add(path, name, prefix + field, **values)
            return None

    def _each_field(self, path: Path, data: dict, kind, prefix: tuple) -> None:
        hints = typing.get_type_hints(kind, include_extras=True)
        encoded = kind.__struct_encode_fields__
        required = len(encoded) - len(kind.__struct_defaults__)
        misspelt = {close[0] for key in data if key not in encoded
                    for close in [difflib.get_close_matches(str(key), list(encoded), n=1)] if close}
        for index, (key, attr) in enumerate(zip(encoded, kind.__struct_fields__)):
            if key not in data:
                if index < required and key not in misspelt:  # 'titel' for 'title' is one mistake
                    self.add(path, "required", prefix + (key,))
                continue
            try:
                msgspec.convert(data[key], hints[attr])
            except msgspec.ValidationError as err:
                field, name, values = _explain(str(err), data[key], hints[attr])
                self.add(path, name, prefix + (key,) + field, **values)
        for key in data:
            if key not in encoded:
                close = difflib.get_close_matches(str(key), list(encoded), n=1)
                if close:
                    self.add(path, "unknown_field_close", prefix + (key,), close=close[0])
                else:
                    self.add(path, "unknown_field", prefix + (key,), known=", ".join(encoded))

    def finish(self) -> None:
        """Raise ContentError with every problem found, and a count of those held back."""
        for path, count in self.per_file.items():
            if count > MAX_PROBLEMS_PER_FILE:
                held = count - MAX_PROBLEMS_PER_FILE
                self.problems.append(Problem(path, f"… and {held} more problem{'s' if held != 1 else ''} "
                                                   "in this file", name=HELD_BACK))
        if self.problems:
            raise ContentError(self.problems)


def _clean(data: Any) -> bool:
    """Whether no text in parsed YAML holds a harmful character (see Collector._check_characters)."""
    return not any(_HARMFUL.search(text) for _, text in _strings(data))


def _strings(data: Any):
    """Every text in parsed YAML, with its field path (without recursion: a hostile file may nest
    thousands of levels deep)."""
    stack = [((), data)]
    while stack:
        field, node = stack.pop()
        if isinstance(node, str):
            yield field, node
        elif isinstance(node, dict):
            stack.extend((field + (key,), value) for key, value in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((field + (index,), value) for index, value in reversed(list(enumerate(node))))


def _explain(error: str, data: Any, kind) -> tuple[tuple, str, dict]:
    """Split msgspec's error into a field path, a message name and its values."""
    match = _AT.match(error)
    what, field = match["what"], []
    for name, index in _STEP.findall(match["path"] or ""):
        field.append(name or (int(index) if index != "..." else "..."))
    if "..." in field:  # msgspec names no key inside a mapping of texts: find the culprit
        field = _resolve_mapping_key(data, field)
    missing = re.match(r"Object missing required field `(.+)`", what)
    unknown = re.match(r"Object contains unknown field `(.+)`", what)
    if missing:
        return tuple(field) + (missing[1],), "required", {}
    if unknown:
        known = _fields_at(kind, field)
        close = difflib.get_close_matches(unknown[1], known, n=1)
        if close:
            return tuple(field) + (unknown[1],), "unknown_field_close", {"close": close[0]}
        return tuple(field) + (unknown[1],), "unknown_field", {"known": ", ".join(known)}
    if "matching regex" in what and "u200b" in what:  # NonEmptyText's pattern
        return tuple(field), "empty_text", {}
    for word, plain in _PLAIN.items():
        what = what.replace(word, plain)
    return tuple(field), "wrong_value", {"detail": what[0].lower() + what[1:]}


def _resolve_mapping_key(data: Any, field: list) -> list:
    """Replace msgspec's '...' (a key it does not name) by the key whose value is not a text."""
    def bad_path(node: Any, steps: list) -> list | None:
        if not steps:
            return None if isinstance(node, str) and visible(node) else []
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


def visible(text: str) -> bool:
    """Whether a text has a character that shows: not only spaces and invisible format characters."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def _fields_at(kind, field: list) -> list[str]:
    """The field names the model accepts at a path, for 'did you mean' hints."""
    kind = _unwrap(kind)
    for step in field:
        if isinstance(step, int):  # a position in a list: _unwrap already took the item's type
            continue
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            kind = typing.get_type_hints(kind, include_extras=True).get(step)
        else:
            args = [a for a in typing.get_args(kind) if a is not None]
            kind = args[-1] if args else None  # a mapping's value, or an optional's type
        kind = _unwrap(kind)
    if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
        return list(kind.__struct_encode_fields__)  # as written in YAML (Derivation's source is 'from')
    return []


def _unwrap(kind):
    """The item type inside Annotated[…], list[…] and Optional[…]."""
    while True:
        origin = typing.get_origin(kind)
        if origin in (typing.Annotated, list):
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind = args[0] if len(args) == 1 else kind
            if len(args) != 1:
                return kind
        else:
            return kind


def _check_languages(collector: Collector, path: Path, value: Any, codes: list[str] | None, field: tuple) -> None:
    """Every localized text must have exactly the written languages of site.yaml (unknown while it
    is broken)."""
    if not isinstance(value, dict) or codes is None:
        return
    for code in codes:
        if code not in value:
            collector.add(path, "missing_language", field, code=code, codes=", ".join(codes))
    for code in value:
        if code not in codes:
            collector.add(path, "unknown_language", field + (code,), code=code,
                          hint=f"site.yaml declares: {', '.join(codes)}")


def load_site(content: Path, parsed: Store | None = None) -> Site:
    """Load and validate everything under content/; raise ContentError listing every problem.

    `parsed` is the parse cache: files whose bytes it has seen are not parsed again."""
    content = content.resolve()  # fingerprints and messages must not depend on the working directory
    collector = Collector(content, parsed)
    config = _site_config(collector, content / "site.yaml")
    # While site.yaml or topics.yaml is broken, checks that depend on them are skipped (None):
    # one mistake there would otherwise be reported again for every text of every file.
    codes = [lang.code for lang in config.languages if lang.written] if config and not collector.problems else None
    before = len(collector.problems)
    topics = _topics(collector, content / "topics.yaml", codes)
    topics_ok = topics is not None and len(collector.problems) == before
    glossary = _glossary(collector, content / "glossary.yaml")
    changelog = _changelog(collector, content / "changelog.yaml", codes)
    agencies = _agencies(collector, content / "agencies", codes, {t.id: t for t in topics} if topics_ok else None)
    collector.finish()
    return Site(config=config, topics=topics, agencies=agencies, glossary=glossary, changelog=changelog,
                sources=collector.sources)


def base_url_problem(url: str) -> str:
    """Why a base URL cannot be used ('' when it can): it goes into links, robots.txt and QR codes."""
    if not url:
        return ""
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        return f"must not contain spaces or line breaks, got {url!r}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return f"must start with http:// or https:// and name a host, got {url!r}"
    if parts.query or parts.fragment:
        return f"must not have a query or fragment (? or #), got {url!r}"
    if len(url) > 200:
        return f"is {len(url)} characters long; at most 200 fit the QR codes on printed pages"
    return ""


def _site_config(collector: Collector, path: Path) -> SiteFile | None:
    data = collector.load(path)
    config = collector.convert(path, data, SiteFile) if data is not None else None
    if config is None:
        return None
    before = len(collector.problems)
    _check_language_list(collector, path, config)
    if len(collector.problems) > before:
        return config  # the languages are wrong: checking every text against them would only add noise
    codes = [lang.code for lang in config.languages if lang.written]
    for name in localized_fields(SiteFile):
        _check_languages(collector, path, getattr(config, name), codes, (name,))
    for key, value in msgspec.structs.asdict(config.strings).items():
        _check_languages(collector, path, value, codes, ("strings", key))
    _check_data_fields(collector, path, config, codes)
    if problem_text := base_url_problem(config.base_url):
        collector.add(path, "base_url", ("base_url",), detail="base_url " + problem_text)
    for index, lang in enumerate(config.languages):
        if lang.script not in config.fonts:
            collector.add(path, "unknown_script", ("languages", index, "script"), script=lang.script,
                          known=", ".join(config.fonts))
    return config


def _check_language_list(collector: Collector, path: Path, config: SiteFile) -> None:
    from .pages import reserved_paths

    codes = [lang.code for lang in config.languages]
    written = [lang.code for lang in config.languages if lang.written]
    paths = [lang.path for lang in config.languages]
    reserved = reserved_paths()
    for index, lang in enumerate(config.languages):
        at = ("languages", index)
        if codes.index(lang.code) != index:
            collector.add(path, "language_twice", at + ("code",), code=lang.code)
        if (lang.path == "") != (index == 0):
            collector.add(path, "root_language_path", at + ("path",))
        elif paths.index(lang.path) != index:
            collector.add(path, "language_path_twice", at + ("path",), path=lang.path)
        elif lang.path in reserved:
            collector.add(path, "language_path_reserved", at + ("path",), path=lang.path,
                          reserved=", ".join(sorted(reserved)))
        if lang.derive is None:
            continue
        if index == 0:
            collector.add(path, "derived_first", at + ("derive",))
        elif lang.derive.source not in written:
            collector.add(path, "derived_source", at + ("derive", "from"), source=lang.derive.source,
                          codes=", ".join(written))
        if lang.derive.opencc not in OPENCC_CONFIGS:
            collector.add(path, "converter_unknown", at + ("derive", "opencc"), name=lang.derive.opencc,
                          known=", ".join(OPENCC_CONFIGS))
        for source, target in lang.derive.overrides.items():
            if len(source) != len(target):
                collector.add(path, "override_length", at + ("derive", "overrides", source),
                              source=source, target=target, length=len(source))


def _check_data_fields(collector: Collector, path: Path, config: SiteFile, codes: list[str]) -> None:
    """Every field of the open data is described, and only those (opendata.DATA_FIELDS declares them)."""
    from .opendata import DATA_FIELDS

    declared = [f.name for f in DATA_FIELDS]
    for name in declared:
        if name not in config.data_fields:
            collector.add(path, "data_field_missing", ("data_fields",), name=name)
    for name, texts in config.data_fields.items():
        if name not in declared:
            close = difflib.get_close_matches(name, declared, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"the fields are: {', '.join(declared)}"
            collector.add(path, "data_field_unknown", ("data_fields", name), name=name, hint=hint)
            continue
        for part in ("title", "description"):
            _check_languages(collector, path, getattr(texts, part), codes, ("data_fields", name, part))


def _topics(collector: Collector, path: Path, codes: list[str] | None) -> list[Topic] | None:
    data = collector.load(path)
    records = collector.convert(path, data, list[TopicRecord]) if data is not None else None
    if records is None:
        return None
    topics: list[Topic] = []
    for index, record in enumerate(records):
        if any(t.id == record.id for t in topics):
            collector.add(path, "topic_twice", (index, "id"), id=record.id)
        _check_languages(collector, path, record.label, codes, (index, "label"))
        topics.append(Topic(record.id, record.label))
    return topics


def _glossary(collector: Collector, path: Path) -> list[GlossaryEntry]:
    if not path.exists():
        return []
    data = collector.load(path)
    entries = collector.convert(path, data, list[GlossaryEntry]) if data is not None else None
    return entries or []


def _changelog(collector: Collector, path: Path, codes: list[str] | None) -> list[ChangeRecord]:
    """content/changelog.yaml (optional): dated entries, newest first."""
    if not path.exists():
        return []
    data = collector.load(path)
    entries = collector.convert(path, data, list[ChangeRecord]) if data is not None else None
    for index, entry in enumerate(entries or []):
        _check_languages(collector, path, entry.text, codes, (index, "text"))
        if index and entry.date > entries[index - 1].date:
            collector.add(path, "changelog_order", (index, "date"), date=entry.date, previous=entries[index - 1].date)
    return entries or []


def _agencies(collector: Collector, folder: Path, codes: list[str] | None,
              topics: dict[str, Topic] | None) -> list[Agency]:
    if not folder.is_dir():
        collector.add(folder, "agencies_missing")
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
        collector.add(folder, "no_agencies")
    if not collector.problems:  # numbering across files means little while records are missing
        _check_numbering(collector, agencies)
    return agencies


def _agency(collector: Collector, path: Path, codes: list[str] | None,
            topics: dict[str, Topic] | None) -> Agency | None:
    named = AGENCY_FILE.match(path.name)
    if not named:
        collector.add(path, "agency_file_name")
        return None
    data = collector.load(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        collector.add(path, "expected_mapping", fields=", ".join(AgencyFile.__struct_fields__))
        return None
    # Check the agency's own fields first, with the activities replaced by one valid stand-in,
    # then each activity on its own: one run reports a mistake in every activity, not only the first.
    raw_activities = data.get("activities")
    each_activity = isinstance(raw_activities, list) and len(raw_activities) > 0
    header = collector.convert(path, {**data, "activities": [_STAND_IN]} if each_activity else data, AgencyFile)
    if header is None:  # still check every activity: one run reports every mistake of the file
        stand_in = Agency(0, named[2], {}, {}, str(path))
        for index, raw in enumerate(raw_activities if each_activity else []):
            _activity(collector, path, raw, index, codes, topics, stand_in)
        return None
    agency = Agency(header.number, header.slug, header.name, header.full_name, str(path))
    if int(named[1]) != header.number:
        collector.add(path, "file_number_mismatch", ("number",), named=int(named[1]), number=header.number)
    if named[2] != header.slug:
        collector.add(path, "file_slug_mismatch", ("slug",), named=named[2], slug=header.slug)
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
            collector.add(path, "unknown_topic", field + ("topics", position), topic=topic, hint=hint)
        elif record.topics.index(topic) != position:
            collector.add(path, "topic_listed_twice", field + ("topics", position), topic=topic)
    return Activity(record.number, dict(record.title), dict(record.text), {},
                    [topics[t] for t in record.topics if t in (topics or {})], agency, index)


def _check_numbering(collector: Collector, agencies: list[Agency]) -> None:
    """Agencies are numbered 1..N and activities 1..M, both without gaps, in document order."""
    for expected, agency in enumerate(agencies, start=1):
        if agency.number != expected:
            same = [a for a in agencies if a.number == agency.number]
            if len(same) > 1:
                collector.add(Path(agency.source_file), "agency_number_shared", ("number",),
                              number=agency.number, count=len(same))
            else:
                collector.add(Path(agency.source_file), "agency_number_gap", ("number",), expected=expected)
            return
    activities = [activity for agency in agencies for activity in agency.activities]
    expected, seen = 1, {}
    for i, activity in enumerate(activities):
        if activity.number == expected and activity.number not in seen:
            seen[activity.number] = activity.agency.source_file
            expected += 1
            continue
        path, field = Path(activity.agency.source_file), activity.field + ("number",)
        following = activities[i + 1].number if i + 1 < len(activities) else None
        typo = following == expected + 1  # the numbers go on as if this one were right: one slip
        if activity.number in seen:
            collector.add(path, "activity_number_shared", field, number=activity.number,
                          other=Path(seen[activity.number]).name)
        elif not typo and activity.number > expected and i > 0 and activities[i - 1].agency is not activity.agency:
            _missing_between(collector, activities[i - 1], activity, expected)
        else:
            collector.add(path, "activity_number_gap", field, expected=expected)
        if typo:
            expected += 1  # one mistake, one message: carry on as if it had its right number
        else:
            seen.setdefault(activity.number, activity.agency.source_file)
            expected = activity.number + 1  # the numbering really jumps: go on from here


def _missing_between(collector: Collector, before: Activity, after: Activity, expected: int) -> None:
    """Numbers missing at the border of two files, as a save cut off at the end leaves them: say
    which, and name both files."""
    last = after.number - 1
    one = last == expected
    collector.add(Path(after.agency.source_file), "activity_numbers_missing", after.field + ("number",),
                  missing=str(expected) if one else f"numbers {expected}–{last}", verb="is" if one else "are",
                  before=before.number, before_file=Path(before.agency.source_file).name,
                  after=after.number, after_file=Path(after.agency.source_file).name)
