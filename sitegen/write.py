"""Stage 4, write: fingerprinted assets, and the swap that replaces site/ only when a build
has fully succeeded, so a failed build leaves the last good site exactly as it was."""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


def fingerprinted_assets(assets: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """Asset files with a content hash in their names, so hosts can cache them forever.

    Returns {logical name: path in site/} and {path in site/: bytes}; licence files keep their names."""
    names: dict[str, str] = {}
    files: dict[str, bytes] = {}
    for path in sorted(p for p in assets.rglob("*") if p.is_file()):
        logical = path.relative_to(assets).as_posix()
        data = path.read_bytes()
        if path.suffix in (".css", ".js"):
            digest = hashlib.sha256(data).hexdigest()[:10]
            target = f"assets/{logical[: -len(path.suffix)]}.{digest}{path.suffix}"
        else:
            target = f"assets/{logical}"
        names[logical] = target
        files[target] = data
    return names, files


def add_fingerprinted(names: dict[str, str], files: dict[str, bytes], logical: str, data: bytes) -> None:
    """Add a generated asset (e.g. search data) under a content-hashed name."""
    stem, dot, suffix = logical.rpartition(".")
    target = f"assets/{stem}.{hashlib.sha256(data).hexdigest()[:10]}{dot}{suffix}"
    names[logical] = target
    files[target] = data


def write_site(files: dict[str, bytes], out: Path) -> None:
    """Write every file into a fresh folder beside `out`, then swap it in place of `out`."""
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    try:
        for folder in sorted({os.path.dirname(relpath) for relpath in files} - {""}):
            os.makedirs(staging / folder, exist_ok=True)  # each folder once: mkdir is slow on some disks
        for relpath in sorted(files):
            with open(staging / relpath, "wb") as handle:
                handle.write(files[relpath])
        os.chmod(staging, 0o755)  # mkdtemp makes it private; a site is for serving
        _swap(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(new: Path, out: Path) -> None:
    """Put `new` where `out` is. Two renames: the old site is moved aside, not deleted, until
    the new one is in place."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_changes(previous: dict[str, bytes], files: dict[str, bytes], out: Path) -> None:
    """For serve: update the site/ this process wrote last, touching only files that changed.
    The new build is complete in memory before anything is written."""
    if not out.is_dir():
        write_site(files, out)
        return
    for relpath in sorted(files):
        if previous.get(relpath) != files[relpath]:
            target = out / relpath
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(f".{target.name}.new")
            staged.write_bytes(files[relpath])
            os.replace(staged, target)  # a reader sees the old file or the new one, never half
    for relpath in sorted(set(previous) - set(files)):
        (out / relpath).unlink(missing_ok=True)


def replace_file(path: Path, data: bytes) -> None:
    """Write a cache file so that readers see the old or the new one, never a mix, even when two
    builds save at once (each writes its own temporary file). A cache that cannot be written
    only costs time, so errors are ignored."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(staged, path)
    except OSError:
        pass
