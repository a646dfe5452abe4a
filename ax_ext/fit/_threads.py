r"""The torch intra-op thread count of one fit, chosen for the problem's size.

A fit of a few hundred points gains nothing from more than one thread: each
loss evaluation is a handful of small Cholesky factorizations, whose
parallel parts are shorter than the cost of waking the threads, and on a
machine with other busy processes (Dask workers, a notebook's kernel next to
other work) every extra thread competes for the cores and the fit slows down
several times (``docs/fitting.md#threads``). :func:`fit_threads` sets
``torch.set_num_threads`` for the fit and restores the caller's value after.

``torch.set_num_threads`` is process-global. ax_ext's own concurrent fits (in
several threads of one process) share one setting under a lock: the first fit
to enter saves the caller's value and sets the count, later ones that enter
while it runs leave it (they ask for the same count or fewer threads, since a
fit run next to another one should not add threads), and the last one to leave
restores the saved value. Code outside ax_ext that changes the thread count
while a fit runs is not guarded against; pass ``threads=None`` to leave the
setting alone.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch

#: below this many points per member (times members, see :func:`auto_threads`)
#: one thread is as fast as more (measured: ``docs/fitting.md#threads``)
SINGLE_THREAD_WORK = 4.0e7

_lock = threading.Lock()
_active = 0
_saved: int | None = None


def auto_threads(num_points: int, num_members: int, device: torch.device) -> int | None:
    """The thread count ``"auto"`` picks: one for small problems, else ``None`` (torch's).

    The work of one loss evaluation grows as ``members x n^3`` (one Cholesky
    factorization per member); below :data:`SINGLE_THREAD_WORK` one thread is
    used. On other devices than the CPU the count is left alone.
    """
    if device.type != "cpu":
        return None
    work = float(num_members) * float(num_points) ** 3
    return 1 if work < SINGLE_THREAD_WORK else None


@contextlib.contextmanager
def fit_threads(threads: int | None) -> Iterator[None]:
    """``torch.set_num_threads(threads)`` inside the block, restored after.

    ``None`` leaves the setting alone. Nested and concurrent uses by ax_ext share
    one saved value (see the module's docstring).
    """
    global _active, _saved
    if threads is None:
        yield
        return
    with _lock:
        if _active == 0:
            _saved = torch.get_num_threads()
            torch.set_num_threads(threads)
        elif threads < torch.get_num_threads():
            torch.set_num_threads(threads)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _saved is not None:
                torch.set_num_threads(_saved)
                _saved = None
