"""Several ``ax-ext tune`` processes on one study: a per-study lock and heartbeats.

* :class:`StudyLock` is the critical section around "load the study, generate
  trials, save them": an exclusive lock on ``STORAGE.lock`` beside an SQLite file
  (``fcntl`` via the ``filelock`` package: processes on one machine), or a
  PostgreSQL session-level advisory lock (``pg_advisory_lock``: processes on any
  machines). Both are released by the operating system or the server when their
  process dies, so a killed process never leaves the study locked.
* :class:`Heartbeat` keeps one row per running process in the table
  ``ax_ext_process`` (owner id, host, pid, and the time of its last beat by the
  database's clock, so machines' clocks need not agree) and updates it from a
  daemon thread. Every trial a process creates names it in
  ``trial.run_metadata["ax_ext_owner"]``.
* :func:`dead_owners` decides which owners have stopped: no row, or no beat for
  ``timeout`` seconds, or (on this machine, seen at once) no live process with
  that pid and start time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

logger = logging.getLogger(__name__)

#: Key of a trial's run metadata naming the process that runs it.
OWNER_KEY = "ax_ext_owner"
#: The failure reason of a running trial whose process stopped (no heartbeat).
PROCESS_STOPPED = "its process stopped"
#: Default seconds without a heartbeat after which a process counts as stopped.
DEFAULT_HEARTBEAT_TIMEOUT = 60.0

METADATA = sa.MetaData()
PROCESSES = sa.Table(
    "ax_ext_process",
    METADATA,
    sa.Column("owner", sa.String(100), primary_key=True),
    sa.Column("experiment", sa.String(255), nullable=False, index=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("started", sa.Float, nullable=False),
    sa.Column("beat", sa.Float, nullable=False),
)


def _host_id() -> str:
    """This machine: host name and boot id (two machines may share a host name)."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return f"{socket.gethostname()}/{boot}"[:255]


HOST = _host_id()


def _process_started(pid: int) -> float | None:
    import psutil

    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def coordination_engine(url: str) -> sa.Engine:
    """An engine of its own (no pool: closing a connection ends its session and locks)."""
    kwargs: dict[str, Any] = {"poolclass": sa.pool.NullPool}
    if url.startswith("sqlite"):
        from ax_ext.runner._storage import SQLITE_BUSY_SECONDS

        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
    return sa.create_engine(url, **kwargs)


def db_now(connection: sa.Connection) -> float:
    """The database's clock in seconds since the epoch (this machine's for other dialects)."""
    name = connection.dialect.name
    if name == "sqlite":
        query = "SELECT (julianday('now') - 2440587.5) * 86400.0"
    elif name == "postgresql":
        query = "SELECT extract(epoch from clock_timestamp())"
    else:
        return time.time()
    return float(connection.execute(sa.text(query)).scalar())


