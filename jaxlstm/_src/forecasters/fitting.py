"""Training network forecasters as rows of the runner, and each model taking over its members' results.

Every training of an ``LSTMForecaster`` comes here: ``fit`` and ``fit_many`` (through
``Forecaster.fit_rows``), the head-refit calibration copies, and ``jaxlstm.tune``'s rungs
(``train_prepared``). Each model's series is prepared on its own (``LSTMForecaster.prepare``),
each ensemble member is one row (``rows.member_rows``), and the rows of every model go to
one runner call per group of equal static settings and shapes (``rows.train_models``).
Each model then adopts its members' runs (``adopt``): params, optimiser state, history,
metrics, and one-step forecasts of the held-back windows for the validation MAE and for
finding a member that diverged, which a fit drops (``adopt_kept``). After the band,
``calibrate_after_band`` fits what depends on it.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from jaxlstm._src import training, validation
from jaxlstm._src.forecasters import population, prepared, quantile_heads, rows, shrinkage
from jaxlstm._src.io.series import close_of

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module).
LSTMForecaster = Any


def fit_together(
    cls: Any,
    models: Sequence[LSTMForecaster],
    prices: Sequence[np.ndarray],
    *,
    workers: int | None = None,
    devices: Sequence[Any] | None = None,
    verbose: bool = False,
    budgets: Sequence[prepared.RefitBudget | None] | None = None,
    **fit_options: Any,
) -> None:
    """``LSTMForecaster._fit_together``: many models (every ensemble member) as rows of one runner call per group of equal static settings.

    Series of different lengths are padded with zero-weight windows, which leave each
    model as a lone ``fit`` would train it (to float rounding). With ``verbose`` the first
    model's first member draws a per-epoch progress bar. ``budgets``: per model None or a
    head refit's ``prepared.RefitBudget``: each member takes at most its optimiser steps,
    rounded up to whole epochs of its own windows, on data padded to the shapes of the
    model it calibrates, so that both share one compiled program.
    """
    if fit_options:
        raise TypeError(f"LSTMForecaster.fit got unexpected options {sorted(fit_options)}")
    validation.check_bool("verbose", verbose)
    budgets = [None] * len(models) if budgets is None else list(budgets)
    preps = [m.prepare(p, pad_to=b and b.windows) for m, p, b in zip(models, prices, budgets, strict=True)]
    plans = [
        rows.member_rows(
            m.members,
            prep.data,
            m.members.static(),
            epochs=b and prepared.epoch_caps(b.steps, prep.n_train, m.batch_size),
        )
        for m, prep, b in zip(models, preps, budgets, strict=True)
    ]
    found = rows.train_shown(plans, models[0].epochs if verbose else None, workers=workers, devices=devices)
    checks = first_forecasts(models, preps, found, workers=workers)
    for model, prep, results, check in zip(models, preps, found, checks, strict=True):
        adopt_kept(model, prep, results, check)


def train_prepared(
    cls: Any,
    models: Sequence[LSTMForecaster],
    preps: Sequence[prepared.Prepared],
    epochs: Sequence[int],
    *,
    salt: int = 0,
    workers: int | None = None,
    devices: Sequence[Any] | None = None,
) -> int:
    """Trains each model ``epochs[i]`` more epochs on its prepared data (``LSTMForecaster.prepare``), all in one runner call per group.

    An unfitted model starts from its seeds; a fitted one continues from its params and
    optimiser state (``Members.resumed`` with ``salt``). Each model then takes over its
    results as after ``fit``, without a band. ``jaxlstm.tune`` trains its rungs here.

    Returns:
        The number of runner calls (groups of equal static settings and shapes).
    """
    plans = [
        rows.member_rows(
            m.members, p.data, m.members.static(epochs=c), member_trees(m) if m.params_ is not None else None, salt
        )
        for m, p, c in zip(models, preps, epochs, strict=True)
    ]
    found = rows.train_models(plans, workers=workers, devices=devices)
    everyone = [list(range(len(results))) for results in found]
    checks = first_forecasts(models, preps, found, everyone, workers=workers)
    for model, prep, results, check in zip(models, preps, found, checks, strict=True):
        assert check is not None, "every run is forecast: a model has at least one member"
        adopt(model, prep, results, check)
    return rows.call_count(plans)


def member_trees(model: LSTMForecaster) -> list[tuple[Any, Any]]:
    """Each member's ``(params, optimiser state or None)`` of a fitted model (``population.member_trees``)."""
    return population.member_trees(model.params_, model.opt_state_, model.n_members)


