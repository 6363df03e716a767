"""The files of an embedded store: its own, and those SQLite keeps beside it (`x-wal`,
`x-shm`, `x-journal` of `x`), which it takes for that store's own log and resets or removes
as it opens `x`. A store named as one of them is lost to the store beside it."""

from __future__ import annotations

import errno
import os
from contextlib import suppress
from pathlib import Path

from graph.errors import BadRequest

WAL, SHM, JOURNAL = "-wal", "-shm", "-journal"
SIDE_FILES = (WAL, SHM, JOURNAL)
HEADER = b"SQLite format 3\x00"  # a database's first bytes; never a log's or an index's
# A store holds password hashes, session tokens and partners' keys: its owner's alone. SQLite
# gives the files it keeps beside a store the store's own mode.
OWNER_ONLY = 0o600


NO_SUCH_FILE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.ENAMETOOLONG})


def holds_database(path: Path) -> bool:
    """Whether `path` is a SQLite database: False where there is no file (or an empty one, where
    a new store is made, or a name too long for one); BadRequest where it cannot be read,
    rather than take it for none."""
    try:
        with path.open("rb") as file:
            return file.read(len(HEADER)) == HEADER
    except OSError as error:
        if error.errno in NO_SUCH_FILE:
            return False
        raise BadRequest(f"cannot read {path}: {error.strerror or error}") from None


def make_private(path: Path) -> int:
    """Make the file `path` for a new store, readable and writable by its owner alone whatever
    the umask, and return it open for writing; FileExistsError if there is one."""
    made = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        os.fchmod(made, OWNER_ONLY)  # a umask that takes the owner's own bits away gives them back
    except BaseException:
        os.close(made)
        raise
    return made


def make_store_file(path: Path) -> None:
    """Make the file of a new store at `path` as `make_private` does; leave one that is there,
    with the mode it was given. A file that cannot be made is left for SQLite to say so."""
    # There already (a folder too), or not to be made here: SQLite then says which.
    with suppress(OSError):
        os.close(make_private(path))


def store_files(path: Path) -> tuple[Path, Path, Path]:
    """The file of a store and the two SQLite keeps beside it in WAL mode."""
    return path, path.with_name(path.name + WAL), path.with_name(path.name + SHM)


def side_of(path: Path) -> Path | None:
    """Return the file `path` would be a side file of (`x` for `x-wal`), or None."""
    for side in SIDE_FILES:
        stem = path.name.removesuffix(side)
        if stem != path.name and stem:
            return path.with_name(stem)
    return None


def check_no_store_beside(path: Path) -> None:
    """Raise BadRequest when a store is named as a file SQLite keeps beside `path`: opening
    `path` would take it for its own log, and reset or remove it."""
    for side in SIDE_FILES if path.name else ():
        own = path.with_name(path.name + side)
        try:
            beside = holds_database(own)
        except BadRequest:  # another's: SQLite reads what it must of it, or says so itself
            continue
        if beside:
            raise BadRequest(
                f"{own} is a store, named as a file SQLite keeps beside {path}: opening {path} "
                "would take it for its own and remove it; give it a name of its own first"
            )
