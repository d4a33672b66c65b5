"""The content model: the shape of each YAML file (msgspec structs, from which the JSON Schemas
for editors' IDEs are generated) and the Site that the templates render."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

# --- What editors write -------------------------------------------------------------------

NonEmptyText = Annotated[str, Meta(pattern=r"\S", description="Text; must not be empty.")]
Localized = Annotated[
    dict[str, NonEmptyText],
    Meta(description="One text per language code declared in site.yaml, e.g. {zh: …, en: …}."),
]
Slug = Annotated[str, Meta(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$",
                           description="Lowercase letters, digits and single hyphens; used in URLs.")]
Number = Annotated[int, Meta(ge=1)]


class Record(Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base for content records: a misspelt key is an error, not silently ignored."""


class Language(Record):
    code: Annotated[str, Meta(pattern=r"^[a-z]{2,3}$", description="Key used in content, e.g. zh.")]
    html_lang: Annotated[str, Meta(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]+)*$",
                                   description="BCP 47 tag for lang and hreflang, e.g. zh-CN.")]
    label: NonEmptyText
    path: Annotated[str, Meta(pattern=r"^([a-z0-9-]+)?$",
                              description="URL prefix; empty for the root language.")]
    numerals: Literal["chinese", "arabic"] = "arabic"
    spaces: Annotated[bool, Meta(description="Whether the language separates words with spaces; "
                                             "where it does not, search matches any fragment.")] = True


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
    larger_text: Localized
    not_found_title: Localized
    not_found_text: Localized
    back_home: Localized
    data_format: Localized
    data_meaning: Localized


class SiteFile(Record):
    """content/site.yaml"""

    languages: Annotated[list[Language], Meta(min_length=1)]
    title: Localized
    description: Localized
    theme: Localized
    source: Localized
    licence: Localized
    strings: Strings
    data_fields: Annotated[dict[str, Localized], Meta(description="The open data's fields and what they mean.")]
    base_url: str = ""


class TopicRecord(Record):
    """One entry of content/topics.yaml"""

    id: Slug
    label: Localized


class ActivityRecord(Record):
    number: Annotated[Number, Meta(description="The activity's number in the document, 1 = （一）.")]
    topics: Annotated[list[Slug], Meta(min_length=1, max_length=3, description="1–3 topic ids.")]
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


SCHEMAS = {
    "site.schema.json": SiteFile,
    "topics.schema.json": list[TopicRecord],
    "agency.schema.json": AgencyFile,
    "glossary.schema.json": list[GlossaryEntry],
}


def json_schema(kind) -> bytes:
    """The JSON Schema of one kind of content file, as committed in content/schema/."""
    schema = msgspec.json.schema(kind)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return msgspec.json.format(msgspec.json.encode(schema, order="sorted"), indent=2) + b"\n"


# --- What templates render ----------------------------------------------------------------

@dataclass
class Topic:
    id: str
    label: dict[str, str]


@dataclass
class Activity:
    number: int
    title: dict[str, str]
    text: dict[str, str]  # Markdown as written
    html: dict[str, str]  # the Markdown converted once, reused on every page that shows it
    topics: list[Topic]
    agency: Agency = field(repr=False)


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
    stamps: dict[str, tuple] = field(default_factory=dict)  # file → (mtime, size); serve's builds only

    @property
    def languages(self) -> list[Language]:
        return self.config.languages

    @property
    def activities(self) -> list[Activity]:
        return [activity for agency in self.agencies for activity in agency.activities]
