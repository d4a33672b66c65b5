"""What an editor sees when something is wrong: every message the generator can give, each with a
name (tests/test_errors.py holds one example of each), and the Problem that places it in a file
(file:line: field: message)."""
from __future__ import annotations

import os
from dataclasses import dataclass

# Content mistakes (exit status 1). {braces} are filled in by problem().
MESSAGES = {
    # Reading a file (load.py)
    "is_directory": "expected a YAML file but found a directory",
    "file_missing": "file is missing",
    "unreadable": "cannot be read: {reason}",
    "too_large": "is {size:,} bytes; a content file may be at most {limit:,} bytes (split it, or check that it "
                 "is the file you meant)",
    "symlink_outside": "is a link to {target}, outside the project; content, templates and assets must be "
                       "inside the project (copy the file in instead of linking to it)",
    "binary": "is not a text file (it contains binary data); expected UTF-8 YAML",
    "not_utf8": "is not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8",
    "invalid_yaml": "invalid YAML: {detail}",
    "aliases": "anchors and aliases (&name, *name) are not allowed in content; write the value out in full",
    "duplicate_key": "duplicate key '{key}': each key may appear once",
    "complex_key": "a key must be plain text (found {kind}); '? ' starts a complex key, which content does not use",
    "empty_file": "file is empty (or only comments)",
    # The shape of a file (validate.py, from the model)
    "required": "required field is missing",
    "unknown_field_close": "unknown field; did you mean '{close}'?",
    "unknown_field": "unknown field; expected one of: {known}",
    "empty_text": "must not be empty",
    "wrong_value": "{detail}",
    "expected_mapping": "expected a mapping with the fields {fields}",
    "control_character": "contains the control character U+{code:04X} at position {position}; delete it "
                         "(it is invisible in most editors)",
    "bidi_control": "contains the bidirectional control U+{code:04X} at position {position}, which can make "
                    "text display in a different order than it is stored; delete it",
    "remote_image": "shows an image from {host}; images must come from this site (or from a host listed "
                    "under allowed_image_hosts in site.yaml)",
    # Languages (site.yaml)
    "missing_language": "missing the '{code}' text (every text needs: {codes})",
    "unknown_language": "unknown language '{code}' ({hint})",
    "language_twice": "language code '{code}' is declared twice",
    "root_language_path": "the first language has an empty path (it is served at the root); every other "
                          "needs its own, e.g. en",
    "language_path_twice": "language path '{path}' is used twice",
    "language_path_reserved": "language path '{path}' is a folder the site already uses; avoid: {reserved}",
    "derived_source": "'{source}' is not a written language of this site; derive from one of: {codes}",
    "derived_first": "the first language is the original and cannot be derived; put a written language first",
    "converter_unknown": "unknown OpenCC configuration '{name}'; expected one of: {known}",
    "base_url": "{detail}",
    "unknown_script": "no fonts for the script '{script}'; fonts: lists {known}",
    "data_field_missing": "the open data field '{name}' has no description; add it (every field is described "
                          "for the data page and data/datapackage.json)",
    "data_field_unknown": "unknown open data field '{name}'; {hint}",
    "override_length": "'{target}' must have as many characters as '{source}' ({length}), so that it replaces "
                       "OpenCC's conversion in place",
    # Across files
    "topic_twice": "topic id '{id}' is used twice",
    "unknown_topic": "unknown topic '{topic}'; {hint}topics are listed in topics.yaml",
    "topic_listed_twice": "topic '{topic}' is listed twice",
    "agencies_missing": "folder is missing: expected one YAML file per agency, e.g. 01-market-regulation.yaml",
    "no_agencies": "no agency files found: expected files like 01-market-regulation.yaml",
    "agency_file_name": "agency file names look like NN-slug.yaml (e.g. 03-development-reform.yaml)",
    "file_number_mismatch": "the file name says agency {named} but the file says {number}; make them agree",
    "file_slug_mismatch": "the file name says slug '{named}' but the file says '{slug}'; make them agree",
    "agency_number_shared": "agency number {number} is used by {count} files",
    "agency_number_gap": "agency numbers must run 1, 2, 3… without gaps: expected {expected} here "
                         "(is agency {expected}'s file missing?)",
    "activity_number_shared": "activity number {number} is also used in {other}; numbers are unique across the site",
    "activity_number_gap": "expected activity number {expected}: activities are numbered 1, 2, 3… across all "
                           "agencies in document order, without gaps",
    "changelog_order": "changelog entries run newest first: {date} comes after {previous}",
    "activity_numbers_missing": "activity {missing} {verb} missing: numbers jump from {before} (the last in "
                                "{before_file}) to {after} (the first in {after_file}); was the end of "
                                "{before_file} cut off?",
    # Templates (render.py)
    "template_syntax": "{detail}",
    "template_error": "while rendering {page}: {detail}",
}

