"""Stage 1, load: read content files, safely and fast, and turn every way a file can be unreadable
into a Problem with its line. A file is parsed only when its bytes are new to the parse cache;
line numbers for a field are looked up only when an error needs one."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from .cache import Store, digest
from .errors import Problem, problem

FieldPath = tuple[str | int, ...]  # a field inside one file, e.g. ("activities", 0, "title", "en")
MAX_FILE_BYTES = 1 << 20  # the largest real file is 25 KB; a huge one is a mistake, refused before parsing


class ContentFileError(Exception):
    """A file that cannot be read as YAML; carries the Problem to report."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


@lru_cache(maxsize=None)
def _refused():
    """The error our loader raises: a ConstructorError that knows its message's name."""
    import yaml

    class Refused(yaml.constructor.ConstructorError):
        def __init__(self, key: str, text: str, mark):
            super().__init__(None, None, text, mark)
            self.key = key
    return Refused


def Refused(key: str, text: str, mark):  # noqa: N802 (made on first use, like PyYAML itself)
    return _refused()(key, text, mark)


@lru_cache(maxsize=None)
def _strict_loader():
    """libyaml's C parser with the checks PyYAML does not make: no duplicate keys (the second one
    would silently win), no aliases (shared nodes make YAML bombs and surprise editors), keys that
    are plain values, and dates kept as the text the editor wrote (the model reads them).
    Made on first use: a build whose files are all in the parse cache never imports PyYAML."""
    import yaml

    def refuse(message_key: str, mark, /, **values):
        from .errors import message
        raise Refused(message_key, message(message_key, **values), mark)

    class StrictLoader(yaml.CSafeLoader):
        def construct_object(self, node, deep=False):
            if node in self.constructed_objects and not deep:
                refuse("aliases", node.start_mark)
            return super().construct_object(node, deep)

        def construct_mapping(self, node, deep=False):
            seen: set = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    refuse("complex_key", key_node.start_mark,
                           kind="a list" if isinstance(key_node, yaml.SequenceNode) else "a mapping")
                if key_node.value in seen:
                    refuse("duplicate_key", key_node.start_mark, key=key_node.value)
                seen.add(key_node.value)
            return super().construct_mapping(node, deep)

    StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))
    return StrictLoader


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, links followed, is inside the folder `root` (itself resolved). A link that
    goes round in circles leads nowhere inside."""
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):
        return False


def links_out(folder: Path) -> list[Problem]:
    """Every file under a source folder (templates/, assets/) that is a link leading out of it:
    nothing outside the project is ever read or published."""
    root = folder.resolve()
    return [problem(path, "symlink_outside", target=path.resolve())
            for path in sorted(folder.rglob("*")) if path.is_symlink() and not inside(path, root)]


def read_bytes(path: Path, root: Path | None = None) -> bytes:
    """A source file's bytes, or a Problem: a folder, missing, unreadable, too large, or a link that
    leads out of `root` (nothing outside the project is ever read, let alone published)."""
    if path.is_dir():
        raise ContentFileError(problem(path, "is_directory"))
    if root is not None and path.is_symlink() and not inside(path, root):
        raise ContentFileError(problem(path, "symlink_outside", target=path.resolve()))
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ContentFileError(problem(path, "file_missing")) from None
    except OSError as err:
        raise ContentFileError(problem(path, "unreadable", reason=err.strerror)) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ContentFileError(problem(path, "too_large", size=path.stat().st_size, limit=MAX_FILE_BYTES))
    return raw


def decode(path: Path, raw: bytes) -> str:
    """The file's text, or a Problem saying why it is not a UTF-8 text file."""
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ContentFileError(problem(path, "binary", line))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ContentFileError(problem(path, "not_utf8", line, byte=raw[err.start])) from None


def parse_yaml(path: Path, text: str) -> Any:
    """Parse YAML text; a syntax error becomes a Problem with the line, and a hint for tabs."""
    import yaml

    try:
        data = yaml.load(text, Loader=_strict_loader())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else None
        if isinstance(err, _refused()):
            raise ContentFileError(Problem(str(path), err.problem, line, None, err.key)) from None
        detail = str(err.problem or err.context)
        if err.context and err.context_mark and err.problem:
            detail += f" ({err.context}, which started on line {err.context_mark.line + 1})"
        lines = text.splitlines()
        if line and line <= len(lines) and "\t" in lines[line - 1]:
            detail += " (this line contains a tab; indent with spaces)"
        raise ContentFileError(problem(path, "invalid_yaml", line, detail=detail)) from None
    except yaml.YAMLError as err:
        raise ContentFileError(problem(path, "invalid_yaml", detail=str(err))) from None
    except RecursionError:
        raise ContentFileError(problem(path, "invalid_yaml", detail="nested too deeply")) from None
    if data is None:
        raise ContentFileError(problem(path, "empty_file"))
    return data


def load_yaml(path: Path, root: Path | None = None, parsed: Store | None = None) -> tuple[str, Any]:
    """Read one content file: (the fingerprint of its bytes, its data). The data comes from the
    parse cache when these exact bytes were parsed before; it is never modified by later stages,
    so cached objects are shared, not copied."""
    raw = read_bytes(path, root)
    key = digest(raw)
    if parsed is None:
        return key, parse_yaml(path, decode(path, raw))
    return key, parsed.get(key, lambda: parse_yaml(path, decode(path, raw)))


@lru_cache(maxsize=8)
def _composed(path: Path, raw: bytes):
    """The file's YAML node tree, with positions: parsed once per version of the file however many
    of its fields have errors (a hostile file may have thousands)."""
    import yaml

    try:
        return yaml.compose(decode(path, raw), Loader=yaml.CSafeLoader)
    except (ContentFileError, yaml.YAMLError, RecursionError):
        return None


def line_of(path: Path, field: FieldPath) -> int | None:
    """The line of a field in a file (of its nearest existing parent when the field is missing)."""
    import yaml

    try:
        node = _composed(path, read_bytes(path))
    except ContentFileError:
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


def format_field(field: FieldPath) -> str:
    """A field path as editors read it: activities[0].title.en"""
    out = ""
    for step in field:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out
