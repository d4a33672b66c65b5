"""What builds keep between runs, in one place and under one rule: every entry is keyed by what it is
made from (a file's bytes, a Markdown text, a text and its converter), so an entry can never be
stale. A one-off build loads the stores from a folder (.cache/ by default) and saves them after a
good build; serve keeps the same stores in memory between its rebuilds. Deleting the folder is
always safe and only costs time."""
from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

import msgspec


def digest(data: bytes) -> str:
    """A short fingerprint of bytes (BLAKE2b, 128 bits): equal fingerprints mean equal bytes."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def installed_version(module: str, distribution: str) -> str:
    """An installed package's version, read from its dist-info folder's name: cheaper than importing
    the package or importlib.metadata, and enough to start its caches afresh when it changes."""
    spec = importlib.util.find_spec(module)
    prefix = distribution.replace("-", "_") + "-"
    if spec and spec.origin:
        for info in Path(spec.origin).parent.parent.glob(f"{prefix}*.dist-info"):
            return info.name[len(prefix):-len(".dist-info")]
    return "none"


def code_version() -> str:
    """What pages depend on besides their inputs: the generator's code, the libraries that render
    them, and Python. A page the last build wrote is reused only if this is unchanged too."""
    code = b"".join(path.read_bytes() for path in sorted(Path(__file__).parent.glob("*.py")))
    libraries = [installed_version(name, name) for name in ("jinja2", "markupsafe", "segno", "msgspec")]
    return digest(code + repr((libraries, sys.version)).encode("utf-8"))


class Store:
    """One kind of cached result. Entries the current build did not use are dropped when it saves,
    so a store holds what the latest content needs and no more."""

    def __init__(self, folder: Path | None, name: str):
        self.path = folder / f"{name}.msgpack" if folder else None
        self.entries: dict[str, Any] = {}
        if self.path:
            try:
                self.entries = msgspec.msgpack.decode(self.path.read_bytes(), type=dict[str, Any])
            except (OSError, msgspec.DecodeError, msgspec.ValidationError):
                self.entries = {}  # missing or damaged: start empty, it only costs time
        self.saved = dict(self.entries)
        self.used: set[str] = set()

    def get(self, key: str, make: Callable[[], Any]) -> Any:
        """The entry for `key`, made (and kept) if it is not there yet."""
        self.used.add(key)
        if key not in self.entries:
            self.entries[key] = make()
        return self.entries[key]

    def keep(self, key: str) -> None:
        """Keep an entry this build did not need, for a later one that will (if it is there)."""
        if key in self.entries:
            self.used.add(key)

    def save(self) -> None:
        """Keep the entries this build used; write them if anything changed."""
        self.entries = {key: value for key, value in self.entries.items() if key in self.used}
        self.used = set()
        if self.path and self.entries != self.saved:
            replace_file(self.path, msgspec.msgpack.encode(self.entries))
            self.saved = dict(self.entries)


class Cache:
    """The stores of a build: parsed content files (by their bytes), Markdown converted to HTML,
    texts converted to a derived script (by converter and text), QR codes (by address and
    style), what each agency file gives each language's pages (by what that is made from),
    rendered pages (in memory only, for serve: by everything the page is made from), and the
    pages one-off builds wrote (by everything they are made from: their path and fingerprint in
    site/)."""

    def __init__(self, folder: Path | None = None, versions: dict[str, str] | None = None):
        self.folder = folder
        self.tag = tag = "-".join(f"{k}{v}" for k, v in sorted((versions or {}).items()))  # a new library starts afresh
        self.parsed = Store(folder, "parsed")
        self.markdown = Store(folder, f"markdown-{tag}" if tag else "markdown")
        self.converted = Store(folder, f"converted-{tag}" if tag else "converted")
        self.qr = Store(folder, f"qr-{tag}" if tag else "qr")
        self.inputs = Store(folder, f"inputs-{tag}" if tag else "inputs")  # pages.LanguageInputs
        self.pages = Store(None, "pages")
        self.built = Store(folder, "built")  # one-off builds: page inputs → (path, fingerprint) written

    @property
    def templates(self) -> Path | None:
        """Where Jinja keeps compiled templates (it checks each template's source itself)."""
        return self.folder / "jinja" if self.folder else None

    def save(self) -> None:
        for store in (self.parsed, self.markdown, self.converted, self.qr, self.inputs, self.pages):
            store.save()

    def forget(self) -> None:
        """Let go of the entries held in memory by the stores save() writes (those on disk stay)."""
        for store in (self.parsed, self.markdown, self.converted, self.qr, self.inputs, self.pages):
            store.entries, store.saved = {}, {}


def replace_file(path: Path, data: bytes) -> None:
    """Write a cache file so that readers see the old or the new one, never a mix, even when two
    builds save at once (each writes its own temporary file). A cache that cannot be written
    only costs time, so errors are ignored."""
    import os
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staged, path)
    except OSError:
        pass