# Usage and environment mistakes (exit status 2): said by build.py, not placed in a content file.
USAGE = {
    "base_url": "--base-url {detail}",
    "port": "--port must be a whole number from 0 to 65535 (0 picks a free one), got {port!r}",
    "jobs": "--jobs must be a whole number from 1 to 256 (how many processes render pages), got {jobs!r}",
    "content_missing": "--content {path}: no such folder",
    "out_not_ours": "--out {path}: is not empty and was not written by build.py (it has no {manifest}); "
                    "refusing to replace it. Choose an empty or new folder, e.g. --out site/",
    "out_is_source": "--out {path}: would replace the project or its sources; choose a folder of its own, "
                     "e.g. site/",
    "out_is_file": "--out {path}: is a file; expected a folder",
    "cannot_listen": "cannot listen on 127.0.0.1:{port}: {reason}; choose another port with --port",
}


def usage(key: str, /, **values) -> str:
    """The named usage message with its blanks filled in."""
    return USAGE[key].format(**values)


def message(key: str, /, **values) -> str:
    """The named message with its blanks filled in."""
    return MESSAGES[key].format(**values)


@dataclass(frozen=True)
class Problem:
    """One mistake in one content file."""

    path: str
    message: str
    line: int | None = None
    field: str | None = None
    name: str = ""  # the key in MESSAGES, so tests can tell which message was given

    def __str__(self) -> str:
        where = display_path(self.path) + (f":{self.line}" if self.line else "")
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


def problem(where, key: str, /, line: int | None = None, field: str | None = None, **values) -> Problem:
    """A Problem in the file `where`, with the named message."""
    return Problem(str(where), message(key, **values), line, field, key)


HELD_BACK = "held_back"  # the name of the '… and N more problems' line, which comes last in its file


class ContentError(Exception):
    """The content cannot be built; holds every problem found in the run."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.path, p.name == HELD_BACK, p.line or 0, p.field or ""))
        super().__init__(self.report())

    def __reduce__(self):  # pickled by the rendering processes (parallel.make_files)
        return ContentError, (self.problems,)

    def report(self) -> str:
        count = len(self.problems)
        head = f"{count} content error{'s' if count != 1 else ''} (the site was not written):"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


class UsageError(Exception):
    """A mistake in how build.py was called, or in its surroundings (exit status 2)."""

    def __init__(self, name: str, **values):
        self.name = name
        super().__init__(usage(name, **values))


def internal_error(err: BaseException) -> str:
    """A bug in the generator, said in one line with where it happened (not a traceback)."""
    import traceback

    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "sitegen" in f.filename or f.filename.endswith("build.py")] or frames
    where = f" (at {display_path(ours[-1].filename)}:{ours[-1].lineno})" if ours else ""
    return (f"internal error, a bug in the generator: {type(err).__name__}: {err}{where}. "
            "Please report it with the command you ran.")


def display_path(path: str) -> str:
    """A path relative to the working directory when that is shorter, as editors typed it; a file name
    that is not valid UTF-8 is shown with replacement characters instead of failing."""
    path = os.fsencode(path).decode("utf-8", "replace")
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return rel if not rel.startswith("../../") else path
