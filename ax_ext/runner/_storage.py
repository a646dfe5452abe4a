"""Opening a study's storage (Ax's SQL store) with every fault a clear error.

:func:`open_storage` checks an SQLite path on disk before SQLite touches it (a
folder, a file that is not an SQLite database, a read-only file or folder, an
empty file where a study is expected), opens Ax's SQL store (SQLite, or any
SQLAlchemy URL such as ``postgresql://``), creates Ax's tables where it may
write (on PostgreSQL without the MySQL-only column lengths that Ax's own
``create_all_tables`` emits, https://github.com/facebook/Ax/issues/283), and
reads once, so a damaged database is reported before any trial runs. For
reading (``ax-ext report``) it opens the database read-only and never creates
anything. :func:`storage_error` turns any SQLAlchemy error into one
``UserInputError`` that says what was expected, what was found and what to do.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from ax.api.configs import StorageConfig
from ax.exceptions.core import UserInputError

logger = logging.getLogger(__name__)

SQLITE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
_SQLITE_HEADER = b"SQLite format 3\x00"
#: Seconds an SQLite connection waits for another process's write to finish.
SQLITE_BUSY_SECONDS = 60
#: PostgreSQL advisory lock key held while creating tables ("ax_ext" in ASCII).
_DDL_KEY = 0x61785F657874
_DRIVER_HINT = (
    "For PostgreSQL install the driver (pip install 'psycopg[binary]'); other databases "
    "need their SQLAlchemy driver."
)


def is_url(storage: str | Path) -> bool:
    """Whether ``storage`` is an SQLAlchemy URL (else an SQLite file path)."""
    return "://" in str(storage)


def display_storage(storage: str | Path) -> str:
    """The storage path, or its URL with any password replaced by ``***``."""
    text = str(storage)
    if not is_url(text):
        return text
    from sqlalchemy.engine import make_url

    try:
        return make_url(text).render_as_string(hide_password=True)
    except Exception:  # not parseable: show only the scheme
        return text.split("://", 1)[0] + "://..."


def check_storage_name(storage: str | Path) -> None:
    """Raise ``UserInputError`` for a path that is neither an SQLite file name nor a URL.

    Looks only at the name and the folder's existence; writes nothing.
    """
    text = str(storage)
    if is_url(text):
        return
    if Path(text).suffix.lower() not in SQLITE_SUFFIXES:
        raise UserInputError(
            f"Expected the storage to be an SQLite file ending in .db, .sqlite or .sqlite3, "
            f"or an SQLAlchemy URL such as postgresql://user@host/db, got {text!r}."
        )
    parent = Path(text).expanduser().resolve().parent
    if not parent.is_dir():
        raise UserInputError(
            f"Expected the storage file's folder to exist, got {text!r} (no folder "
            f"{str(parent)!r}). Create the folder or choose another path."
        )


def _check_sqlite_file(path: Path, text: str, read_only: bool) -> None:
    """Faults an SQLite file can have that SQLite itself reports badly or late."""
    if path.is_dir():
        raise UserInputError(
            f"Expected the storage {text!r} to be an SQLite file, but it is a folder. "
            "Pass a file path inside it (e.g. study.db) or another name."
        )
    if not path.exists():
        if read_only:
            raise UserInputError(
                f"Expected an existing study database (an SQLite file written by ax-ext "
                f"tune, or an SQLAlchemy URL), got {text!r}, which does not exist. Check "
                f"the path, or run `ax-ext tune PROBLEM --storage {text}` first."
            )
        if not os.access(path.parent, os.W_OK):
            raise UserInputError(
                f"Expected a folder where the storage file can be created, but "
                f"{str(path.parent)!r} is read-only, so {text!r} cannot be created. "
                "Choose a storage path in a writable folder."
            )
        return
    if not path.is_file():
        raise UserInputError(
            f"Expected the storage {text!r} to be an SQLite file, found something else "
            "(not a regular file). Choose another path."
        )
    with open(path, "rb") as f:
        header = f.read(len(_SQLITE_HEADER))
    if not header:
        if read_only:
            raise UserInputError(
                f"Expected a study database written by ax-ext tune, but {text!r} is an "
                "empty file (no study in it). Check the path, or run ax-ext tune first."
            )
    elif header != _SQLITE_HEADER:
        raise UserInputError(
            f"Expected the storage {text!r} to be an SQLite database, but the file starts "
            f"with {header[:12]!r}, not SQLite's header. Choose another path (a new file "
            "is created), or the database that ax-ext tune wrote."
        )
    if read_only:
        return
    if not os.access(path, os.W_OK):
        raise UserInputError(
            f"Expected a writable storage, but the SQLite file {text!r} is read-only, so no "
            "trial could be saved. Make it writable (chmod u+w), or copy it to a new "
            "storage and tune there; ax-ext report reads read-only files."
        )
    if not os.access(path.parent, os.W_OK):
        raise UserInputError(
            f"Expected a writable folder for the storage, but {str(path.parent)!r} is "
            f"read-only; SQLite writes its journal next to {text!r}, so no trial could be "
            "saved. Make the folder writable or move the database."
        )


def storage_url(storage: str | Path, read_only: bool = False) -> str:
    """The SQLAlchemy URL of a storage (read-only SQLite URLs open with ``mode=ro``)."""
    text = str(storage)
    if is_url(text):
        return text
    path = Path(text).expanduser().resolve()
    if read_only:
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    return f"sqlite:///{path}"


def _engine_kwargs(url: str, read_only: bool) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_SECONDS}}
    if read_only and url.startswith("postgresql"):
        return {"connect_args": {"options": "-c default_transaction_read_only=on"}}
    return {}


def create_tables(engine: Any) -> None:
    """Create Ax's SQL-store tables that are missing (and ours), for SQLite and PostgreSQL.

    Ax declares long text columns with MySQL lengths (``TEXT(4294967295)``,
    ``VARCHAR(4096)`` for a generation strategy's JSON, which ours exceeds);
    PostgreSQL rejects the first and enforces the second. On PostgreSQL the
    tables are created from a copy of Ax's metadata whose string columns are
    unbounded ``TEXT``, as SQLite stores them; Ax's ORM classes are unchanged.
    """
    import sqlalchemy as sa
    from ax.storage.sqa_store import sqa_classes  # noqa: F401  (defines the tables)
    from ax.storage.sqa_store.db import Base, create_all_tables

    from ax_ext.runner._coordination import METADATA

    if engine.dialect.name == "postgresql":
        metadata = sa.MetaData()
        for table in Base.metadata.sorted_tables:
            copy = table.to_metadata(metadata)
            for column in copy.columns:
                impl = getattr(column.type, "impl", column.type)
                if isinstance(impl, sa.String) and impl.length:
                    column.type = sa.Text()
        # one process at a time: concurrent CREATE TABLEs of one name collide
        with engine.begin() as connection:
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _DDL_KEY})
            metadata.create_all(connection)
            METADATA.create_all(connection)
    elif engine.dialect.name == "sqlite":
        from filelock import FileLock

        with FileLock(f"{engine.url.database}.lock"):  # the study lock's file
            create_all_tables(engine)
            METADATA.create_all(engine)
    else:
        create_all_tables(engine)
        METADATA.create_all(engine)


def open_storage(storage: str | Path, *, read_only: bool = False) -> StorageConfig:
    """Check a storage and point Ax's SQL store at it.

    Args:
        storage: An SQLite file (``.db``/``.sqlite``/``.sqlite3``) or an SQLAlchemy URL.
        read_only: Open for reading only (SQLite ``mode=ro``, PostgreSQL read-only
            transactions); nothing is created, and the storage must hold Ax's tables.

    Returns:
        The ``StorageConfig`` for Ax's ``Client``.

    Raises:
        UserInputError: For every fault found, with what was expected, what was
            found and what to do.
    """
    check_storage_name(storage)
    text = str(storage)
    if not is_url(text):
        _check_sqlite_file(Path(text).expanduser().resolve(), text, read_only)
    url = storage_url(storage, read_only)
    try:
        import sqlalchemy as sa
        from ax.storage.sqa_store.db import get_engine, init_engine_and_session_factory

        init_engine_and_session_factory(url=url, force_init=True, **_engine_kwargs(url, read_only))
        engine = get_engine()
        if read_only:
            if not sa.inspect(engine).has_table("experiment_v2"):
                raise UserInputError(
                    f"Expected a study database written by ax-ext tune, but "
                    f"{display_storage(text)!r} holds no Ax experiment table (experiment_v2). "
                    "Check the path or URL, or run ax-ext tune first."
                )
        else:
            create_tables(engine)
        with engine.connect() as connection:  # a damaged file fails here, not mid-study
            connection.execute(sa.text("SELECT count(*) FROM experiment_v2")).scalar()
    except UserInputError:
        raise
    except Exception as e:
        raise storage_error(text, e, "open") from e
    return StorageConfig(url=url)


def experiment_names() -> list[str]:
    """The names of the experiments in the storage :func:`open_storage` opened."""
    from ax.storage.sqa_store.db import session_scope
    from ax.storage.sqa_store.sqa_classes import SQAExperiment

    with session_scope() as session:
        return [row[0] for row in session.query(SQAExperiment.name).all()]


def _found(storage: str, message: str) -> tuple[str, str]:
    """What was found and what to do, from an error message and the file system."""
    lower = message.lower()
    path = None if is_url(storage) else Path(storage).expanduser().resolve()
    if "readonly database" in lower or "read-only transaction" in lower:
        return "it is read-only", "Make it (and its folder) writable, or use another storage."
    if "unable to open database file" in lower:
        where = f"folder {str(path.parent)!r}" if path is not None else "the database"
        return (
            f"SQLite cannot open or create files in the {where}",
            "Check that the folder exists and is writable.",
        )
    if "file is not a database" in lower or "malformed" in lower:
        return (
            "the file is damaged or not an SQLite database (for example truncated)",
            "Restore it from a backup, or use a new storage.",
        )
    if "disk is full" in lower or "disk i/o error" in lower:
        return "the disk failed or is full", "Free space or use another disk."
    if "locked" in lower:
        return (
            f"it stayed locked by another process for over {SQLITE_BUSY_SECONDS} s",
            "Check for a stuck process using it.",
        )
    if "could not connect" in lower or "connection refused" in lower or "timeout" in lower:
        return "its server could not be reached", "Check the host, port and that it is running."
    if "authentication failed" in lower or "password" in lower:
        return "the server refused the login", "Check the user name and password in the URL."
    if "no module named" in lower or "can't load plugin" in lower:
        return (
            "it is not an SQLAlchemy URL Ax's SQL store can use (e.g. sqlite:///study.db or "
            "postgresql://user@host/db), or its database driver is not installed",
            _DRIVER_HINT,
        )
    first = message.strip().splitlines()[0] if message.strip() else ""
    return first[:200], "Check the storage, or use a new one."


def storage_error(storage: str | Path, error: BaseException, doing: str) -> UserInputError:
    """A ``UserInputError`` for an error raised while using a storage.

    Args:
        storage: The storage path or URL as the user gave it.
        error: The exception (an SQLAlchemy or driver error, typically).
        doing: What was being done, e.g. ``"open"``, ``"save trial 3 to"``.
    """
    text = display_storage(storage)
    orig = getattr(error, "orig", None) or error
    found, todo = _found(str(storage), f"{type(orig).__name__}: {orig}")
    return UserInputError(
        f"Could not {doing} the storage {text!r}: expected a database Ax's SQL store can "
        f"read and write, but {found} ({type(orig).__name__}: "
        f"{str(orig).strip().splitlines()[0][:160] if str(orig).strip() else ''}). {todo}"
    )
