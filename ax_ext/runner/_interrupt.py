"""Ctrl-C (SIGINT) and SIGTERM during a study: stop cleanly on the first, at once on the second.

While :class:`Interrupt` is entered (in the main thread; elsewhere it does
nothing), the first SIGINT or SIGTERM only sets :attr:`Interrupt.signum`: the
study loop sees it, stops launching trials, saves the results already
received, marks the running trials interrupted and returns. Only while a trial
is being generated (inside :meth:`Interrupt.generating`, which holds no
database write) does the signal raise ``KeyboardInterrupt``, so a long model
fit does not delay the stop. A second signal ends the process at once
(``os._exit``), like Python's default.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupt:
    """A context manager that catches SIGINT and SIGTERM for a study.

    Args:
        on_stop: Called (in the main thread) on the first signal, e.g. to
            quiet Dask while workers that got the same signal die.
    """

    def __init__(self, on_stop: Callable[[], Any] | None = None) -> None:
        self.on_stop = on_stop
        self.signum: int | None = None
        self._generating = False
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        """The shell's exit code for the signal received (130 for SIGINT)."""
        return 128 + (self.signum or signal.SIGINT)

    def __enter__(self) -> Interrupt:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:
            sys.stderr.write(
                "\nax-ext: stopped at once; trials left running are marked failed "
                "('its process stopped') by the next run on this storage.\n"
            )
            sys.stderr.flush()
            os._exit(128 + signum)
        self.signum = signum
        self.stopping()
        if self._generating:
            raise KeyboardInterrupt

    def stopping(self) -> None:
        """Run ``on_stop`` (also when the study stops with trials running otherwise)."""
        if self.on_stop is not None:
            self.on_stop()

    @contextmanager
    def generating(self) -> Iterator[None]:
        """A block the first signal may abort with ``KeyboardInterrupt``."""
        if self.requested:
            raise KeyboardInterrupt
        self._generating = True
        try:
            yield
        finally:
            self._generating = False
