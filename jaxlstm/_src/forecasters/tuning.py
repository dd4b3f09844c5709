"""Hyper-parameter search for ``LSTMForecaster``: trials that share shapes train in one compiled call.

``tune(data, space, **settings)`` tries settings from ``space`` (a dict of setting name ->
list of values) and returns the best ``LSTMForecaster`` fitted on all of ``data``, with the
table of trials on its ``tuning_`` attribute.

* Sampling: ``"grid"`` (every combination) or ``"random"`` (``n_trials`` distinct
  combinations drawn with ``seed``, without listing the grid, so a space of millions of
  combinations costs what ``n_trials`` trials cost). A search runs at most ``MAX_TRIALS``
  trials: a larger grid is refused before anything is built.
* Successive halving (``halving=3``): every trial trains for a first rung of epochs, the
  best third (by validation score) continue from their params and optimiser state to the
  next rung, and so on up to ``epochs`` (rungs of equal length, so one compiled program
  serves them all); ``halving=None`` trains every trial fully.
* Walk-forward validation inside ``data`` only: the last ``validation_share`` of the
  prices is cut into ``folds`` consecutive blocks; for the block starting at ``c`` a copy
  of each trial is trained on ``data[:c]`` only (encoding included) and forecasts
  ``horizon`` steps from origins inside the block, scored against the prices that follow
  (mean absolute log error, and its ratio to the naive forecast's). No trial, score or
  selection uses a price after the end of ``data``, and no fold's training uses a price
  at or after its block.
* One compiled call per group: trials x folds x ensemble members that share the network,
  window length and static training settings are stacked on one models axis and trained
  by ``LSTMForecaster.train_prepared`` (``stacked.run_stacked``); the learning rate and
  weight decay are per-model hyper-parameters in the optimiser state, so they never split
  a group. Other shapes (hidden size, layers, window length) are groups of their own, run
  one after another (each spread over the cores or devices by the runner). The
  validation forecasts of a rung are one ``predict_rows`` and the winner's final fit one
  ``fit_rows``; only the public estimator protocol is used.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import intervals
from jaxlstm._src.forecasters.base import Forecaster
from jaxlstm._src.forecasters.lstm import LSTMForecaster
from jaxlstm._src.io.series import close_of, read_series, select_columns
from jaxlstm._src.prep import windows

#: Values of ``sampling``.
SAMPLINGS: tuple[str, ...] = ("grid", "random")
#: Settings that a search space may not list (they name the model or its band, not how it learns).
NOT_TUNABLE: tuple[str, ...] = ("symbol", "band", "calibration")


@dataclasses.dataclass(frozen=True)
class TuningTable:
    """The trials of one search.

    Attributes:
        rows: one dict per trial: ``trial``, its settings, ``score`` (mean absolute log
            error of the validation forecasts, lower is better), ``relative_mae`` (its
            MAE over the naive forecast's on the same origins), ``fold_scores``,
            ``epochs`` (epochs it trained, per fold the largest), ``rung`` (the last
            halving rung it reached) and ``best`` (True for the chosen one).
        space: the search space.
        folds: validation blocks and their ``(start, end)`` price indices.
        seconds: wall time of the search (without the final fit).
        groups: number of compiled training groups run per rung (with ``processes``, the
            most that one process ran).
    """

    rows: tuple[dict[str, Any], ...]
    space: dict[str, tuple[Any, ...]]
    folds: tuple[tuple[int, int], ...]
    seconds: float
    groups: int

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def best(self) -> dict[str, Any]:
        """The chosen trial's row."""
        return next(r for r in self.rows if r["best"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rows, space, folds, seconds."""
        return {
            "rows": [dict(r) for r in self.rows],
            "space": {k: list(v) for k, v in self.space.items()},
            "folds": [list(f) for f in self.folds],
            "seconds": self.seconds,
            "groups": self.groups,
        }

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame`` (one row per trial, best first by score)."""
        import pandas as pd

        frame = pd.DataFrame([{k: v for k, v in r.items() if k != "fold_scores"} for r in self.rows])
        return frame.sort_values("score", kind="stable").reset_index(drop=True)


def _refused(settings: Mapping[str, Any]) -> TypeError | ValueError | None:
    """The error ``LSTMForecaster(**settings)`` raises, or None."""
    try:
        LSTMForecaster(**settings)
    except (TypeError, ValueError) as err:
        return err
    return None


def check_space(space: Any, settings: Mapping[str, Any] | None = None) -> dict[str, tuple[Any, ...]]:
    """Validates a search space: setting name -> non-empty list of values of ``LSTMForecaster`` settings.

    Each value is checked together with the fixed ``settings`` (``features`` beyond the close
    are valid only with ``direct_steps``, for example).
    """
    if not isinstance(space, Mapping) or not space:
        raise TypeError(f"space must be a non-empty dict of setting name -> list of values, got {type(space).__name__}")
    known = LSTMForecaster.setting_names()
    settings = dict(settings or {})
    if unknown := sorted(set(settings) - set(known)):
        raise TypeError(f"tune got unknown setting(s) {unknown}; LSTMForecaster's settings are {list(known)}")
    out: dict[str, tuple[Any, ...]] = {}
    for name, given in space.items():
        if name not in known or name in NOT_TUNABLE:
            tunable = [k for k in known if k not in NOT_TUNABLE]
            raise ValueError(f"space names {name!r}, which is not a tunable LSTMForecaster setting; tunable: {tunable}")
        # np.logspace(-4, -2, 5): numpy scalars as Python ones.
        values = given.tolist() if isinstance(given, np.ndarray) and given.ndim == 1 else given
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
            raise ValueError(f"space[{name!r}] must be a non-empty list of values, got {values!r:.60}")
        if (repeated := _first_repeated(values)) is not None:
            raise ValueError(f"space[{name!r}] lists {repeated!r} more than once: its trials would be the same")
        out[name] = tuple(values)
        bad = [(value, err) for value in values if (err := _refused({**settings, name: value})) is not None]
        if bad:
            value, err = bad[0]
            # Every value refused alike, and the fixed settings alone too: they are at fault, not the space.
            if len(bad) == len(values) and len({str(e) for _, e in bad}) == 1 and _refused(settings) is not None:
                raise type(err)(str(err)) from None
            raise ValueError(f"space[{name!r}] holds an invalid value {value!r}: {err}") from None
    return out


def _first_repeated(values: Sequence[Any]) -> Any:
    """The first value equal to an earlier one, else None (values may be unhashable: lists of members)."""
    hashed: set[Any] = set()
    others: list[Any] = []
    for value in values:
        try:
            if value in hashed:
                return value
            hashed.add(value)
        except TypeError:
            if value in others:
                return value
            others.append(value)
    return None


#: Most trials one search runs: a grid with more combinations, or a larger ``n_trials``, is
#: refused before anything is built (each trial trains a model per fold; a search this
#: large is days of training). Search a larger space with ``sampling="random"``.
MAX_TRIALS = 10_000


def grid_size(space: Mapping[str, Sequence[Any]]) -> int:
    """Number of combinations of ``space`` (the product of its value counts), computed without building them."""
    return math.prod(len(values) for values in space.values())


def _combination(space: Mapping[str, Sequence[Any]], index: int) -> dict[str, Any]:
    """The ``index``-th combination of ``space`` in grid order (the last setting varies fastest)."""
    trial: dict[str, Any] = {}
    for name in reversed(list(space)):
        index, digit = divmod(index, len(space[name]))
        trial[name] = space[name][digit]
    return {name: trial[name] for name in space}


def _distinct_indices(sizes: Sequence[int], n: int, rng: np.random.Generator) -> list[int]:
    """``n`` distinct flat grid indices drawn uniformly, never listing the whole grid.

    A grid of fewer than 2**63 combinations draws with ``Generator.choice`` (a hash set of
    the picks when they are few, the same draw a listed grid gave); a larger one draws one
    value per setting and rejects repeats, which are vanishingly rare with ``n <= MAX_TRIALS``.
    """
    total = math.prod(sizes)
    if total < 2**63:
        return [int(i) for i in rng.choice(total, size=n, replace=False)]
    picks: dict[int, None] = {}
    while len(picks) < n:
        flat = 0
        for size in sizes:
            flat = flat * size + int(rng.integers(size))
        picks.setdefault(flat)
    return list(picks)


def sample_trials(
    space: Mapping[str, Sequence[Any]], sampling: str = "grid", n_trials: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """The trials to run: every combination (grid) or ``n_trials`` distinct ones drawn at random.

    Neither builds more than the trials it returns: a random draw picks distinct indices
    into the grid and decodes only those, so a space of millions of combinations costs
    what ``n_trials`` trials cost. A grid (or ``n_trials``) beyond ``MAX_TRIALS`` is
    refused before anything is built.

    Args:
        space: setting name -> values (from ``check_space``).
        sampling: ``"grid"`` or ``"random"``.
        n_trials: with ``"random"``, how many (at most the grid's size and ``MAX_TRIALS``);
            with ``"grid"``, None.
        seed: seeds the random draw (the same seed and space give the same trials).

    Returns:
        A list of ``{setting: value}`` dicts, in grid order for ``"grid"``.

    Raises:
        ValueError: an unknown ``sampling``, a grid of more than ``MAX_TRIALS``
            combinations, or a bad ``n_trials``.
    """
    validation.check_choice("sampling", sampling, SAMPLINGS)
    total = grid_size(space)
    if sampling == "grid":
        if n_trials is not None:
            raise ValueError(f"n_trials applies to sampling='random'; grid search runs all {total} combinations")
        if total > MAX_TRIALS:
            raise ValueError(
                f"space has {total:,} combinations, more than the {MAX_TRIALS:,} a grid search runs (MAX_TRIALS); "
                "search it with sampling='random' and n_trials=..., or list fewer values"
            )
        return [_combination(space, i) for i in range(total)]
    if n_trials is None:
        raise ValueError("sampling='random' needs n_trials")
    n_trials = validation.check_positive_int("n_trials", n_trials)
    if n_trials > min(total, MAX_TRIALS):
        bound = f"the {total:,} combinations of space" if total <= MAX_TRIALS else f"MAX_TRIALS ({MAX_TRIALS:,})"
        raise ValueError(f"n_trials must be at most {bound}, got {n_trials}")
    sizes = [len(values) for values in space.values()]
    return [_combination(space, i) for i in _distinct_indices(sizes, n_trials, np.random.default_rng(seed))]


def fold_bounds(n: int, folds: int, validation_share: float, min_train: int) -> list[tuple[int, int]]:
    """``(start, end)`` of each validation block: consecutive blocks covering the last ``validation_share`` of ``n``.

    Raises:
        ValueError: the first block would leave fewer than ``min_train`` prices to train on.
    """
    span = max(folds, round(n * validation_share))
    starts = [n - span + (span * f) // folds for f in range(folds)] + [n]
    if starts[0] < min_train:
        raise ValueError(
            f"data of {n} prices is too short to tune: the first of {folds} validation folds starts at {starts[0]}, "
            f"leaving fewer than the {min_train} prices a trial needs to train (pass more data, fewer folds or a "
            "smaller validation_share)"
        )
    return [(starts[f], starts[f + 1]) for f in range(folds)]


def rung_epochs(epochs: int, halving: int | None, trials: int) -> list[int]:
    """Cumulative epochs at the end of each successive-halving rung.

    Enough rungs to halve ``trials`` down to one (at most 4), with equal increments, so
    that every rung reuses the first rung's compiled program (the epochs are a static
    setting): ``[34, 67, 100]`` for 100 epochs, 9 trials and ``halving=3``.
    """
    if halving is None or trials <= 1:
        return [epochs]
    count = min(4, 1 + math.ceil(math.log(trials) / math.log(halving) - 1e-9), epochs)
    step = math.ceil(epochs / count)
    return sorted({min(epochs, step * (i + 1)) for i in range(count)})


@dataclasses.dataclass
class _Run:
    """One trial on one fold: the model, its prepared data and where its training stands."""

    trial: int
    fold: int
    model: LSTMForecaster
    prep: Any
    epochs: int = 0


def _score(predicted: np.ndarray, origins: np.ndarray, prices: np.ndarray, horizon: int) -> tuple[float, float]:
    """Mean absolute log error of ``[origins, horizon]`` forecasts from ``origins``, and naive's.

    ``prices`` are the closes the forecasts are scored on.
    """
    index = origins[:, None] + np.arange(horizon)[None, :]
    n = prices.shape[0]
    actual = np.where(index < n, prices[np.minimum(index, n - 1)], np.nan)
    errors = np.abs(intervals.log_ratio_residuals(actual, predicted))
    naive = np.abs(intervals.log_ratio_residuals(actual, np.broadcast_to(prices[origins - 1][:, None], actual.shape)))
    model_error = float(np.nanmean(errors)) if np.isfinite(errors).any() else float("inf")
    return model_error, float(np.nanmean(naive))


def tune(
    data: Any,
    space: Mapping[str, Sequence[Any]],
    *,
    sampling: str = "grid",
    n_trials: int | None = None,
    halving: int | None = 3,
    folds: int = 3,
    validation_share: float = 0.25,
    horizon: int = 24,
    stride: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    processes: bool | Mapping[str, Any] = False,
    **settings: Any,
) -> LSTMForecaster:
    """Searches ``space`` by walk-forward validation inside ``data``; returns the best model fitted on all of it.

    Args:
        data: prices in any form ``LSTMForecaster.fit`` accepts.
        space: setting name -> list of values, e.g. ``{"learning_rate": [3e-4, 1e-3, 3e-3],
            "sequence_length": [20, 60]}`` (a 1-D numpy array such as ``np.logspace(-4, -2, 5)``
            too), distinct values; any ``LSTMForecaster`` setting but ``symbol``, ``band``
            and ``calibration``.
        horizon: forecast steps scored from each validation origin, >= 1; the first
            origin must have ``horizon`` prices after it.
        sampling: ``"grid"`` or ``"random"`` (then ``n_trials`` is required). A grid of
            more than ``MAX_TRIALS`` combinations is refused up front.
        n_trials: trials drawn with ``"random"`` (at most ``MAX_TRIALS``).
        halving: successive-halving factor (keep the best ``1 / halving`` at each rung), or
            None to train every trial for all its epochs.
        folds: validation blocks (walk-forward folds), >= 1.
        validation_share: share of ``data`` (at its end) the blocks cover, in (0, 1).
        stride: steps between validation origins (default ``max(1, horizon // 4)``).
        seed: seeds the random draw of trials (each trial's own ``seed`` setting seeds its model).
        workers, devices: how each group is run (see ``jaxlstm.run_stacked``); with
            ``processes``, this process's own devices, and by default its share of the
            cores of its host.
        processes: split the trials over the processes of a ``jax.distributed`` job; call
            ``tune`` with the same arguments in every process. ``True`` joins the job JAX
            detects (SLURM, Open MPI) or the one this process has already joined; a dict
            of ``coordinator``, ``num_processes``, ``process_id`` (and optionally
            ``heartbeat_timeout``) joins one on this host (see ``jaxlstm.distributed``).
            Process ``r`` of ``n`` trains and scores trials ``r, r + n, ...`` (a trial
            stays where its params and optimiser state are when it survives a rung); each
            rung's scores are all-gathered, so every process keeps the same survivors, and
            every process fits the winner and returns the same model and table as one
            process would. A process with no trial of a rung only takes part in the gather.
        **settings: ``LSTMForecaster`` settings shared by every trial (``space`` overrides).

    Returns:
        The best trial's ``LSTMForecaster``, fitted on all of ``data``, with ``tuning_``
        (a ``TuningTable``; ``tuning_.to_pandas()`` with pandas).

    Raises:
        ValueError / TypeError: a bad space, setting or option, or ``data`` too short for
            the folds.
    """
    started = time.perf_counter()
    space = check_space(space, settings)
    overlap = sorted(set(space) & set(settings))
    if overlap:
        raise ValueError(f"settings {overlap} are both searched (space) and fixed (**settings); give each once")
    base = LSTMForecaster(**settings)  # a bad shared setting fails here, before any work
    if halving is not None:
        halving = validation.check_positive_int("halving", halving, minimum=2)
    folds = validation.check_positive_int("folds", folds)
    validation_share = validation.check_fraction("validation_share", validation_share)
    horizon = validation.check_positive_int("horizon", horizon)
    stride = max(1, horizon // 4) if stride is None else validation.check_positive_int("stride", stride)
    trials = sample_trials(space, sampling, n_trials, seed)
    rank, size, gather = 0, 1, _alone
    if processes is not False:
        # Joined before anything here runs JAX (the runtime must be joined first).
        from jaxlstm._src import processes as job

        group = job.join(processes)
        rank, size, gather = group.rank, group.size, job.all_gather_json
        if workers is None:
            workers = job.default_workers(group)
    models = [LSTMForecaster(**{**base.get_params(), **t}) for t in trials]
    # Every trial reads its own candle columns (the close first) of one read of the data.
    columns = tuple(dict.fromkeys(c for m in models for c in m.input_columns))
    values, timestamps, interval = read_series(data, "data", columns)
    min_train = max(m.min_fit_length for m in models) + max(m.window_length for m in models)
    prices = Forecaster.check_prices(base, "data", close_of(values), min_train + folds, "to tune")
    own = [select_columns(values, columns, m.input_columns) for m in models]
    bounds = fold_bounds(prices.shape[0], folds, validation_share, min_train)
    if bounds[0][0] + horizon > prices.shape[0]:
        # Forecasts are scored on the prices that follow them: none would be scored on its whole horizon.
        raise ValueError(
            f"horizon={horizon} is longer than the {prices.shape[0] - bounds[0][0]} prices after the first validation "
            f"origin (the folds cover the last {prices.shape[0] - bounds[0][0]} of {prices.shape[0]}): no forecast "
            "would be scored on its whole horizon; pass more data, a larger validation_share or a shorter horizon"
        )

    # This process's trials, fixed for the whole search: a trial that survives a rung
    # continues from params and optimiser state that live only where it trained.
    mine = [t for t in range(len(trials)) if t % size == rank]
    runs = []
    for t in mine:
        for f, (start, _) in enumerate(bounds):
            copy = LSTMForecaster(**models[t].get_params())
            runs.append(_Run(t, f, copy, copy.prepare(own[t][:start])))
    epochs_cap = max(m.epochs for m in models)
    rungs = rung_epochs(epochs_cap, halving, len(trials))
    alive = set(range(len(trials)))
    scores: dict[int, list[float]] = {}
    naive: dict[int, list[float]] = {}
    reached: dict[int, int] = {}
    groups = 0
    for r, target in enumerate(rungs):
        training = [run for run in runs if run.trial in alive and min(target, run.model.epochs) > run.epochs]
        # Every trial x fold x member of the rung in one runner call per group of equal shapes.
        ran = 0
        if training:
            ran = LSTMForecaster.train_prepared(
                [run.model for run in training],
                [run.prep for run in training],
                [min(target, run.model.epochs) - run.epochs for run in training],
                salt=r,
                workers=workers,
                devices=devices,
            )
        for run in training:
            run.epochs = min(target, run.model.epochs)
        # Every validation forecast of the rung in one predict_rows (one runner call per group).
        scored = [run for run in runs if run.trial in alive]
        origins = [np.arange(bounds[run.fold][0], bounds[run.fold][1], stride) for run in scored]
        windows_ = [
            windows.windows_before(own[run.trial], o, run.model.window_length) for run, o in zip(scored, origins)
        ]
        predicted = (
            LSTMForecaster.predict_rows([run.model for run in scored], windows_, horizon, workers=workers)
            if scored
            else []
        )
        pairs = {id(run): _score(p, o, prices, horizon) for run, p, o in zip(scored, predicted, origins)}
        # Runs are listed fold by fold within a trial, so each list is in fold order.
        share = [
            [
                t,
                [pairs[id(run)][0] for run in runs if run.trial == t],
                [pairs[id(run)][1] for run in runs if run.trial == t],
            ]
            for t in sorted(alive)
            if t % size == rank
        ]
        # One small collective per rung: every process gets every trial's fold scores (JSON
        # keeps a float to the bit), so all rank the trials alike.
        for part_groups, part in gather([ran, share]):
            groups = max(groups, part_groups)
            for t, model_scores, naive_scores in part:
                scores[t], naive[t] = model_scores, naive_scores
        for t in alive:
            reached[t] = r
        if halving is not None and r < len(rungs) - 1:
            keep = max(1, math.ceil(len(alive) / halving))
            ranked = sorted(alive, key=lambda t: (float(np.mean(scores[t])), t))
            alive = set(ranked[:keep])
    best = min(alive, key=lambda t: (float(np.mean(scores[t])), t))
    rows_out = []
    for t, trial in enumerate(trials):
        score = float(np.mean(scores[t]))
        rows_out.append(
            {
                "trial": t,
                **trial,
                "score": score,
                "relative_mae": score / float(np.mean(naive[t])) if np.mean(naive[t]) > 0 else None,
                "fold_scores": [float(s) for s in scores[t]],
                # What its runs trained (on whichever process): up to its last rung, at most its own epochs.
                "epochs": min(rungs[reached[t]], models[t].epochs),
                "rung": reached[t],
                "best": t == best,
            }
        )
    table = TuningTable(
        rows=tuple(rows_out),
        space=space,
        folds=tuple(bounds),
        seconds=time.perf_counter() - started,
        groups=groups,
    )
    winner = LSTMForecaster(**models[best].get_params())
    # The final fit, then its calibration copies: one runner call each, in every process
    # alike, so that each returns the same model.
    LSTMForecaster.fit_rows(
        [winner], [own[best]], timestamps=[timestamps], interval=interval, workers=workers, devices=devices
    )
    winner.tuning_ = table
    return winner


def _alone(value: Any) -> list[Any]:
    """The all-gather of a search that runs in one process: its own value."""
    return [value]


class TunedLSTMForecaster(Forecaster):
    """A forecaster that runs ``tune`` on the data it is fitted on and forecasts with the winner.

    For walk-forward backtests of the search itself: at every origin the search sees only
    that origin's training prices.

    Args:
        space: as in ``tune``.
        options: ``tune``'s keyword options (``sampling``, ``halving``, ``folds``...).
        settings: ``LSTMForecaster`` settings shared by every trial.
        band, calibration: the band (see ``Forecaster``), also given to every trial.
    """

    name = "lstm_tuned"

    def __init__(
        self,
        space: Mapping[str, Sequence[Any]] | None = None,
        options: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
        *,
        band: str = "conformal",
        calibration: str = "auto",
    ) -> None:
        super().__init__(band=band, calibration=calibration)
        self.space = check_space(space if space is not None else {"learning_rate": [3e-4, 1e-3, 3e-3]})
        self.options = dict(options or {})
        self.settings = dict(settings or {})
        self._template = LSTMForecaster(**self.settings, band=band, calibration=calibration)
        self.model_: LSTMForecaster | None = None

    @property
    def min_fit_length(self) -> int:
        return 4 * max(*self.space.get("sequence_length", [self._template.sequence_length]), 2) + 8

    @property
    def window_length(self) -> int | None:
        return None if self.model_ is None else self.model_.window_length

    def _fit(self, prices: np.ndarray) -> None:
        settings = {**self.settings, "band": self.band, "calibration": self.calibration}
        self.model_ = tune(prices, self.space, **self.options, **settings)

    def holdout_size(self) -> int | None:
        # The winner's own held-back tail scores the winner; without one a head refit reruns the search.
        return None if self.model_ is None else self.model_.holdout_size()

    def planned_holdout(self, n: int) -> int | None:
        # Whether the winner will hold prices back, as the shared settings say (before the search runs).
        return self._template.planned_holdout(n)

    def _predict_many(self, windows: Sequence[np.ndarray], steps: int) -> np.ndarray:
        assert self.model_ is not None
        length = self.model_.window_length
        return self.model_.predict_windows(np.stack([np.asarray(w)[-length:] for w in windows]), steps)

    def _predict(self, window: np.ndarray, steps: int) -> np.ndarray:
        return self._predict_many([window], steps)[0]

    def _check_fitted(self) -> None:
        if self.model_ is None:
            raise RuntimeError("TunedLSTMForecaster is not fitted yet: call fit(data) first")