class StudyLock:
    """The per-study critical section (see the module docstring).

    Args:
        engine: The coordination engine (:func:`coordination_engine`).
        experiment: The experiment name (the lock is per study).
        poll: Seconds between tries while another process holds the lock.
    """

    def __init__(self, engine: sa.Engine, experiment: str, poll: float = 0.2) -> None:
        self.engine, self.experiment, self.poll = engine, experiment, poll
        self.dialect = engine.dialect.name
        self._file_lock = None
        self._connection: sa.Connection | None = None
        digest = hashlib.sha256(experiment.encode()).digest()
        self._key = int.from_bytes(digest[:8], "big", signed=True)
        if self.dialect == "sqlite":
            from filelock import FileLock

            self._file_lock = FileLock(f"{engine.url.database}.lock")
        elif self.dialect != "postgresql":
            logger.warning(
                "No cross-process lock for %s storages: run one ax-ext tune process per "
                "study there (SQLite and PostgreSQL storages take several).",
                self.dialect,
            )

    def acquire(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait for the lock; ``False`` if ``should_stop()`` became true first."""
        if self._file_lock is not None:
            from filelock import Timeout

            while True:
                try:
                    self._file_lock.acquire(timeout=self.poll)
                    return True
                except Timeout:
                    if should_stop():
                        return False
        if self.dialect == "postgresql":
            self._connection = self.engine.connect()
            query = sa.text("SELECT pg_try_advisory_lock(:key)")
            while not self._connection.execute(query, {"key": self._key}).scalar():
                self._connection.rollback()
                if should_stop():
                    self._connection.close()
                    self._connection = None
                    return False
                time.sleep(self.poll)
            self._connection.commit()
        return True

    def release(self) -> None:
        if self._file_lock is not None:
            self._file_lock.release()
        elif self._connection is not None:
            try:
                self._connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                )
                self._connection.commit()
            finally:  # closing the session releases the lock in any case
                self._connection.close()
                self._connection = None


class Heartbeat:
    """This process's row in ``ax_ext_process``, beaten from a daemon thread.

    Args:
        engine: The coordination engine.
        experiment: The experiment name.
        timeout: Seconds without a beat after which other processes take this one
            for stopped; it beats every ``timeout / 4`` seconds (at most 15 s).
    """

    def __init__(self, engine: sa.Engine, experiment: str, timeout: float) -> None:
        self.engine, self.experiment, self.timeout = engine, experiment, timeout
        self.interval = max(0.2, min(timeout / 4.0, 15.0))
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:100]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned = False

    def _row(self, connection: sa.Connection) -> dict[str, Any]:
        return {
            "owner": self.owner,
            "experiment": self.experiment,
            "host": HOST,
            "pid": os.getpid(),
            "started": _process_started(os.getpid()) or 0.0,
            "beat": db_now(connection),
        }

    def start(self) -> None:
        """Register this process (the first write to the storage) and start beating."""
        with self.engine.begin() as connection:
            connection.execute(PROCESSES.insert().values(**self._row(connection)))
        self._thread = threading.Thread(target=self._run, name="ax_ext-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        with self.engine.begin() as connection:
            done = connection.execute(
                PROCESSES.update()
                .where(PROCESSES.c.owner == self.owner)
                .values(beat=db_now(connection))
            )
            if done.rowcount == 0:  # another process took this one for stopped
                logger.warning(
                    "Another process took this one (%s) for stopped; registering again.",
                    self.owner,
                )
                connection.execute(PROCESSES.insert().values(**self._row(connection)))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.beat()
                self._warned = False
            except Exception as e:  # the storage is briefly unreachable: try again
                if not self._warned:
                    logger.warning("Could not write this process's heartbeat: %s", e)
                    self._warned = True

    def stop(self) -> None:
        """Stop beating and remove this process's row."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            with self.engine.begin() as connection:
                connection.execute(PROCESSES.delete().where(PROCESSES.c.owner == self.owner))
        except Exception as e:  # the row is harmless: it goes stale
            logger.warning("Could not remove this process's heartbeat row: %s", e)


def dead_owners(engine: sa.Engine, owners: set[str], timeout: float) -> set[str]:
    """The owners among ``owners`` whose processes have stopped (see the module docstring)."""
    if not owners:
        return set()
    with engine.begin() as connection:
        now = db_now(connection)
        rows = connection.execute(
            sa.select(PROCESSES).where(PROCESSES.c.owner.in_(sorted(owners)))
        ).all()
        found = {row.owner: row for row in rows}
        dead = set()
        for owner in owners:
            row = found.get(owner)
            if row is None or now - row.beat > timeout:
                dead.add(owner)
            elif row.host == HOST:  # on this machine a stopped process is seen at once
                started = _process_started(row.pid)
                if started is None or abs(started - row.started) > 1.0:
                    dead.add(owner)
        stale = [o for o in dead if o in found]
        if stale:
            connection.execute(PROCESSES.delete().where(PROCESSES.c.owner.in_(stale)))
    return dead
