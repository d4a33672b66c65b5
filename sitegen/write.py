"""Stage 4, write: fingerprinted assets, and the swap that replaces site/ only when a build has fully
succeeded, so a failed or interrupted build leaves the last good site exactly as it was.

The output folder carries a manifest of what the build wrote (MANIFEST). It proves the folder is
ours: a folder without one is never replaced. On Linux the new site takes the old one's place in
one atomic exchange, so a reader never finds index.html missing."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from .errors import ContentError
from .load import links_out

MANIFEST = ".sitegen-manifest.json"
_SKIPPED = (".", "~")  # editors' swap and backup files in assets/


def fingerprinted_assets(assets: Path) -> tuple[dict[str, str], dict[str, bytes]]:
    """Asset files with a content hash in their names, so hosts can cache them forever.

    Returns {logical name: path in site/} and {path in site/: bytes}; other files (licences,
    icons, share images) keep their names. A link that leads out of assets/ is a content error."""
    names: dict[str, str] = {}
    files: dict[str, bytes] = {}
    if outside := links_out(assets):
        raise ContentError(outside)
    for path in sorted(assets.rglob("*")):
        if path.name.startswith(_SKIPPED[0]) or path.name.endswith(_SKIPPED[1]) or path.is_dir():
            continue
        logical = path.relative_to(assets).as_posix()
        data = path.read_bytes()
        if path.suffix in (".css", ".js"):
            add_fingerprinted(names, files, logical, data)
        else:
            names[logical] = f"assets/{logical}"
            files[f"assets/{logical}"] = data
    return names, files


def add_fingerprinted(names: dict[str, str], files: dict[str, bytes], logical: str, data: bytes) -> None:
    """Add an asset under a content-hashed name (e.g. css/site.3f2a….css)."""
    stem, dot, suffix = logical.rpartition(".")
    target = f"assets/{stem}.{hashlib.sha256(data).hexdigest()[:10]}{dot}{suffix}"
    names[logical] = target
    files[target] = data


def manifest(files: dict[str, bytes]) -> bytes:
    """The manifest a built site carries: that sitegen wrote it, and the fingerprint of each file."""
    listing = {path: hashlib.sha256(data).hexdigest()[:16] for path, data in sorted(files.items())}
    return json.dumps({"generator": "sitegen", "files": listing}, indent=0, sort_keys=True).encode("utf-8") + b"\n"


def written_by_us(out: Path) -> bool:
    """Whether a folder holds a site this generator wrote (its manifest is there)."""
    try:
        return json.loads((out / MANIFEST).read_bytes()).get("generator") == "sitegen"
    except (OSError, ValueError, AttributeError):
        return False


@contextmanager
def _lock(folder: Path):
    """Hold the folder that contains the site exclusively while a build writes beside it, so two
    builds (or serve and a build) never clean up each other's staging folder."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock


def remove_leftovers(out: Path) -> None:
    """Staging folders that an earlier build, killed mid-way, left beside `out`."""
    for stale in out.parent.glob(f".{out.name}.new-*"):
        shutil.rmtree(stale, ignore_errors=True)
    for stale in out.parent.glob(f".{out.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)


def write_site(files: dict[str, bytes], out: Path) -> None:
    """Write every file into a fresh folder beside `out`, then swap it in place of `out`."""
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out.parent):
        remove_leftovers(out)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
        try:
            _write_tree(staging, {**files, MANIFEST: manifest(files)})
            _swap(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # after the swap: the old site


def _write_tree(folder: Path, files: dict[str, bytes]) -> None:
    """Every file under `folder`, readable by a web server running as another user."""
    # Modes are set explicitly: a private umask (077) must not make the site unreadable.
    os.chmod(folder, 0o755)
    for sub in _folders(files):  # each folder once, parents first: mkdir is slow on some disks
        os.mkdir(folder / sub)
        os.chmod(folder / sub, 0o755)
    for relpath in sorted(files):
        handle = os.open(folder / relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as target:
            target.write(files[relpath])


def _folders(files: dict[str, bytes]) -> list[str]:
    """Every folder the files need, parents before children."""
    folders: set[str] = set()
    for relpath in files:
        parent = os.path.dirname(relpath)
        while parent and parent not in folders:
            folders.add(parent)
            parent = os.path.dirname(parent)
    return sorted(folders)


def _swap(new: Path, out: Path) -> None:
    """Put `new` where `out` is; afterwards `new` holds the old site (or nothing). One atomic
    exchange where the system has one (Linux), else two renames: the old site is moved aside,
    not deleted, until the new one is in place."""
    if not out.exists():
        new.rename(out)
        return
    if _exchange(new, out):
        return
    aside = new.with_name(new.name.replace(".new-", ".old-"))
    out.rename(aside)
    try:
        new.rename(out)
    except BaseException:
        aside.rename(out)
        raise
    aside.rename(new)


def _exchange(a: Path, b: Path) -> bool:
    """renameat2(RENAME_EXCHANGE): swap two folders atomically. False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):  # file system or kernel without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def write_changes(previous: dict[str, bytes], files: dict[str, bytes], out: Path) -> bool:
    """For serve: update the site/ this process wrote last, touching only files that changed, and
    removing what is gone (and folders left empty). Returns False, writing nothing, when `out` is
    not as this process left it (another build wrote there): the caller then writes it whole."""
    current = (out / MANIFEST).read_bytes() if (out / MANIFEST).is_file() else None
    if current != manifest(previous):
        return False
    for relpath in sorted(files):
        if previous.get(relpath) != files[relpath]:
            _replace(out / relpath, files[relpath])
    for relpath in sorted(set(previous) - set(files)):
        (out / relpath).unlink(missing_ok=True)
        _remove_empty_parents(out / relpath, out)
    _replace(out / MANIFEST, manifest(files))
    return True


def _replace(target: Path, data: bytes) -> None:
    """Write one file so that a reader sees the old one or the new one, never half."""
    _make_folders(target.parent)
    staged = target.with_name(f".{target.name}.new")
    staged.write_bytes(data)
    os.chmod(staged, 0o644)
    os.replace(staged, target)


def _make_folders(folder: Path) -> None:
    """The folder and any missing parents, readable by a web server whatever the umask: mkdir's
    mode is masked by it (0o700 under umask 077), chmod's is not."""
    if not folder.is_dir():
        _make_folders(folder.parent)
        folder.mkdir()
        os.chmod(folder, 0o755)


def _remove_empty_parents(path: Path, root: Path) -> None:
    folder = path.parent
    while folder != root and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
