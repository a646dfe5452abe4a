"""Quieting Ax's logs for a block of code (a notebook cell, a script's loop).

Ax sets an explicit level (INFO) on each of its loggers (``ax.api.client``,
``ax.generation_strategy...``) and prints through a handler on the ``ax`` logger,
which does not propagate to Python's root logger. So
``logging.getLogger("ax").setLevel(logging.WARNING)`` silences nothing: the
child loggers keep their own INFO level and the handler prints what they pass.
:func:`quiet_ax` raises the level of every ``ax`` logger *and* of the handlers
on them for the duration of a ``with`` block, and restores all of them after.
Nothing changes on import.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_ax"]


@contextmanager
def quiet_ax(level: int = logging.WARNING) -> Iterator[None]:
    """Within the block, Ax logs only records of at least ``level``.

    Args:
        level: The lowest level still shown (default ``logging.WARNING``: Ax's
            per-trial INFO lines are hidden, its warnings and errors are not).

    Example:
        >>> import logging
        >>> from ax_ext.generation import quiet_ax
        >>> client_logger = logging.getLogger("ax.api.client")
        >>> before = client_logger.level
        >>> with quiet_ax():
        ...     client_logger.isEnabledFor(logging.INFO)
        False
        >>> client_logger.level == before
        True
    """
    loggers = [logging.getLogger("ax")] + [
        logger
        for name, logger in logging.Logger.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.startswith("ax.")
    ]
    saved_levels = [(logger, logger.level) for logger in loggers]
    handlers = {id(h): h for logger in loggers for h in logger.handlers}.values()
    saved_handlers = [(handler, handler.level) for handler in handlers]
    try:
        for logger, old in saved_levels:
            logger.setLevel(max(old, level))
        for handler, old in saved_handlers:
            handler.setLevel(max(old, level))
        yield
    finally:
        for logger, old in saved_levels:
            logger.setLevel(old)
        for handler, old in saved_handlers:
            handler.setLevel(old)
