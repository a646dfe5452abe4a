"""Every storage fault is one clear message before any trial runs; report never writes."""

import contextlib
import os
import shutil
import sqlite3
import subprocess

import pytest

from ax_ext.cli import main
from ax_ext.runner import get_problem
from ax_ext.runner.study import _create_or_resume


@contextlib.contextmanager
def read_only(path):
    """Make a file or folder read-only for this process, even as root (immutable flag)."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    done = chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode
    if not chattr or done != 0:
        pytest.skip("running as root, and chattr +i (to make a path read-only) is unavailable")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


def _study(path, trials=1):
    problem = get_problem("synthetic")
    client = _create_or_resume(problem, path, seed=0, num_sobol_trials=5, optimizer_kwargs=None)
    for index, params in client.get_next_trials(max_trials=trials).items():
        client.complete_trial(index, raw_data=problem.evaluate(params, 0))


def _error(capsys, argv):
    capsys.readouterr()  # what the test's own set-up printed
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1, err
    return err


def _tune(storage):
    return ["tune", "synthetic", "--trials", "3", "--no-progress", "--storage", str(storage)]


def test_a_read_only_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    with read_only(folder):
        err = _error(capsys, _tune(folder / "new.db"))
    assert "is read-only, so" in err and "cannot be created" in err
    assert not (folder / "new.db").exists()


def test_a_read_only_database_after_a_trial_ran(tmp_path, capsys):
    storage = tmp_path / "study.db"
    _study(storage)
    before = storage.read_bytes()
    with read_only(storage):
        err = _error(capsys, _tune(storage))
    assert "the SQLite file" in err and "is read-only, so no trial could be saved" in err
    assert storage.read_bytes() == before


def test_a_database_in_a_read_only_folder(tmp_path, capsys):
    folder = tmp_path / "ro"
    folder.mkdir()
    _study(folder / "study.db")
    with read_only(folder):
        err = _error(capsys, _tune(folder / "study.db"))
    assert "read-only; SQLite writes its journal next to" in err


@pytest.mark.parametrize("command", ["tune", "report"])
def test_a_text_file_named_db(tmp_path, capsys, command):
    storage = tmp_path / "x.db"
    storage.write_text("not a database\n")
    argv = _tune(storage) if command == "tune" else ["report", str(storage)]
    err = _error(capsys, argv)
    assert "to be an SQLite database, but the file starts with b'not a databa'" in err
    assert storage.read_text() == "not a database\n"


@pytest.mark.parametrize("command", ["tune", "report"])
def test_a_truncated_sqlite_file(tmp_path, capsys, command):
    storage = tmp_path / "x.db"
    _study(storage, trials=3)
    storage.write_bytes(storage.read_bytes()[:5000])
    before = storage.read_bytes()
    argv = _tune(storage) if command == "tune" else ["report", str(storage)]
    err = _error(capsys, argv)
    assert "damaged or not an SQLite database (for example truncated)" in err
    assert "Restore it from a backup" in err
    assert storage.read_bytes() == before


@pytest.mark.parametrize("command", ["tune", "report"])
def test_a_folder_named_db(tmp_path, capsys, command):
    storage = tmp_path / "x.db"
    storage.mkdir()
    argv = _tune(storage) if command == "tune" else ["report", str(storage)]
    err = _error(capsys, argv)
    assert "to be an SQLite file, but it is a folder" in err


def test_report_never_writes_into_an_empty_or_foreign_file(tmp_path, capsys):
    empty = tmp_path / "empty.db"
    empty.touch()
    err = _error(capsys, ["report", str(empty), "--out", str(tmp_path / "r.html")])
    assert "is an empty file (no study in it)" in err
    assert empty.stat().st_size == 0
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    before = foreign.read_bytes()
    err = _error(capsys, ["report", str(foreign), "--out", str(tmp_path / "r.html")])
    assert "holds no Ax experiment table" in err
    assert foreign.read_bytes() == before
    assert not (tmp_path / "r.html").exists()


def test_report_reads_a_read_only_study(tmp_path, capsys):
    storage = tmp_path / "study.db"
    _study(storage, trials=2)
    before = storage.read_bytes()
    with read_only(storage):
        code = main(["report", str(storage), "--out", str(tmp_path / "r.html"), "--fast-fit"])
    assert code == 0, capsys.readouterr().err
    assert storage.read_bytes() == before
    assert "best-trial" in (tmp_path / "r.html").read_text()


def test_an_unreachable_postgresql_server(capsys):
    err = _error(capsys, _tune("postgresql://nobody@127.0.0.1:9/none"))
    assert "its server could not be reached" in err
