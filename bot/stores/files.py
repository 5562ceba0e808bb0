"""Private files: the embedded databases and the runtime folder, readable by our user only.

The SQLite files hold policy numbers, consents and transcripts; anyone else on the host must not
read them. SQLite creates its ``-wal`` and ``-shm`` files with the database file's own mode, so a
database file made 0600 before SQLite first opens it keeps all three private, whatever the
process umask (a process started outside the launcher, ``rasa shell``). The launcher and the
action server also set :data:`PRIVATE_UMASK`, which covers every other file they and their
children write (``processes.json``, logs under ``var/``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def restrict_umask() -> None:
    """Files this process (and its children) create from now on: owner only."""
    os.umask(PRIVATE_UMASK)


def private_folder(path: Path) -> Path:
    """Make ``path`` (and missing parents) and keep it 0700: the product's runtime folder."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    _tighten(path, FOLDER_MODE)
    return path


def sqlite_path(url: str) -> Path | None:
    """The file behind a SQLAlchemy SQLite URL (``None``: not SQLite, or in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def private_sqlite(url: str) -> None:
    """Before SQLite opens it: the database file exists 0600 (its folder made 0700 if missing).

    An existing file (and its companions) made by an earlier release with the default 0644 is
    tightened too. A folder that already exists is left alone: it may be anyone's (``/tmp``);
    the launcher tightens the runtime folder itself (:func:`private_folder`)."""
    path = sqlite_path(url)
    if path is None:
        return
    path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
    for suffix in SQLITE_COMPANIONS:
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            _tighten(companion, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    """Drop group and other bits; a file we do not own is reported, not fatal."""
    try:
        current = path.stat().st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)
    except PermissionError:
        logger.warning("cannot make %s private (owned by another user)", path)
