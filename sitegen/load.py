"""Stage 1, load: read content files as YAML, fast, and turn every way a file can be unreadable
into a Problem with its line. Line numbers for a field are looked up only when an error needs one."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from .errors import Problem

Path_ = tuple[str | int, ...]  # a field path inside one file, e.g. ("activities", 0, "title", "en")


class ContentFileError(Exception):
    """A file that cannot be read as YAML; carries the Problem to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@lru_cache(maxsize=None)
def _strict_loader():
    """libyaml's C parser with two checks PyYAML does not make: no duplicate keys (the second one
    would silently win) and no aliases (shared nodes make YAML bombs and surprise editors).
    Made on first use: a build whose files are all in the parse cache never imports PyYAML."""
    import yaml

    class StrictLoader(yaml.CSafeLoader):
        def construct_object(self, node, deep=False):
            if node in self.constructed_objects and not deep:
                raise yaml.constructor.ConstructorError(
                    None, None, "anchors and aliases (&name, *name) are not allowed in content; "
                    "write the value out in full", node.start_mark)
            return super().construct_object(node, deep)

        def construct_mapping(self, node, deep=False):
            seen: set = set()
            for key_node, _ in node.value:
                key = key_node.value
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key '{key}': each key may appear once", key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    return StrictLoader


def read_text(path: Path) -> str:
    """The file's text, or a Problem saying why it is not a UTF-8 text file."""
    if path.is_dir():
        raise ContentFileError(Problem(str(path), "expected a YAML file but found a directory"))
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ContentFileError(Problem(str(path), "file is missing")) from None
    except OSError as err:
        raise ContentFileError(Problem(str(path), f"cannot be read: {err.strerror}")) from None
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ContentFileError(Problem(str(path), "is not a text file (it contains binary data); "
                                       "expected UTF-8 YAML", line))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ContentFileError(Problem(
            str(path), f"is not valid UTF-8 (byte 0x{raw[err.start]:02x}); save the file as UTF-8", line)) from None


def parse_yaml(path: Path, text: str) -> Any:
    """Parse YAML text; a syntax error becomes a Problem with the line, and a hint for tabs."""
    import yaml

    try:
        data = yaml.load(text, Loader=_strict_loader())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        message = f"invalid YAML: {err.problem or err.context}"
        if err.context and err.context_mark and err.problem:
            message += f" ({err.context}, which started on line {err.context_mark.line + 1})"
        lines = text.splitlines()
        if line and line <= len(lines) and "\t" in lines[line - 1]:
            message += " (this line contains a tab; indent with spaces)"
        raise ContentFileError(Problem(str(path), message, line)) from None
    except yaml.YAMLError as err:
        raise ContentFileError(Problem(str(path), f"invalid YAML: {err}")) from None
    if data is None:
        raise ContentFileError(Problem(str(path), "file is empty (or only comments)"))
    return data


def load_yaml(path: Path) -> Any:
    """Read and parse one content file."""
    return parse_yaml(path, read_text(path))


def line_of(path: Path, field: Path_) -> int | None:
    """The line of a field in a file (of its nearest existing parent when the field is missing).

    Parses the file again with node positions: slower, so done only for a file with an error."""
    import yaml

    try:
        node = yaml.compose(read_text(path), Loader=yaml.CSafeLoader)
    except (ContentFileError, yaml.YAMLError):
        return None
    line = node.start_mark.line + 1 if node else None
    for step in field:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == step), None)
            if match is None:
                return line
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            node = node.value[step]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def format_field(field: Path_) -> str:
    """A field path as editors read it: activities[0].title.en"""
    out = ""
    for step in field:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


class ParseCache:
    """Parsed content files kept on disk between builds (in .cache/), each with its file's mtime
    and size: an unchanged file is not parsed again. Saved only after a build whose content was
    valid, so it holds nothing but the plain texts, numbers, lists and mappings of the model."""

    def __init__(self, path: Path):
        self.path = path
        try:
            saved = msgspec.msgpack.decode(path.read_bytes(), type=dict[str, tuple[tuple[int, int], Any]])
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            saved = {}
        self.entries: dict[str, tuple[tuple[int, int], Any]] = saved
        self._saved = dict(saved)

    def save(self, used: set[str]) -> None:
        """Keep the entries of the files this build used; write only if something changed."""
        current = {name: entry for name, entry in self.entries.items() if name in used}
        if current == self._saved:
            return
        from .write import replace_file

        replace_file(self.path, msgspec.msgpack.encode(current))
