"""Saving and loading an Ax ``Client`` that uses ax_ext's strategies.

Ax's own stores do the work (``Client.save_to_json_file`` / ``load_from_json_file``
and the SQL store through SQLAlchemy); these helpers pick the store from the path,
create the SQLite tables Ax expects, and run after ax_ext's classes are registered
(importing this module registers them). The fitted GP is not stored: after
loading, the next BO trial refits it from the experiment's data.
"""

from __future__ import annotations

from pathlib import Path

from ax.api.client import Client
from ax.api.configs import StorageConfig
from ax.exceptions.core import UserInputError

from ax_ext.extras import require

__all__ = ["load_client", "save_client", "sqlite_storage_config"]


def sqlite_storage_config(path: str | Path) -> StorageConfig:
    """A ``StorageConfig`` for an SQLite file, with Ax's tables created if missing.

    Pass it to ``Client(storage_config=...)`` to save every change as it happens,
    or to :func:`save_client` / :func:`load_client`.

    Args:
        path: The database file (created if it does not exist).

    Returns:
        An ``ax.api.configs.StorageConfig``.

    Raises:
        ImportError: Without SQLAlchemy or tabulate (``pip install 'ax-ext[sql]'``).
    """
    for module in ("sqlalchemy", "tabulate"):
        require(module, "sql", "Ax's SQL store (SQLite files)")
    from ax.storage.sqa_store.db import (
        create_all_tables,
        get_engine,
        init_engine_and_session_factory,
    )

    url = f"sqlite:///{Path(path).expanduser().resolve()}"
    init_engine_and_session_factory(url=url, force_init=True)
    create_all_tables(get_engine())
    return StorageConfig(url=url)


def save_client(client: Client, path: str | Path) -> None:
    """Save a client's experiment and generation strategy to ``.json`` or SQLite.

    Args:
        client: The ``ax.api.client.Client``.
        path: A ``*.json`` file (Ax's JSON store) or a ``*.db`` / ``*.sqlite`` file
            (Ax's SQL store on SQLite).
    """
    kind = _kind(path)
    if kind == "json":
        client.save_to_json_file(str(path))
        return
    sqlite_storage_config(path)  # checks for the 'sql' extra first
    from ax.storage.sqa_store.save import save_experiment, save_generation_strategy

    experiment = client._experiment
    if experiment is None:
        raise UserInputError("The client has no experiment to save; configure one first.")
    save_experiment(experiment)
    if client._generation_strategy is not None:
        save_generation_strategy(client._generation_strategy)


def load_client(path: str | Path, experiment_name: str | None = None) -> Client:
    """Load a client saved with :func:`save_client` (or by Ax's stores directly).

    Args:
        path: The ``*.json`` or SQLite file.
        experiment_name: For SQLite, the experiment to load; default the only one
            in the file.

    Returns:
        A ``Client`` whose strategy continues where the saved one stopped. For
        SQLite it keeps saving to the same file.
    """
    if _kind(path) == "json":
        return Client.load_from_json_file(str(path))
    config = sqlite_storage_config(path)
    if experiment_name is None:
        experiment_name = _only_experiment_name()
    return Client.load_from_database(experiment_name, storage_config=config)


def _only_experiment_name() -> str:
    from ax.storage.sqa_store.db import session_scope
    from ax.storage.sqa_store.sqa_classes import SQAExperiment

    with session_scope() as session:
        names = [row[0] for row in session.query(SQAExperiment.name).all()]
    if len(names) != 1:
        raise UserInputError(
            f"Expected exactly one experiment in the database to load, found {names!r}. "
            "Pass experiment_name."
        )
    return names[0]


def _kind(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".db", ".sqlite", ".sqlite3"):
        return "sqlite"
    raise UserInputError(
        f"Expected a path ending in .json (Ax's JSON store) or .db/.sqlite/.sqlite3 "
        f"(Ax's SQL store on SQLite), got {str(path)!r}."
    )
