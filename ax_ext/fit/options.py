r"""Every option of an ax_ext fit, in one validated object.

:func:`ax_ext.fit.fit_gpytorch_mll` keeps BoTorch's signature, so its options
arrive in two places, as BoTorch's do: *optimizer options* in
``optimizer_kwargs`` (SciPy's L-BFGS-B ``options``, ``timeout_sec``,
``bounds``, ``callback``, and ax_ext's ``engine`` and ``log_scale``) and *fit
options* as keywords (``max_attempts``, ``warm_start``, ``restarts``,
``restart_seed``, ``threads``). :func:`parse_fit_arguments` reads both into one
:class:`FitOptions`, checks every value, and says which arguments ask for
BoTorch's own routine instead (another SciPy ``method``, a subset of
``parameters``, BoTorch's retry-policy hooks). An unknown name is an error that
lists the known ones; a name in the wrong place is an error that says where it
belongs.

Two BoTorch keywords from its older dispatcher, ``sequential`` and
``approx_mll``, are accepted and ignored, as BoTorch's current routine ignores
them (BoTorch's own tests still pass ``sequential=False``); ``data_loader`` and
``full_batch_limit`` only concern approximate MLLs (which BoTorch's routine fits)
and are ignored for exact ones, as BoTorch ignores them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import torch
from botorch.exceptions.errors import UnsupportedError

from ax_ext.fit._lbfgs_types import LbfgsOptions

__all__ = ["FitOptions", "ParsedFitArguments", "parse_fit_arguments"]

#: the engines a fit takes ("auto" picks SciPy's L-BFGS-B per problem where it applies)
ENGINES = ("auto", "torch")

#: L-BFGS-B option names (SciPy's) in ``optimizer_kwargs["options"]``
LBFGS_OPTION_NAMES = ("maxiter", "maxfun", "ftol", "gtol", "maxcor", "maxls")
#: SciPy L-BFGS-B options that do not change the algorithm (printing, finite differences)
_INERT_LBFGS_OPTIONS = ("disp", "iprint", "eps", "finite_diff_rel_step")
#: option names of BoTorch's batched L-BFGS-B: ``pgtol`` is ``gtol``, ``factr`` is ``ftol / eps``
_BATCHED_ALIASES = ("pgtol", "factr")

#: ``optimizer_kwargs`` keys ax_ext's L-BFGS-B takes (besides ``method``/``parameters``)
OPTIMIZER_KEYS = ("options", "timeout_sec", "bounds", "callback", "engine", "log_scale")
#: keyword arguments ax_ext's fit takes
FIT_KEYS = (
    "max_attempts",
    "warm_start",
    "restarts",
    "restart_seed",
    "pick_best_of_all_attempts",
    "threads",
)
#: ``optimizer_kwargs`` keys that mean BoTorch's own routine should run (value: why)
_BOTORCH_OPTIMIZER_KEYS = {"method", "parameters"}
#: keywords that configure BoTorch's retry policy: BoTorch's routine runs
_BOTORCH_FIT_KEYS = ("warning_handler", "caught_exception_types")
#: keywords BoTorch's routine accepts and ignores for exact MLLs
_IGNORED_FIT_KEYS = ("sequential", "approx_mll", "data_loader", "full_batch_limit")
#: options that only apply to ax_ext's own optimizer
AX_EXT_ONLY_OPTIMIZER_KEYS = ("engine", "log_scale")


@dataclass(frozen=True)
class FitOptions:
    r"""The options of one ax_ext fit (validated on construction).

    Attributes:
        maxiter: L-BFGS-B iterations per member and attempt (SciPy's default).
        maxfun: Loss evaluations per member and attempt.
        ftol: Stop when the relative reduction of the loss is at most this.
        gtol: Stop when the projected gradient's largest entry is at most this.
        maxcor: L-BFGS memory (pairs of corrections).
        maxls: Line-search steps per iteration.
        timeout_sec: Wall-clock limit of the whole fit; members still running
            keep their last accepted values and an ``OptimizationWarning`` says so.
        bounds: ``{parameter name: (lower, upper)}`` replacing the constraints'
            bounds (``None`` for no bound), as in BoTorch.
        callback: Called after every iteration with the parameters and an
            ``OptimizationResult``, as in BoTorch (single-start fits only).
        engine: ``"auto"``: SciPy's compiled L-BFGS-B for a single problem on the
            CPU, the vectorized torch port otherwise; ``"torch"``: always the port.
        log_scale: Move parameters bounded only from below in ``log(value -
            bound)`` coordinates (``docs/fitting.md#coordinates``): far fewer
            iterations for scale parameters (lengthscales, noise, outputscales).
            ``None`` (the default): on the ``"fused"`` and ``"subset"`` paths,
            whose parameters are known to be such, and in BoTorch's raw
            coordinates on other models, whose positive parameters may be
            anything (a model of unknown parts then lands where BoTorch's fit
            lands); ``True``/``False`` force either.
        warm_start: A model, MLL or state dict whose values start every member,
            or a list of them (``None`` meaning the current values): every member
            is fitted from each start and keeps its best result.
        restarts: Extra starts per member drawn from the parameters' priors.
        restart_seed: Seed of those draws (torch's global random state is left alone).
        max_attempts: Attempts per member whose fit fails (non-finite loss or an
            abnormal line-search end), each from a new prior draw.
        threads: torch's intra-op thread count during the fit, restored after:
            ``"auto"`` (the default) one thread for problems too small to gain
            from more (``docs/fitting.md#threads``), torch's setting otherwise; an
            integer >= 1 that count; ``None`` leaves torch's setting alone.

    Example:
        >>> opts = FitOptions(maxiter=50, restarts=2)
        >>> opts.lbfgs.maxiter, opts.restarts
        (50, 2)
        >>> FitOptions(engine="fortran")
        Traceback (most recent call last):
        ...
        botorch.exceptions.errors.UnsupportedError: Expected engine in ('auto', 'torch'), ...
    """

    maxiter: int = 15000
    maxfun: int = 15000
    ftol: float = 1e7 * torch.finfo(torch.float64).eps
    gtol: float = 1e-5
    maxcor: int = 10
    maxls: int = 20
    timeout_sec: float | None = None
    bounds: Mapping[str, tuple[float | None, float | None]] | None = None
    callback: Callable | None = None
    engine: str = "auto"
    log_scale: bool | None = None
    warm_start: Any = None
    restarts: int = 0
    restart_seed: int = 0
    max_attempts: int = 5
    threads: int | str | None = "auto"

    def __post_init__(self) -> None:
        for name, low in (("maxiter", 0), ("maxfun", 1), ("maxcor", 1), ("maxls", 1)):
            _check_int(name, getattr(self, name), low)
        _check_int("restarts", self.restarts, 0, "the number of extra starts drawn from the priors")
        _check_int("max_attempts", self.max_attempts, 1, "attempts per member")
        _check_int("restart_seed", self.restart_seed, None, "a seed")
        for name in ("maxiter", "maxfun", "maxcor", "maxls", "restarts", "max_attempts"):
            object.__setattr__(self, name, int(getattr(self, name)))  # 1e3 -> 1000
        for name in ("ftol", "gtol"):
            value = getattr(self, name)
            if not _is_real(value) or value < 0:
                raise UnsupportedError(f"Expected {name} to be a number >= 0, got {value!r}.")
        if self.timeout_sec is not None and (
            not _is_real(self.timeout_sec) or self.timeout_sec < 0
        ):
            raise UnsupportedError(
                f"Expected timeout_sec to be None or a number of seconds >= 0, got "
                f"{self.timeout_sec!r}."
            )
        if self.engine not in ENGINES:
            raise UnsupportedError(
                f"Expected engine in {ENGINES}, got {self.engine!r}: 'auto' (the default) "
                "uses SciPy's L-BFGS-B for a single member on the CPU and ax_ext's vectorized "
                "torch L-BFGS-B otherwise; 'torch' always uses the latter."
            )
        if self.threads not in ("auto", None):
            _check_int("threads", self.threads, 1, "'auto', None or a torch thread count")
            object.__setattr__(self, "threads", int(self.threads))
        if self.log_scale is not None and not isinstance(self.log_scale, bool):
            raise UnsupportedError(
                f"Expected log_scale to be None (automatic), True or False, got {self.log_scale!r}."
            )
        if self.callback is not None and not callable(self.callback):
            raise UnsupportedError(f"Expected callback to be callable, got {self.callback!r}.")
        if self.bounds is not None and not isinstance(self.bounds, Mapping):
            raise UnsupportedError(
                "Expected bounds as {parameter name: (lower, upper)}, got "
                f"{type(self.bounds).__name__}."
            )
        if isinstance(self.warm_start, (list, tuple)) and not self.warm_start:
            raise UnsupportedError("warm_start is an empty list; pass None or at least one state.")

    @property
    def lbfgs(self) -> LbfgsOptions:
        """The L-BFGS-B engines' options."""
        return LbfgsOptions(
            maxiter=int(self.maxiter),
            maxfun=int(self.maxfun),
            ftol=float(self.ftol),
            gtol=float(self.gtol),
            maxcor=int(self.maxcor),
            maxls=int(self.maxls),
            timeout_sec=self.timeout_sec,
        )

    @property
    def starts(self) -> list[Any]:
        """The warm starts as a list (``None``: the current values)."""
        ws = self.warm_start
        return list(ws) if isinstance(ws, (list, tuple)) else [ws]

    def with_defaults(self, defaults: Mapping[str, Any], given: frozenset[str]) -> FitOptions:
        """These options with ``defaults`` (e.g. a model's) for names not in ``given``."""
        unknown = set(defaults) - {f.name for f in fields(self)}
        if unknown:
            raise UnsupportedError(
                f"Unknown fit option(s) {sorted(unknown)} in a model's default_fit_options; "
                f"known: {sorted(f.name for f in fields(self))}."
            )
        chosen = {k: v for k, v in defaults.items() if k not in given}
        return replace(self, **chosen) if chosen else self


@dataclass(frozen=True)
class ParsedFitArguments:
    """:func:`parse_fit_arguments`'s reading of ``fit_gpytorch_mll``'s arguments.

    Attributes:
        options: The validated options.
        given: The names the caller set (so a model's defaults do not override them).
        botorch_reason: Why BoTorch's own routine should run, or ``None``.
    """

    options: FitOptions
    given: frozenset[str]
    botorch_reason: str | None = None


def parse_fit_arguments(
    optimizer_kwargs: Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> ParsedFitArguments:
    r"""Read ``fit_gpytorch_mll``'s ``optimizer_kwargs`` and ``**kwargs``.

    Args:
        optimizer_kwargs: As for BoTorch's ``fit_gpytorch_mll_scipy``: ``options``,
            ``timeout_sec``, ``bounds``, ``callback``, ``method``, ``parameters``;
            and ax_ext's ``engine`` and ``log_scale``.
        kwargs: ``max_attempts``, ``warm_start``, ``restarts``, ``restart_seed``,
            and BoTorch's ``pick_best_of_all_attempts`` (``True`` means
            ``restarts = max_attempts - 1``, keeping the best), ``warning_handler``
            and ``caught_exception_types`` (BoTorch's routine then runs).

    Returns:
        The options, the names given, and the reason to run BoTorch's routine.

    Example:
        >>> parsed = parse_fit_arguments({"options": {"maxiter": 10}}, {"restarts": 1})
        >>> parsed.options.maxiter, sorted(parsed.given), parsed.botorch_reason
        (10, ['maxiter', 'restarts'], None)
        >>> parse_fit_arguments({"method": "Nelder-Mead"}, {}).botorch_reason
        "optimizer_kwargs={'method': 'Nelder-Mead'}: another SciPy method runs in BoTorch's routine"
    """
    opt = dict(optimizer_kwargs or {})
    kw = dict(kwargs)
    reasons = []
    for key in set(kw) & set(OPTIMIZER_KEYS) | set(kw) & _BOTORCH_OPTIMIZER_KEYS:
        raise UnsupportedError(
            f"{key!r} is an optimizer option: pass it as optimizer_kwargs={{{key!r}: ...}}, "
            "as for BoTorch's fit_gpytorch_mll."
        )
    for key in set(opt) & set(FIT_KEYS + _BOTORCH_FIT_KEYS):
        raise UnsupportedError(
            f"{key!r} is a fit option: pass it as a keyword, fit_gpytorch_mll(mll, {key}=...), "
            "not in optimizer_kwargs."
        )
    unknown_opt = set(opt) - set(OPTIMIZER_KEYS) - _BOTORCH_OPTIMIZER_KEYS
    if unknown_opt:
        raise UnsupportedError(
            f"Unknown optimizer_kwargs {sorted(unknown_opt)}. Known: "
            f"{sorted(set(OPTIMIZER_KEYS) | _BOTORCH_OPTIMIZER_KEYS)} (for another optimizer, "
            "pass it as optimizer=...)."
        )
    unknown_kw = set(kw) - set(FIT_KEYS) - set(_BOTORCH_FIT_KEYS) - set(_IGNORED_FIT_KEYS)
    if unknown_kw:
        raise UnsupportedError(
            f"Unknown keyword argument(s) {sorted(unknown_kw)} to fit_gpytorch_mll. Known: "
            f"{sorted(FIT_KEYS + _BOTORCH_FIT_KEYS + _IGNORED_FIT_KEYS)}; optimizer options go "
            f"in optimizer_kwargs ({sorted(OPTIMIZER_KEYS)})."
        )
    method = opt.pop("method", "L-BFGS-B")
    if method != "L-BFGS-B":
        reasons.append(
            f"optimizer_kwargs={{'method': {method!r}}}: another SciPy method runs in BoTorch's "
            "routine"
        )
    if opt.pop("parameters", None) is not None:
        reasons.append(
            "optimizer_kwargs['parameters']: fitting a subset of the parameters runs in "
            "BoTorch's routine"
        )
    for key in _BOTORCH_FIT_KEYS:
        if kw.pop(key, None) is not None:
            reasons.append(f"{key}: BoTorch's retry policy runs in BoTorch's routine")
    for key in _IGNORED_FIT_KEYS:
        kw.pop(key, None)
    values: dict[str, Any] = {}
    lbfgs = opt.pop("options", None) or {}
    if not isinstance(lbfgs, Mapping):
        raise UnsupportedError(
            f"Expected optimizer_kwargs['options'] to be a dict of L-BFGS-B options, got "
            f"{type(lbfgs).__name__}."
        )
    unknown = (
        set(lbfgs) - set(LBFGS_OPTION_NAMES) - set(_INERT_LBFGS_OPTIONS) - set(_BATCHED_ALIASES)
    )
    if unknown:
        raise UnsupportedError(
            f"Unknown optimizer options {sorted(unknown)}. ax_ext's L-BFGS takes scipy's "
            f"L-BFGS-B option names {sorted(LBFGS_OPTION_NAMES)} (and BoTorch's 'pgtol', "
            "'factr'); for another optimizer, pass optimizer=... ."
        )
    values.update({k: lbfgs[k] for k in LBFGS_OPTION_NAMES if k in lbfgs})
    if "pgtol" in lbfgs:
        _no_conflict(values, "gtol", lbfgs["pgtol"], "pgtol")
        values["gtol"] = lbfgs["pgtol"]
    if "factr" in lbfgs:
        ftol = float(lbfgs["factr"]) * torch.finfo(torch.float64).eps
        _no_conflict(values, "ftol", ftol, "factr")
        values["ftol"] = ftol
    values.update(opt)  # timeout_sec, bounds, callback, engine, log_scale
    if kw.pop("pick_best_of_all_attempts", False) and "restarts" not in kw:
        values["restarts"] = int(kw.get("max_attempts", FitOptions.max_attempts)) - 1
    values.update(kw)
    return ParsedFitArguments(
        options=FitOptions(**values),
        given=frozenset(values),
        botorch_reason="; ".join(reasons) or None,
    )


def _no_conflict(values: dict[str, Any], name: str, value: Any, alias: str) -> None:
    if name in values and values[name] != value:
        raise UnsupportedError(
            f"Both {name}={values[name]!r} and its alias {alias} (giving {value!r}) were given; "
            "pass one of them."
        )


def _is_real(value: Any) -> bool:
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and not math.isnan(float(value))
    )


def _check_int(name: str, value: Any, low: int | None, what: str = "") -> None:
    """Counts and seeds are integers; an integral float such as ``1e3`` is one too
    (SciPy accepts it), ``1.5`` and ``True`` are not."""
    ok = isinstance(value, numbers.Integral) or (
        isinstance(value, numbers.Real) and float(value).is_integer()
    )
    if isinstance(value, bool) or not ok or (low is not None and value < low):
        if low is None:
            kind = "an integer"
        else:
            kind = "a non-negative integer" if low == 0 else f"an integer >= {low}"
        raise UnsupportedError(
            f"Expected {name} to be {kind}{f' ({what})' if what else ''}, got {value!r}."
        )
