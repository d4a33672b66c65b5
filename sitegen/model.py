"""The content model: the shape of each YAML file (msgspec structs, from which the JSON Schemas
for editors' IDEs are generated) and the Site that the templates render."""
from __future__ import annotations

import functools
import typing
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

# --- What editors write -------------------------------------------------------------------

# Visible text: something other than white space and invisible format characters (zero-width
# spaces, joiners, bidi marks…), so that a title made only of those counts as empty.
NonEmptyText = Annotated[str, Meta(pattern=r"[^\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
                                           r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f"
                                           r"\ufeff\uffa0]",
                                   description="Text; must not be empty.")]
Localized = Annotated[
    dict[str, NonEmptyText],
    Meta(description="One text per written language of site.yaml, e.g. {zh: …, en: …}.",
         extra_json_schema={"x-localized": True}),  # made explicit from site.yaml by json_schema()
]
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
                           description="Lowercase letters, digits and single hyphens; used in URLs.")]
Number = Annotated[int, Meta(ge=1)]
LanguageCode = Annotated[str, Meta(pattern=r"^[a-z]{2,3}(-([A-Z][a-z]{3}|[A-Z]{2}))?$",
                                   description="Key used in content and data, e.g. zh, en, zh-Hant, zh-HK.")]


class Record(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base for content records: a misspelt key is an error, not silently ignored."""


class Derivation(Record, rename={"source": "from"}):
    """How a derived language is made from a written one: by OpenCC, with corrections."""

    source: Annotated[str, Meta(description="The written language it is converted from, e.g. zh.")]
    opencc: Annotated[str, Meta(description="The OpenCC configuration, e.g. s2tw (Simplified to Traditional, "
                                            "Taiwan standard characters, no change of vocabulary).")]
    overrides: Annotated[dict[str, NonEmptyText], Meta(
        description="Corrections where OpenCC gets a term wrong: the term as written in the source "
                    "language → the right conversion, of the same length.")] = {}


class Language(Record):
    code: LanguageCode
    html_lang: Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$",
                                   description="BCP 47 tag for lang and hreflang, e.g. zh-CN.")]
    label: Annotated[NonEmptyText, Meta(description="Its name in itself, for the language switch, e.g. 简体.")]
    path: Annotated[str, Meta(pattern=r"^([a-z0-9-]+)?$",
                              description="URL prefix; empty for the root language.")]
    script: Annotated[str, Meta(pattern=r"^[A-Z][a-z]{3}$",
                                description="ISO 15924 script (Hans, Hant, Latn): picks the fonts in site.yaml.")]
    speech: Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$",
                                description="The language tag for read-aloud voices, e.g. zh-CN, zh-TW, en.")]
    locale: Annotated[str, Meta(pattern=r"^[a-z]{2,3}_[A-Z]{2}$",
                                description="Its locale for Open Graph (og:locale), e.g. zh_CN, zh_TW, en_US.")]
    derive: Annotated[Derivation | None, Meta(
        description="For a language made from another by a converter instead of written by editors.")] = None
    numerals: Literal["chinese", "arabic"] = "arabic"
    spaces: Annotated[bool, Meta(description="Whether the language separates words with spaces; "
                                             "where it does not, search matches any fragment and "
                                             "no space follows a number label.")] = True
    list_separator: Annotated[str, Meta(description="Between the items of a list in running text.")] = "; "
    date_format: Annotated[str, Meta(description="How dates are written, in strftime's codes "
                                                 "(%Y year, %-m month, %-d day, %B month name).")] = "%Y-%m-%d"
    excerpt_length: Annotated[int, Meta(ge=20, description="Characters of a search result's excerpt.")] = 180

    @property
    def written(self) -> bool:
        """Whether editors write its texts (the others are derived)."""
        return self.derive is None

    @property
    def label_separator(self) -> str:
        """What follows a number label such as （一） or 1.: nothing where words are not spaced."""
        return " " if self.spaces else ""


class Fonts(Record):
    """The font stacks of one script: system fonts only, nothing is downloaded."""

    screen: NonEmptyText
    print: NonEmptyText
    letter_spacing: str = "normal"


class Strings(Record):
    """The words of the interface, one field per phrase the templates use ({n} and {agency}
    are filled in). Every one is required, so a missing or misspelt key is an error here."""

    skip_to_content: Localized
    home: Localized
    breadcrumbs: Localized
    main_nav: Localized
    language: Localized
    agencies: Localized
    activities: Localized
    activity_count: Localized
    activity_count_one: Localized
    agency_count: Localized
    theme_label: Localized
    by_agency: Localized
    activities_by: Localized
    search: Localized
    search_label: Localized
    search_placeholder: Localized
    search_hint: Localized
    search_results: Localized
    search_none: Localized
    search_loading: Localized
    search_clear: Localized
    search_failed: Localized
    search_without_script: Localized
    in_brackets: Annotated[Localized, Meta(description="A name in brackets, e.g. （{name}）; must contain {name}.")]
    name_and_list: Annotated[Localized, Meta(description="A name, then what it has: {name}, {items}.")]
    filter_agency: Localized
    filter_topic: Localized
    filter_all: Localized
    topics: Localized
    print: Localized
    print_button: Localized
    print_intro: Localized
    contents: Localized
    online_version: Localized
    data: Localized
    data_intro: Localized
    data_fields: Localized
    data_licence: Localized
    download_json: Localized
    download_csv: Localized
    download_datapackage: Localized
    menu: Localized
    reading_settings: Localized
    text_size: Localized
    setting_standard: Localized
    text_large: Localized
    text_larger: Localized
    text_largest: Localized
    contrast: Localized
    contrast_high: Localized
    settings_note: Localized
    settings_reset: Localized
    settings_done: Localized
    read_aloud: Localized
    read_page: Localized
    stop_reading: Localized
    open_on_phone: Localized
    scan_to_open: Localized
    copy_link: Localized
    link_copied: Localized
    copy_failed: Localized
    filters: Localized
    not_found_title: Localized
    not_found_text: Localized
    back_home: Localized
    share_image_alt: Annotated[Localized, Meta(description="The share image's alt text; {title}, {theme}.")]
    data_format: Localized
    data_meaning: Localized
    publisher_label: Annotated[Localized, Meta(description="Before the publisher's name; {publisher}.")]
    unofficial_notice: Annotated[Localized, Meta(description="Said when the publisher is not the government; "
                                                             "{source} names who issued the document.")]
    archive_notice: Annotated[Localized, Meta(description="That the site archives a past plan; {held}.")]
    translation_notice: Annotated[Localized, Meta(
        description="On the pages of every language but the original: which text is authoritative.")]
    last_updated: Annotated[Localized, Meta(description="{date}: when the site last changed.")]
    activities_description: Annotated[Localized, Meta(description="The activities page's description; {n}.")]
    changelog: Localized
    changelog_intro: Localized
    report_mistake: Localized
    report_subject: Annotated[Localized, Meta(description="The subject of a report: {label} {title}.")]
    report_body: Annotated[Localized, Meta(description="The start of a report: {address} of the page.")]


class DataFieldText(Record):
    """How one field of the open data is named and explained to people."""

    title: Localized
    description: Localized


class Licence(Record):
    """The open licence of our texts and data, by its standard (SPDX) identifier."""

    id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9.+-]+$", description="SPDX identifier, e.g. CC-BY-4.0.")]
    url: Annotated[str, Meta(pattern=r"^https://", description="Where the licence is published.")]


class SiteFile(Record):
    """content/site.yaml"""

    languages: Annotated[list[Language], Meta(min_length=1)]
    title: Localized
    short_title: Annotated[Localized, Meta(description="The title as the header shows it, short enough "
                                                       "for one line on a phone.")]
    description: Localized
    theme: Localized
    source: Localized
    licence: Localized
    licence_terms: Licence
    publisher: Annotated[Localized, Meta(description="Who publishes this site.")]
    official: Annotated[bool, Meta(description="Whether the publisher is the government that issued the "
                                               "document; when not, every page says the site is unofficial.")]
    official_source: Annotated[Localized, Meta(description="Who issued the document, named where the site "
                                                           "says it is not official.")]
    held: Annotated[Localized, Meta(description="When the activities took place, e.g. September 2020.")]
    updated: Annotated[date, Meta(description="When the site's content last changed (YYYY-MM-DD): shown in the "
                                              "footer and written into the open data.")]
    strings: Strings
    fonts: Annotated[dict[str, Fonts], Meta(description="Font stacks per script (the languages' script).")]
    data_fields: Annotated[dict[str, DataFieldText], Meta(
        description="The open data's fields (as named in activities.json), with a title and what they mean.")]
    base_url: Annotated[str, Meta(description="Where the site is published, e.g. https://example.org/quality/ "
                                              "(or give --base-url).")] = ""
    corrections: Annotated[str, Meta(
        pattern=r"^(|mailto:[^\s?]+@[^\s?]+|https://\S+)$",
        description="Where readers report a mistake: mailto:address or an https:// form. Empty: no link.")] = ""
    allowed_image_hosts: Annotated[list[str], Meta(
        description="Hosts that activity texts may show images from (none by default: nothing loads "
                    "from another host).")] = []


class ChangeRecord(Record):
    """One entry of content/changelog.yaml: what was corrected or changed, and when."""

    date: date
    text: Localized


class TopicRecord(Record):
    """One entry of content/topics.yaml"""

    id: Slug
    label: Localized


class ActivityRecord(Record):
    number: Annotated[Number, Meta(description="The activity's number in the document, 1 = （一）.")]
    topics: Annotated[list[Slug], Meta(min_length=1, max_length=3, description="1–3 topic ids from topics.yaml.",
                                       extra_json_schema={"x-topic-ids": True})]
    title: Localized
    text: Annotated[Localized, Meta(description="The full text per language (Markdown).")]


class AgencyFile(Record):
    """content/agencies/NN-<slug>.yaml"""

    number: Annotated[Number, Meta(description="The agency's number in the document, 1 = 一.")]
    slug: Slug
    name: Annotated[Localized, Meta(description="Name as the document gives it (often short).")]
    full_name: Localized
    activities: Annotated[list[ActivityRecord], Meta(min_length=1)]


class GlossaryEntry(Record):
    """A fixed English rendering of a Chinese name, and the gloss that explains it to English readers."""

    zh: NonEmptyText
    en: NonEmptyText
    gloss: Annotated[str, Meta(description="A short explanation for English readers who cannot know the name "
                                           "(e.g. 'the consumer complaints hotline'); every English text that "
                                           "uses the term gives it on first use.")] = ""


@functools.cache  # get_type_hints evaluates every annotation again on each call: 1 ms a build
def localized_fields(kind) -> tuple[str, ...]:
    """The fields of a record that hold one text per language (Localized, with or without more Meta)."""
    def localized(hint) -> bool:
        return typing.get_origin(hint) is Annotated and any(
            isinstance(meta, Meta) and (meta.extra_json_schema or {}).get("x-localized")
            for meta in hint.__metadata__)
    return tuple(name for name, hint in typing.get_type_hints(kind, include_extras=True).items() if localized(hint))


SCHEMAS = {
    "site.schema.json": SiteFile,
    "topics.schema.json": list[TopicRecord],
    "agency.schema.json": AgencyFile,
    "glossary.schema.json": list[GlossaryEntry],
    "changelog.schema.json": list[ChangeRecord],
}


def schemas_for(site: Site) -> dict[str, bytes]:
    """Every schema of content/schema/, made for this content's languages and topics."""
    languages = [lang.code for lang in site.written_languages]
    topic_ids = [topic.id for topic in site.topics]
    return {name: json_schema(kind, languages, topic_ids) for name, kind in SCHEMAS.items()}


def write_schemas(site: Site, folder) -> int:
    folder.mkdir(exist_ok=True)
    for name, data in schemas_for(site).items():
        (folder / name).write_bytes(data)
    return len(SCHEMAS)


def json_schema(kind, languages: list[str] | None = None, topic_ids: list[str] | None = None) -> bytes:
    """The JSON Schema of one kind of content file, as committed in content/schema/: with the site's
    written languages required in every text and the ids of topics.yaml as the only topics, so an
    editor's IDE catches what `build.py check` catches."""
    schema = msgspec.json.schema(kind)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    _specialize(schema, languages, topic_ids)
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"


def _specialize(node, languages: list[str] | None, topic_ids: list[str] | None) -> None:
    """Replace the model's markers (x-localized, x-topic-ids) by what the content declares."""
    if isinstance(node, list):
        for item in node:
            _specialize(item, languages, topic_ids)
        return
    if not isinstance(node, dict):
        return
    if node.pop("x-localized", False) and languages:
        text = node.pop("additionalProperties")
        node.update(properties={code: text for code in languages}, required=list(languages),
                    additionalProperties=False)
    if node.pop("x-topic-ids", False) and topic_ids:
        node["items"] = {"enum": list(topic_ids), "description": node["items"].get("description", "")}
    for value in node.values():
        _specialize(value, languages, topic_ids)


# --- What templates render ----------------------------------------------------------------

@dataclass
class Topic:
    id: str
    label: dict[str, str]


@dataclass
class Activity:
    number: int
    title: dict[str, str]
    text: dict[str, str]  # Markdown as written (or derived)
    html: dict[str, str]  # the Markdown converted once, reused on every page that shows it
    topics: list[Topic]
    agency: Agency = field(repr=False)
    index: int = 0  # its position in its agency's file, for error messages

    @property
    def field(self) -> tuple:
        """Where it is in its agency's file, as a field path."""
        return ("activities", self.index)


@dataclass
class Agency:
    number: int
    slug: str
    name: dict[str, str]
    full_name: dict[str, str]
    source_file: str
    activities: list[Activity] = field(default_factory=list)


@dataclass
class Site:
    config: SiteFile
    topics: list[Topic]
    agencies: list[Agency]
    glossary: list[GlossaryEntry] = field(default_factory=list)
    changelog: list[ChangeRecord] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # content file → fingerprint of its bytes

    @property
    def languages(self) -> list[Language]:
        return self.config.languages

    def shared_sources(self) -> list[tuple[str, str]]:
        """The content files every page is made from (all but the agency files), with their fingerprints."""
        agency_files = {agency.source_file for agency in self.agencies}
        return sorted((path, key) for path, key in self.sources.items() if path not in agency_files)

    @property
    def written_languages(self) -> list[Language]:
        return [lang for lang in self.config.languages if lang.written]

    @property
    def activities(self) -> list[Activity]:
        return [activity for agency in self.agencies for activity in agency.activities]

    def fonts(self, lang: Language) -> Fonts:
        return self.config.fonts[lang.script]
