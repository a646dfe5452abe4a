"""A throwaway PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` in a temporary folder.

Debian's ``postgresql`` package (installed by ``scripts/test.sh`` where it runs as
root with apt-get) provides the programs under ``/usr/lib/postgresql/VERSION/bin``.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
user (or ``nobody``). It listens on 127.0.0.1 on a free port with ``trust``
authentication and no fsync; :func:`start` returns its URL and a stop function.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path


def _bindir() -> Path | None:
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def why_not() -> str | None:
    """Why a server cannot be started here, or ``None`` if it can."""
    if _bindir() is None:
        return (
            "PostgreSQL is not installed (no initdb/pg_ctl; scripts/test.sh installs "
            "Debian's postgresql package when it runs as root with apt-get)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "the psycopg driver is not installed (it is in ax_ext's test extra)"
    return None


def start() -> tuple[str, Callable[[], None]]:
    """Start a server; its ``postgresql://`` URL and a function that stops it."""
    bindir = _bindir()
    folder = Path(tempfile.mkdtemp(prefix="ax_ext_pg_"))
    user = None
    if os.geteuid() == 0:
        user = "postgres"
        try:
            pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    data, port = folder / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, timeout=120, user=user)

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    options = (
        f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c full_page_writes=off -c synchronous_commit=off"
    )
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "start",
    )

    def stop() -> None:
        try:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return f"postgresql://postgres@127.0.0.1:{port}/postgres", stop


def new_database(server_url: str, name: str) -> str:
    """Create an empty database on the server; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"