def first_forecasts(
    models: Sequence[LSTMForecaster],
    preps: Sequence[prepared.Prepared],
    found: Sequence[Sequence[training.TrainResult]],
    members: Sequence[Sequence[int]] | None = None,
    *,
    workers: int | None = None,
) -> list[np.ndarray | None]:
    """Each model's ``[K, N, 1]`` one-step forecasts of ``prepared.checked_windows`` by its members, every model in one runner call.

    ``members``: per model the indices of its runs to forecast with; None: those that
    ``population.finished``. A model with none gets None. ``adopt`` reads its rows (a fit
    of a thousand series made a thousand calls when each model forecast on its own).
    """
    chosen = [population.finished(r) for r in found] if members is None else [list(m) for m in members]
    plans, windows_ = [], []
    for model, prep, results, kept in zip(models, preps, found, chosen, strict=True):
        if not kept:
            continue
        fitted = (prep.encoding_state, prep.feature_state or {})
        params = [results[j].params for j in kept]  # as LSTMForecaster.forecast_plan, before adopt sets them
        plans.append(rows.forecast_plan(model.model_config, model.model_inputs, fitted, params, 1, model.direct_steps))
        windows_.append(prepared.checked_windows(prep))
    out = iter(rows.forecast_rows(plans, windows_, workers=workers)) if plans else iter(())
    return [next(out) if kept else None for kept in chosen]


def adopt(
    model: LSTMForecaster,
    prep: prepared.Prepared,
    results: Sequence[training.TrainResult],
    forecasts: np.ndarray,
) -> np.ndarray:
    """``model`` takes over finished training runs (one per member): params, optimiser states, history, metrics.

    The one-step forecasts of ``prepared.checked_windows`` by these runs (``forecasts``:
    ``[len(results), N, 1]`` from ``first_forecasts``, every model's in one call) give the
    validation MAE (the members combined) and the divergence check of ``adopt_kept``.

    Returns:
        ``[K]`` whether each member forecasts finite positive prices there.
    """
    if any(r.epochs_run == 0 for r in results):
        raise ValueError("training diverged in the first epoch (non-finite loss); check the data and learning_rate")
    model.params_, model.opt_state_ = population.adopted_state(results)
    model.encoding_state_, model.feature_state_ = prep.encoding_state, prep.feature_state
    model.history_, metrics = population.summary(results, bool(prep.n_val))
    predicted = population.combined(forecasts, model.combine)[:, 0]
    model.metrics_ = prepared.fit_metrics(prep, model.model_inputs, metrics, predicted)
    model.trained_at_ = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return np.all(np.isfinite(forecasts) & (forecasts > 0), axis=(1, 2))


def adopt_kept(
    model: LSTMForecaster,
    prep: prepared.Prepared,
    results: Sequence[training.TrainResult],
    forecasts: np.ndarray | None,
) -> None:
    """``adopt`` of the members a fit keeps (``population.kept_members``); raises when every member diverged.

    ``forecasts``: the finished members' one-step forecasts (``first_forecasts``; None when
    none finished).

    The members kept become the model's ``ensemble`` setting (``use_members``), so that
    save and load agree; the others are dropped with a warning. A model whose every member
    diverged is left unfitted with its settings as they were (``set_params()``).
    """
    members, ensemble = list(model.members.settings), model.ensemble

    done = population.finished(results)

    def take(kept: list[int]) -> np.ndarray:
        model.use_members(ensemble if len(kept) == len(members) else tuple(members[j] for j in kept))
        assert forecasts is not None, "members finished, so first_forecasts made their forecasts"
        return adopt(model, prep, [results[j] for j in kept], forecasts[[done.index(j) for j in kept]])

    kept = population.kept_members(results, take)
    if not kept:
        model.use_members(ensemble)
        model.set_params()
        raise population.divergence_error(members, type(model).default_params()["learning_rate"])
    if len(kept) < len(members):
        warnings.warn(population.dropped_message(members, kept), UserWarning, stacklevel=2)


def calibrate_after_band(model: LSTMForecaster, series: np.ndarray) -> None:
    """What a fit of ``model`` on ``series`` calibrates once its band is fitted (``Forecaster.fit_rows``).

    The quantile heads' margins (``quantile_heads.fitted_band``), then with ``shrink="auto"``
    the weight toward the last price (``shrinkage.shrunk_band``), chosen from the band's
    residuals, which then measure the shrunk forecasts; the calibration models forecast
    with it too.
    """
    model.band_ = quantile_heads.fitted_band(model, series)
    if model.shrink == "auto":
        model.band_, model.shrink_ = shrinkage.shrunk_band(model.band_, close_of(series))
        for source in model.calibration_models_.values():
            source.model.shrink_ = model.shrink_
