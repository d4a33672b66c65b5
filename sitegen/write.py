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
import posixpath
import shutil
import stat
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterable

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
    files[name_fingerprinted(names, logical, hashlib.sha256(data).hexdigest())] = data


def name_fingerprinted(names: dict[str, str], logical: str, fingerprint: str) -> str:
    """Name an asset with a fingerprint in its name, and return the name: the hash of its bytes, or
    of what it is made from when pages must link it before it is made (the search data)."""
    stem, dot, suffix = logical.rpartition(".")
    names[logical] = f"assets/{stem}.{fingerprint[:10]}{dot}{suffix}"
    return names[logical]


def fingerprint(data: bytes) -> str:
    """A file's fingerprint in the manifest."""
    return hashlib.sha256(data).hexdigest()[:16]


def manifest(files: dict[str, bytes]) -> bytes:
    """The manifest a built site carries: that sitegen wrote it, and the fingerprint of each file."""
    return manifest_of({path: fingerprint(data) for path, data in files.items()})


def manifest_of(listing: dict[str, str]) -> bytes:
    """The manifest for files already fingerprinted ({path: fingerprint})."""
    return json.dumps({"generator": "sitegen", "files": listing}, indent=0, sort_keys=True).encode("utf-8") + b"\n"


def _manifest(out: Path) -> dict:
    """The manifest of the site in `out`, read ({} when there is none, or it is damaged)."""
    try:
        data = json.loads((out / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def listing(out: Path) -> dict[str, str]:
    """The files the last build wrote into `out`, with their fingerprints ({} if it wrote none)."""
    files = _manifest(out).get("files")
    return files if isinstance(files, dict) else {}


def read_back(path: Path, expected: str, otherwise: Callable[[], bytes]) -> bytes:
    """A file of the site as the last build wrote it, if it still is (its fingerprint is the one
    that build recorded: nobody has changed it since), else what `otherwise` makes."""
    try:
        data = path.read_bytes()
    except OSError:
        return otherwise()
    return data if fingerprint(data) == expected else otherwise()


def written_by_us(out: Path) -> bool:
    """Whether a folder holds a site this generator wrote (its manifest is there)."""
    return _manifest(out).get("generator") == "sitegen"


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


class Writer:
    """Where a build puts its files, one by one as it makes them (`add`), remembering each file's
    fingerprint (`written`); `commit()` publishes them. Used as a context manager."""

    parallel = False  # whether forked processes may add files too (parallel.make_files)
    written: dict[str, str]  # path in site/: fingerprint, for the manifest

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        pass

    def add(self, relpath: str, data: bytes) -> None:
        raise NotImplementedError

    def add_all(self, files: Iterable[tuple[str, bytes]]) -> None:
        """Files as (path, bytes) pairs: a dict's items(), or a generator that makes them one by one."""
        for relpath, data in files:
            self.add(relpath, data)

    def commit(self) -> None:
        pass


class NewSite(Writer):
    """A whole site, written file by file as the build makes them, into a fresh folder beside
    `out`; commit() swaps it in place of `out`. Leaving the `with` block without a commit (a
    content error, Ctrl+C, SIGTERM) removes the folder, and `out` stays as it was.

    A file whose bytes are those of the same file in the last site is a hard link to it, not a
    new file: on some disks creating a file costs a millisecond (a new inode) and linking one a
    hundredth of that, and the file keeps its modification time, so web caches stay valid.

    Forked rendering processes (parallel.make_files) write into the same folder, each making the
    folders it needs (on a slow disk a millisecond each, so they are made in parallel too), and
    each reports what it wrote."""

    parallel = True

    def __init__(self, out: Path):
        self.out = out.absolute()
        self.written = {}
        self.folders = {""}
        self.last: dict[str, str] = {}  # the last site's files and fingerprints, to link unchanged ones
        self._cleanup = ExitStack()

    def __enter__(self) -> "NewSite":
        self.out.parent.mkdir(parents=True, exist_ok=True)
        with ExitStack() as cleanup:  # handed over to __exit__ once all is in place
            cleanup.enter_context(_lock(self.out.parent))
            remove_leftovers(self.out)
            self.folder = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.new-", dir=self.out.parent))
            cleanup.callback(shutil.rmtree, self.folder, ignore_errors=True)  # after the swap: the old site
            os.chmod(self.folder, 0o755)  # modes are set explicitly: a private umask (077) must not hide the site
            self.last = listing(self.out) if written_by_us(self.out) else {}
            self._cleanup = cleanup.pop_all()
        return self

    def __exit__(self, *exc_info) -> None:
        self._cleanup.close()

    def add(self, relpath: str, data: bytes) -> None:
        """One file of the site, readable by a web server running as another user."""
        self.make_folder(posixpath.dirname(relpath))
        mark = fingerprint(data)
        if self.last.get(relpath) != mark or not _link_if_same(self.out / relpath, self.folder / relpath, data):
            handle = os.open(self.folder / relpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.fchmod(handle, 0o644)
            with os.fdopen(handle, "wb") as target:
                target.write(data)
        self.written[relpath] = mark

    def make_folder(self, sub: str) -> None:
        """A folder of the site (and its parents), each made once: mkdir is slow on some disks."""
        if sub not in self.folders:
            self.make_folder(posixpath.dirname(sub))
            try:
                os.mkdir(self.folder / sub)
            except FileExistsError:  # another rendering process made it (the folder is ours alone)
                pass
            else:
                os.chmod(self.folder / sub, 0o755)
            self.folders.add(sub)

    def commit(self) -> None:
        """Add the manifest and put the new site in place of the old one."""
        (self.folder / MANIFEST).write_bytes(manifest_of(self.written))
        os.chmod(self.folder / MANIFEST, 0o644)
        _swap(self.folder, self.out)


def _link_if_same(previous: Path, new: Path, data: bytes) -> bool:
    """Hard-link `new` to the last site's file `previous` if that is a plain file, readable by all
    as the build leaves its files, holding exactly `data` (nobody has changed it since); False
    otherwise, or where the file system has no hard links."""
    try:
        handle = os.open(previous, os.O_RDONLY | os.O_NOFOLLOW)  # never a link to elsewhere
    except OSError:
        return False
    with os.fdopen(handle, "rb") as file:
        status = os.fstat(file.fileno())
        if not stat.S_ISREG(status.st_mode) or stat.S_IMODE(status.st_mode) != 0o644 or status.st_size != len(data):
            return False
        step = 1 << 20  # compared a megabyte at a time: a page can be 17 MB
        if len(data) <= step:
            if file.read() != data:
                return False
        elif any(file.read(step) != memoryview(data)[start:start + step] for start in range(0, len(data), step)):
            return False
        try:
            os.link(previous, new, follow_symlinks=False)
        except OSError:  # EXDEV, EPERM, or a file system without links: write it instead
            return False
    return True


class InMemory(Writer):
    """A site kept in memory (`files`) and written nowhere: a look at a build (tests)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.written = {}

    def add(self, relpath: str, data: bytes) -> None:
        self.files[relpath] = data
        self.written[relpath] = fingerprint(data)


class ChangedFiles(InMemory):
    """For serve: the site/ this process wrote last (`previous`: its manifest's fingerprints),
    updated in place on commit(), touching only the files that changed and removing what is gone.
    Nothing is written before commit(), so a build that fails half-way leaves site/ as it was."""

    def __init__(self, out: Path, previous: dict[str, str]):
        super().__init__()
        self.out, self.previous = out.absolute(), previous

    @classmethod
    def of(cls, out: Path, previous: dict[str, str]) -> "ChangedFiles | None":
        """The writer, or None when `out` is not as this process left it (another build wrote
        there since): the caller then writes the site anew."""
        current = (out / MANIFEST).read_bytes() if (out / MANIFEST).is_file() else None
        return cls(out, previous) if current == manifest_of(previous) else None

    def commit(self) -> None:
        for relpath in sorted(self.written):
            if self.previous.get(relpath) != self.written[relpath]:
                _replace(self.out / relpath, self.files[relpath])
        for relpath in sorted(set(self.previous) - set(self.written)):
            (self.out / relpath).unlink(missing_ok=True)
            _remove_empty_parents(self.out / relpath, self.out)
        _replace(self.out / MANIFEST, manifest_of(self.written))


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
