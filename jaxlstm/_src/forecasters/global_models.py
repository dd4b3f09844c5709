"""Global models: one network trained on the windows of many series, each series encoded on its own.

``LSTMForecaster(...).fit(data)`` with several series (a ``{name: prices}`` mapping or a long
``unique_id, ds, y`` DataFrame) trains one set of weights on the windows of all of them, as
the networks that do well on the M-competitions are trained (Smyl 2020; Hewamalage, Bergmeir
and Bandara 2021). Every series is windowed, split in time and encoded on its own
(``prepared.prepare``: its encoding state is fitted on its own training part), and the
training windows of all series are concatenated into one ``TrainData``: one row of the
runner (``rows.train_rows``) per ensemble member. The head-refit calibration copy is a
global model too, trained on the head of every series, in a second runner call of the same
compiled program (the parent's padded shapes), for no more optimiser steps than the global
model's kept params took (as a local head refit, ``prepared.refit_budget``). With ``series_embedding=d`` each series also has a learned vector of ``d``
numbers that the network reads at every step (``nn.embedding.SeriesEmbedding``).

After the fit each series is a ``SeriesModel`` (``model.series_[name]``): an
``LSTMForecaster`` whose params are the shared ones (with its own embedding row) and whose
encoding state, last window, time axis and band are its own, so everything that works on
one fitted series (``forecast``, ``predict_multi_step``, ``forecast_many``, the band)
works on it. ``forecast`` of the global model is ``forecast_many`` of its series: a
``Forecasts`` mapping, every series forecast in one runner call.

The band is calibrated per series, on that series' own out-of-sample errors (its held-back
tail scored by the global model, and the head copy scored on the rest of the series). Pooled
residuals would give every series the same relative width, but related series still differ
in noise by an order of magnitude (the monthly series of the competition benchmark: one-step
log-error spreads from about 0.01 to 0.2), so a pooled band would cover the calm series far
more and the wild ones far less than its level; per-series residuals keep each series at
its level (``benchmarks/results/global.md`` measures the coverage).
"""

from __future__ import annotations

import collections
import contextvars
import dataclasses
import datetime
import functools
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training, validation
from jaxlstm._src.forecasters import continuation, lstm_state, population, prepared, rows, stacked_residuals
from jaxlstm._src.forecasters.base import read_many
from jaxlstm._src.forecasters.forecast import Forecasts
from jaxlstm._src.io.series import fingerprint, is_long, split_long
from jaxlstm._src.nn import embedding, networks
from jaxlstm._src.prep import calendars, fingerprints, horizons, seasons, windows

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module, and ``series_class`` builds on its class).
LSTMForecaster = Any

#: Series whose calibration forecasts one runner call makes (see ``SeriesModel._calibrate``).
CALIBRATION_CHUNK = 32

#: The most training windows one epoch of a global fit takes (``TrainConfig.epoch_windows``): a
#: new random sample each epoch when the series hold more. Early stopping then checks the
#: held-back windows, and counts its patience, after as many optimiser steps whatever the
#: number of series: a global model of 1,000 series of 300 prices (250,000 windows) took 49
#: full passes, 10 of them spent waiting out the patience. 2**15 leaves a pool of up to about
#: 100 such series (and every benchmark of ``benchmarks.global_models accuracy``) as it was.
EPOCH_WINDOWS = 2**15

#: ``metadata["global"]`` of a saved global model holds its series under this key.
SERIES_KEY = "series"
#: ... the series' names in the order of the params' embedding rows under this one.
ORDER_KEY = "order"
#: ... and whether the series' calibration residuals are in the saved tree (``stacked_residuals``).
RESIDUALS_KEY = stacked_residuals.RESIDUALS_KEY

#: While a global fit runs across processes (``global_processes.fit_across``): its ``Across``, which
#: trains the pools on every process's windows and sums counts over the processes. None: this process alone.
ACROSS: contextvars.ContextVar[Any] = contextvars.ContextVar("jaxlstm_global_across", default=None)


def _total(count: int) -> int:
    """``count`` summed over the processes of the global fit (itself in one process)."""
    across = ACROSS.get()
    return count if across is None else across.total(count)


def _everywhere(ok: np.ndarray) -> np.ndarray:
    """Per member, whether ``ok`` holds in every process of the global fit (``ok`` itself in one process)."""
    across = ACROSS.get()
    if across is None:
        return ok
    return np.all(np.asarray(across.gather([np.asarray(ok, bool).tolist()]), bool), axis=0)


@dataclasses.dataclass(eq=False)
class Pool:
    """The series of one global fit (compared by identity): the models of a pool share one training row per member.

    Attributes:
        embedding: the series embedding's size (0: none).
        season: the season whose window every series of the pool reads (``season_length="auto"``), once
            chosen: the season of every series, or with the seasonal encoding the largest of theirs
            (``own_seasons``).
        trained: after training, ``(params, opt_state, history, metrics)`` of the pool.
        sizes: after training, the padded sizes of its training and held-back windows.
        epoch_windows: the most windows an epoch of its training takes (None: all; ``EPOCH_WINDOWS``).
        parent: for the pool of head-refit copies, the pool they calibrate.
    """

    embedding: int = 0
    season: int | None = None
    trained: tuple[Any, Any, dict[str, np.ndarray], dict[str, Any]] | None = None
    sizes: tuple[int, int] = (0, 0)
    epoch_windows: int | None = None
    parent: Pool | None = None

    @functools.cached_property
    def head(self) -> Pool:
        """The pool of the head-refit calibration copies of this pool's series (one more global model)."""
        return Pool(self.embedding, self.season, parent=self)

    def epoch_caps(self, n_train: int, batch_size: int) -> list[int] | None:
        """A head pool's cap on each member's epochs: the optimiser steps its parent's kept params took (None: no cap).

        As for a local head refit (``prepared.refit_budget``): each member's kept
        epoch times the parent's minibatches per epoch, in whole epochs of this pool's
        ``n_train`` windows.
        """
        if self.parent is None or self.parent.trained is None:
            return None
        steps = prepared.kept_steps(self.parent.trained[3], batch_size, self.parent.epoch_windows)
        return prepared.epoch_caps(steps, n_train, batch_size, self.epoch_windows)


@functools.cache
def series_class(base: Any) -> Any:
    """The class of one series of a global model of ``base`` (``LSTMForecaster`` or a subclass), made once per class.

    Built here rather than imported: ``LSTMForecaster`` calls this module, so this module
    cannot import it.
    """

    class SeriesModel(base):
        """One series of a global model: an ``LSTMForecaster`` whose network is shared with the other series.

        Its encoding state, last window, time axis and band are its own; ``params_`` are the
        global model's (with its own row of the series embedding), ``opt_state_`` is None (the
        global model keeps the optimiser state). Built by the global fit, never by hand.
        """

        #: The series it trains with (None after ``load``: a loaded series only forecasts).
        pool_: Pool | None = None
        #: Any series has a head refit: the pool's copy trains on the heads of every series.
        min_refit_windows = 0
        #: The season whose window every series of the global model reads (its ``season_length_``); None: its own.
        window_season_: int | None = None

        @property
        def input_length(self) -> int:
            """The window of ``window_season_`` (the pool's), whatever the series' own season: every series' windows stack."""
            return seasons.default_window(self.sequence_length, self.direct_steps or 1, self.window_season_)

        #: Whether every series carries positions: some series of the pool has a season (their windows stack).
        pool_positions_: bool = False

        @property
        def reads_positions(self) -> bool:
            """``LSTMForecaster.reads_positions``, or ``pool_positions_``: a series with no season of its own too."""
            return super().reads_positions or (self.deseasonalises and self.pool_positions_)

        def use_window_season(self, season: int | None, positions: bool = False) -> None:
            """Sets ``window_season_`` and ``pool_positions_`` (what the global fit chose or a saved model used) and the window they imply."""
            self.__dict__["window_season_"] = season
            self.__dict__["pool_positions_"] = positions
            self.__dict__.pop("model_inputs", None)
            self.__dict__.pop("model_config", None)

        @functools.cached_property
        def model_config(self) -> Any:
            """``LSTMForecaster.model_config``, reading its series' embedding vector too when ``series_embedding > 0``."""
            if not self.series_embedding:
                return base.model_config.func(self)
            inner = networks.make_network(
                self.architecture,
                input_size=len(self.features) + self.series_embedding,
                hidden_size=self.hidden_size,
                output_size=self.direct_steps or 1,
                num_layers=self.num_layers,
                num_heads=self.num_heads,
            )
            return embedding.SeriesEmbedding(inner, self.series_embedding)

        def resolve_season(self, series: np.ndarray, interval: Any = None) -> int | None:
            # The global fit chose every series' season before training (``start_global``).
            if self.pool_ is None or self.season_length != "auto":
                return super().resolve_season(series, interval)
            return self.season_length_

        def continue_with(self, found: continuation.Update, fresh: np.ndarray | None) -> None:
            """Takes over an update of its series (``found``), its band extended by ``fresh`` (``[new, band_steps]``).

            The forecasts ``fresh`` were made from the update's new origins by the params
            before the update, as a local ``update`` makes them.
            """
            band = continuation.extended_band(self, found.series, self._max_calibration_origins, fresh)
            continuation.continue_with(self, found, band)

        def _unfitted_copy(self) -> Any:
            copy = super()._unfitted_copy()
            copy.pool_ = None if self.pool_ is None else self.pool_.head
            copy.use_window_season(self.window_season_, self.pool_positions_)
            return copy

        @classmethod
        def _calibrate(
            cls,
            models: Sequence[Any],
            prices: Sequence[np.ndarray],
            heads: Sequence[Any],
            *,
            workers: int | None = None,
        ) -> None:
            # One runner call for every series would hold every origin's forecasts of all of
            # them at once: a fit of 100 series of 200-400 values peaked at 2.7 GB, in calls of
            # CALIBRATION_CHUNK series at 1.2 GB. The compiled forecaster is the same for each.
            for start in range(0, len(models), CALIBRATION_CHUNK):
                part = slice(start, start + CALIBRATION_CHUNK)
                super()._calibrate(models[part], prices[part], heads[part], workers=workers)

        @classmethod
        def _fit_together(
            cls,
            models: Sequence[Any],
            prices: Sequence[np.ndarray],
            *,
            workers: int | None = None,
            devices: Sequence[jax.Device] | None = None,
            verbose: bool = False,
            budgets: Any = None,
            **fit_options: Any,
        ) -> None:
            """Trains every pool of ``models`` (the series of one global model) as one row per member, all in one runner call.

            ``budgets`` (head refits) only says that the copies are capped: a head pool's cap
            comes from its parent pool (``Pool.epoch_caps``), whose optimiser steps are the
            global model's, not any one series'.
            """
            if fit_options:
                raise TypeError(f"{base.__name__}.fit got unexpected options {sorted(fit_options)}")
            series = list(models)
            preps = [m.prepare(p) for m, p in zip(series, prices, strict=True)]
            pools: dict[int, list[int]] = {}
            for i, model in enumerate(series):
                if model.pool_ is None:
                    model.pool_ = Pool(model.series_embedding)
                pools.setdefault(id(model.pool_), []).append(i)
            capped = budgets is not None and any(b is not None for b in budgets)
            plans = [
                pool_rows([series[i] for i in found], [preps[i] for i in found], capped) for found in pools.values()
            ]
            across = ACROSS.get()
            train = rows.train_models if across is None else across.train_models
            shown = series[0].epochs if verbose and across is None else None
            results = rows.train_shown(plans, shown, train=train, workers=workers, devices=devices)
            for found, pool_results in zip(pools.values(), results, strict=True):
                adopt_pool([series[i] for i in found], [preps[i] for i in found], pool_results)

    SeriesModel.__qualname__ = SeriesModel.__name__
    return SeriesModel


def pool_network(model: LSTMForecaster, count: int) -> Any:
    """The network a pool of ``count`` series trains: the model's, with the table of ``count`` embeddings if any."""
    network = model.model_config
    if isinstance(network, embedding.SeriesEmbedding):
        return dataclasses.replace(network, count=count)
    return network


def pooled_data(
    preps: Sequence[prepared.Prepared], fraction: float, steps: int, embedded: bool, at_least: tuple[int, int] = (0, 0)
) -> training.TrainData:
    """The training and held-back windows of every series, concatenated and padded to their shape bucket.

    Each series' rows are its own ``prepare``'s (its own encoding). The padded sizes are
    those ``prepare`` gives one series of all the windows (``windows.bucketed_split``), so a
    pool of one series trains on exactly the arrays of a plain fit; with ``embedded`` each
    window also carries its series' index as a last input column.
    """
    parts: list[list[np.ndarray]] = [[] for _ in range(6)]
    for index, prep in enumerate(preps):
        data = prep.data
        train = (data.xs[: prep.n_train], data.ys[: prep.n_train], data.weights[: prep.n_train])
        held = (data.xs_val[: prep.n_val], data.ys_val[: prep.n_val], data.weights_val[: prep.n_val])
        for k, part in enumerate((*train, *held)):
            if embedded and k in (0, 3):
                column = np.full((*part.shape[:2], 1), index, part.dtype)
                parts[k].append(np.concatenate([part, column], axis=-1))
            else:
                parts[k].append(np.asarray(part))
    joined = [np.concatenate(p) for p in parts]
    n_train, n_val = joined[0].shape[0], joined[3].shape[0]
    size, size_val = windows.bucketed_split(sum(p.windows.shape[0] for p in preps), fraction, gap=steps - 1)
    size = max(size if size >= n_train else windows.bucket_size(n_train), at_least[0])
    size_val = max(size_val if size_val >= n_val else windows.bucket_size(n_val), at_least[1])
    return training.TrainData(
        *windows.pad_rows(tuple(joined[:3]), size), *windows.pad_rows(tuple(joined[3:]), size_val)
    )


def pool_rows(models: Sequence[Any], preps: Sequence[prepared.Prepared], capped: bool = False) -> list[rows.TrainRow]:
    """One training row per ensemble member of a pool: the concatenated windows of its series.

    A pool of head-refit copies (``capped``) takes its parent's padded shapes, so that both
    share one compiled trainer, and its parent's optimiser steps as its epoch caps.
    """
    lead = models[0]
    pool = lead.pool_
    network = pool_network(lead, len(models))
    members = dataclasses.replace(lead.members, network=network)
    steps = lead.direct_steps or 1
    fraction = lead.validation_fraction if lead.early_stopping else 0.0
    parent = pool.parent if capped and pool.parent is not None else None
    embedded = isinstance(network, embedding.SeriesEmbedding)
    data = pooled_data(preps, fraction, steps, embedded, parent.sizes if parent is not None else (0, 0))
    pool.sizes = (int(data.xs.shape[0]), int(data.xs_val.shape[0]))
    n_train = _total(sum(p.n_train for p in preps))
    # A head pool samples as its parent does: one compiled trainer for both (a no-op on fewer windows).
    pool.epoch_windows = (
        parent.epoch_windows if parent is not None else EPOCH_WINDOWS if n_train > EPOCH_WINDOWS else None
    )
    caps = pool.epoch_caps(n_train, lead.batch_size) if capped else None
    return rows.member_rows(members, data, members.static(epoch_windows=pool.epoch_windows), epochs=caps)


def series_params(params: Any, index: int, embedded: bool) -> Any:
    """Series ``index``'s params of a pool's (its own embedding row; the shared network otherwise)."""
    return embedding.series_params(params, index) if embedded else params


def adopt_pool(
    models: Sequence[Any], preps: Sequence[prepared.Prepared], results: Sequence[training.TrainResult]
) -> None:
    """Gives every series of a pool the trained params, its own encoding and metrics; drops diverged members.

    As a local fit does (``population.kept_members``): a member whose loss was not finite,
    or whose one-step forecasts of any series' held-back windows (the last training
    windows without any) are not finite positive prices, is dropped with a warning, and
    the members kept become every series' ``ensemble`` setting; a pool whose every member
    diverged raises, its series left unfitted. The forecasts of every series are made in
    one runner call per pass, for each series' validation MAE and the check.
    """
    lead = models[0]
    settings, ensemble = list(lead.members.settings), lead.ensemble
    validated = _total(sum(p.n_val for p in preps)) > 0
    embedded = bool(lead.series_embedding)
    checks = [prepared.checked_windows(p) for p in preps]
    kind = type(lead)
    adopted: dict[str, Any] = {}

    def adopt(kept: list[int]) -> np.ndarray:
        chosen = ensemble if len(kept) == len(settings) else tuple(settings[j] for j in kept)
        runs = [results[j] for j in kept]
        params = jax.device_put(population.adopted([r.params for r in runs]))
        history, metrics = population.summary(runs, validated)
        for index, (model, prep) in enumerate(zip(models, preps, strict=True)):
            model.use_members(chosen)
            model.params_ = series_params(params, index, embedded)
            model.opt_state_ = None
            model.encoding_state_, model.feature_state_ = prep.encoding_state, prep.feature_state
            model.history_ = history
        found = kind.member_rows(models, checks, 1)
        adopted.update(params=params, history=history, metrics=metrics, found=found, runs=runs)
        return _everywhere(np.all([np.all(np.isfinite(f) & (f > 0), axis=(1, 2)) for f in found], axis=0))

    kept = population.kept_members(results, adopt)
    if not kept:
        for model in models:
            model.use_members(ensemble)
            model.params_ = None
        raise population.divergence_error(settings, float(kind.default_params()["learning_rate"]))
    if len(kept) < len(settings):
        warnings.warn(population.dropped_message(settings, kept), UserWarning, stacklevel=validation.user_stacklevel())
    metrics = adopted["metrics"]
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    for model, prep, found in zip(models, preps, adopted["found"], strict=True):
        predicted = population.combined(found, model.combine)[:, 0]
        model.metrics_ = prepared.fit_metrics(prep, model.model_inputs, metrics, predicted)
        model.trained_at_ = stamp
    opt_state = jax.tree.map(np.asarray, population.adopted([r.opt_state for r in adopted["runs"]]))
    totals = {
        "n_train_windows": _total(sum(p.n_train for p in preps)),
        "n_val_windows": _total(sum(p.n_val for p in preps)),
    }
    assert lead.pool_ is not None
    lead.pool_.trained = (
        adopted["params"],
        opt_state,
        adopted["history"],
        {**metrics, "series": _total(len(models)), **totals},
    )


def choose_season(model: LSTMForecaster, found: Mapping[str, Any]) -> int | None:
    """The one season of a global fit with ``season_length="auto"``: the one most series show (None if most show none).

    Each series' season is detected on its own training part (``resolve_season``); a
    season some series is too short to train with is not used.
    """
    detected = []
    for item in found.values():
        probe = type(model)(**model.get_params())
        detected.append(probe.resolve_season(item.prices, item.interval))
    across = ACROSS.get()
    if across is not None:  # every process's series, in the order one process would see them
        detected = across.gather(detected)
    season = Counter(detected).most_common(1)[0][0]
    if season is not None:
        probe = type(model)(**model.get_params())
        probe.use_season(season)
        if _total(sum(item.prices.shape[0] < probe.min_fit_length + 1 for item in found.values())):
            return None
    return season


def combined_fingerprint(prints: Mapping[str, fingerprints.DataFingerprint]) -> fingerprints.DataFingerprint:
    """One record of many series (``jaxlstm.data.fingerprint`` of a mapping or long frame gives the same)."""
    return fingerprints.combine(prints)


class Start(NamedTuple):
    """One global model of ``fit_globals`` before training: its data as a mapping, each series read, its pool."""

    model: Any
    data: Mapping[str, Any]
    found: dict[str, Any]
    pool: Pool


def fit_global(
    model: LSTMForecaster,
    data: Any,
    *,
    interval: Any = None,
    gaps: str = "warn",
    verbose: bool = False,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> None:
    """Fits ``model`` (unfitted, as ``fit`` leaves it) as one global model of every series of ``data``.

    Args:
        model: the model to fit; its settings apply to every series.
        data: ``{name: prices}`` (each in any form ``fit`` accepts) or a long DataFrame
            (``unique_id, ds, y``); every series at least ``min_fit_length`` prices, all at
            one interval.
        interval, gaps: as ``fit`` takes them (the same for every series).
        verbose, workers, devices: as ``fit`` and ``fit_many`` take them.

    Raises:
        TypeError: ``data`` is not a non-empty mapping of string names, or has a series
            no forecaster reads.
        ValueError: a series that is too short, holds a NaN or a non-positive price, or is at
            another interval than the first (each named ``data['name']``).
    """
    fit_globals([model], [data], interval=interval, gaps=gaps, verbose=verbose, workers=workers, devices=devices)


def fit_globals(
    models: Sequence[LSTMForecaster],
    datas: Sequence[Any],
    *,
    interval: Any = None,
    gaps: str = "warn",
    verbose: bool = False,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
) -> None:
    """Fits each model of one class as a global model of its own data, all as rows of the same runner calls.

    Each model is one pool (``fit_global`` of one model is this with one): the members of
    every pool train in one runner call, then every pool's head-refit copies in a second
    (``fit_rows`` groups the pools), then the calibration forecasts. ``backtest`` fits the
    global model of every origin here: origins x members are the rows of one call.

    Args:
        models: unfitted models of one class.
        datas: one ``data`` per model, as ``fit_global`` takes it.
        interval, gaps, verbose, workers, devices: as ``fit_global`` takes them.
    """
    if len(models) != len(datas) or not models:
        raise ValueError(f"fit_globals needs one data per model, got {len(models)} models and {len(datas)} data")
    kinds = {type(model) for model in models}
    if len(kinds) > 1:
        raise TypeError(f"fit_globals fits models of one class, got {sorted(k.__name__ for k in kinds)}")
    kind = series_class(cast(Any, type(models[0])))
    starts = [start_global(model, data, interval, gaps) for model, data in zip(models, datas, strict=True)]
    items = [item for start in starts for item in start.found.values()]
    kind.fit_rows(
        [item.model for item in items],
        [item.prices for item in items],
        timestamps=[item.timestamps for item in items],
        interval=[item.interval for item in items],
        source=[fingerprints.source_of(item) for start in starts for item in start.data.values()],
        workers=workers,
        devices=devices,
        verbose=verbose,
    )
    for start in starts:
        finish_global(start, interval)


def start_global(model: LSTMForecaster, data: Any, interval: Any, gaps: str) -> Start:
    """Reads and checks every series of ``data`` for ``model`` and gives each a view in one new pool (before training)."""
    pool = Pool(model.series_embedding)
    settings = {**model.get_params()}
    kind = series_class(cast(Any, type(model)))
    data, found = read_many(data, lambda name: kind(**{**settings, "symbol": name}), interval, gaps)
    names = list(found)
    first = found[names[0]].interval
    for name in names[1:]:
        if found[name].interval != first:
            raise ValueError(
                f"data[{name!r}] is at an interval of {horizons.format_interval(found[name].interval)}, but "
                f"data[{names[0]!r}] at {horizons.format_interval(first)}: a global model's series share one "
                "interval (fit each interval's series as their own global model)"
            )
    own: dict[str, int | None] = {}
    positions = model.reads_positions
    if model.season_length == "auto":
        if model.deseasonalises:
            own, pool.season, positions = own_seasons(model, found)
        else:
            pool.season = choose_season(model, found)
        model.use_season(pool.season)
    parts, step = pool_calendar(model, found)
    model.use_calendar(parts, step)
    for name, item in found.items():
        view: Any = item.model
        view.pool_ = pool
        view.use_season(own.get(name, model.season_length_))
        view.use_window_season(model.season_length_, positions)
        view.use_calendar(parts, step)
    return Start(model, data, found, pool)


def own_seasons(model: LSTMForecaster, found: Mapping[str, Any]) -> tuple[dict[str, int | None], int | None, bool]:
    """Each series' own season (``encoding="seasonal"``, ``season_length="auto"``), the season of the common window, and whether any series has one.

    Each series detects its season on its own training part (``resolve_season``), and its
    encoding removes that season: series of one global model may have different seasons.
    Their windows must have one length to be stacked, so every series reads the window of
    the season most series have (of those every series is long enough to train with; the
    longer of equally common ones; None: the ``sequence_length`` window); a series whose
    season is longer keeps its season in its encoding and reads the shorter window. The
    largest season would let one series (or one chance detection among thousands) lengthen
    every window: on 1,000 synthetic series with a weak 12-step season, 15% found a season,
    a few of them 72 steps, and a window of 90 steps made the fit cost four times the CPU.
    """
    detected = {}
    for name, item in found.items():
        probe = type(model)(**model.get_params())
        detected[name] = probe.resolve_season(item.prices, item.interval)
    seen = [m for m in detected.values() if m is not None]
    across = ACROSS.get()
    if across is not None:  # the window is one for the series of every process
        seen = across.gather(seen)
    probe = type(model)(**model.get_params())
    counts = collections.Counter(seen)
    for season in sorted(counts, key=lambda m: (counts[m], m), reverse=True):
        probe.use_season(season)
        if not _total(sum(item.prices.shape[0] < probe.min_fit_length + 1 for item in found.values())):
            return detected, season, True
    return detected, None, bool(seen)


def pool_calendar(model: LSTMForecaster, found: Mapping[str, Any]) -> tuple[tuple[str, ...], int]:
    """The calendar parts and spacing every series of a global model reads (``calendars.resolve`` of each series).

    Each series' clock comes from its own timestamps, but the network reads one set of
    inputs: series for which ``calendar`` resolves differently (``"auto"`` with some series
    undated or irregular) are refused, naming two of them.
    """
    if model.calendar is None:
        return (), 0
    resolved = {
        name: calendars.resolve(model.calendar, item.timestamps, item.interval, f"data[{name!r}]")
        for name, item in found.items()
    }
    first = next(iter(resolved))
    for name, got in resolved.items():
        if got != resolved[first]:
            raise ValueError(
                f"calendar={model.calendar!r} gives data[{first!r}] the calendar inputs {resolved[first][0]} and "
                f"data[{name!r}] {got[0]}: the series of a global model read one calendar, so each needs regularly "
                "spaced timestamps at one interval (or fit with calendar=None)"
            )
    across = ACROSS.get()
    if across is not None:  # and one calendar for the series of every process
        every = {(tuple(parts), int(step)) for parts, step in across.gather([list(resolved[first])])}
        if len(every) > 1:
            raise ValueError(
                f"calendar={model.calendar!r} gives the series of the processes different calendar inputs "
                f"{sorted(parts for parts, _ in every)}: a global model's series read one calendar"
            )
    return resolved[first]


def finish_global(start: Start, interval: Any) -> None:
    """Gives a global model its trained pool: the shared params, its series' views, what it was trained on."""
    model, data, found, pool = start
    for name, item in found.items():
        if item.filled:
            item.model.trained_on_ = fingerprint(data[name], interval, item.model.input_columns)
    assert pool.trained is not None, "the pool trained"
    views = [item.model for item in found.values()]
    model.params_, model.opt_state_, model.history_, model.metrics_ = pool.trained
    model.use_members(views[0].ensemble)
    model.series_ = dict(zip(found, views, strict=True))
    model.interval_ = views[0].interval_
    model.trained_on_ = combined_fingerprint({name: view.trained_on_ for name, view in model.series_.items()})
    model.trained_at_ = views[0].trained_at_


def one_series_only(model: LSTMForecaster) -> ValueError:
    """The error of what only a model of one series does (a window's forecast) asked of a global model."""
    count = len(model.series_ or {})
    return ValueError(
        f"{model!r} is a global model of {count} series: forecast(...) forecasts them all, and series_[name] is "
        "one of them, a fitted model of one series (predict_multi_step, forecast, save)"
    )


def forecast(model: LSTMForecaster, horizon: Any, steps: int | None, confidence: float | None, level: Any) -> Forecasts:
    """``forecast`` of a global model: ``forecast_many`` of its series (one runner call), a ``Forecasts`` mapping."""
    assert model.series_ is not None
    return series_class(cast(Any, type(model))).forecast_many(model.series_, horizon, steps, confidence, level=level)


def named_series(model: LSTMForecaster, data: Any, verb: str) -> Mapping[str, Any]:
    """``{name: new prices}`` of some of a global model's series, from a mapping or a long frame, for ``update`` or ``observe``.

    Raises:
        TypeError: ``data`` is not a non-empty mapping of series names (nor a long frame).
        ValueError: a series the model does not have.
    """
    views = model.series_ or {}
    named = split_long(data, name="data") if is_long(data) else data
    if not isinstance(named, Mapping) or not named:
        raise TypeError(
            f"data must be a non-empty mapping of series name -> new prices or a long DataFrame (unique_id, ds, y) "
            f"to {verb} the global model {model!r}, got {type(data).__name__}"
            + (" with no series" if isinstance(named, Mapping) else "")
        )
    unknown = [name for name in named if name not in views]
    if unknown:
        listed = ", ".join(repr(name) for name in list(views)[:10]) + (", ..." if len(views) > 10 else "")
        raise ValueError(f"data names series {unknown[:10]} that the global model does not have; it has {listed}")
    return named


def observe(model: LSTMForecaster, data: Any, interval: Any) -> None:
    """``observe`` of a global model: each series named in ``data`` forecasts from the end of its new prices.

    Each is observed as a local model observes (``Forecaster.observe``: the same checks,
    nothing fitted changes); the series not named keep their windows. All or nothing: a
    series whose data is refused leaves every series as it was.
    """
    views = model.series_ or {}
    named = named_series(model, data, "observe")
    kept = {name: (view.prices_, view.last_timestamp_, view.interval_) for name, view in views.items()}
    try:
        for name in (name for name in views if name in named):
            try:
                views[name].observe(named[name], interval=interval)
            except ValueError as err:
                raise ValueError(f"data[{name!r}]: {err}") from None
    except BaseException:
        for name, (prices, last, step) in kept.items():
            views[name].prices_, views[name].last_timestamp_, views[name].interval_ = prices, last, step
        raise


def update(model: LSTMForecaster, data: Any, *, epochs: int, interval: Any, allow_gap: bool) -> None:
    """``update`` of a global model: the shared params continue training on the new prices of some or all series.

    Each series named in ``data`` is continued as a local ``update`` continues its model
    (``continuation.read_update``: the rules of new prices, its own fitted encoding, one
    window per new price after its last window); the windows of every series are trained
    together, one row per ensemble member in one runner call, from the global model's
    params and optimiser state, for ``epochs`` epochs without early stopping. Before
    training, the forecasts from every new origin of every series are made in one runner
    call and join that series' calibration residuals. Every series then forecasts with
    the new params; those not in ``data`` keep their prices and band, whose residuals are
    from then on fixed arrays (as after a local update).

    Args:
        model: a fitted global model (``series_`` set).
        data: ``{name: new prices}`` (each in any form ``fit`` accepts) or a long DataFrame
            (``unique_id, ds, y``), naming series of the model.
        epochs, interval, allow_gap: as ``update`` takes them (checked by it), for every series.

    Raises:
        TypeError: ``data`` is not a non-empty mapping of series names.
        ValueError: a series the model does not have, new prices that do not continue a
            series (named ``data['name']``), or a diverged update; the model is then unchanged.
    """
    assert model.series_ is not None and model.params_ is not None
    views = model.series_
    named = named_series(model, data, "update")
    names = [name for name in views if name in named]
    found = {
        name: continuation.read_update(views[name], named[name], f"data[{name!r}]", interval, allow_gap)
        for name in names
    }
    lead = views[names[0]]
    # Every series' forecasts from its new origins, by the params before the update: one runner call.
    scored = [name for name in names if views[name].band_ is not None and views[name].band_.needs_residuals]
    origin_windows = [
        windows.windows_before(
            found[name].series,
            np.arange(views[name].window_length, found[name].series.shape[0]),
            views[name].window_length,
        )
        for name in scored
    ]
    predicted = type(lead).predict_rows([views[name] for name in scored], origin_windows, lead.band_steps)
    fresh = dict(zip(scored, predicted, strict=True))
    embedded = bool(lead.series_embedding)
    position = {name: index for index, name in enumerate(views)}
    data_ = update_data([found[name] for name in names], [position[name] for name in names] if embedded else None)
    members = dataclasses.replace(lead.members, network=pool_network(lead, len(views)))
    count = int((model.metrics_ or {}).get("updates", 0)) + 1
    trees = population.member_trees(model.params_, model.opt_state_, model.n_members)
    results = rows.update_rows(members, trees, data_, epochs, count)
    if any(r.epochs_run < epochs for r in results):
        raise ValueError("update diverged (non-finite loss); the model is unchanged, check the data")
    params, model.opt_state_ = population.adopted_state(results)
    model.params_ = params
    changes = {"updates": count, "update_train_loss": float(np.mean([r.train_loss[-1] for r in results]))}
    model.metrics_ = {**(model.metrics_ or {}), **changes}
    for index, (name, view) in enumerate(views.items()):
        view.params_ = series_params(params, index, embedded)
        view.metrics_ = {**(view.metrics_ or {}), **changes}
        if name in found:
            view.continue_with(found[name], fresh.get(name))
        else:
            view.calibration_models_ = {}
    model.trained_at_ = views[names[0]].trained_at_


def update_data(updates: Sequence[continuation.Update], indices: Sequence[int] | None) -> training.TrainData:
    """The update windows of several series, concatenated and padded to their shape bucket (no held-back part).

    ``indices``: with a series embedding, each series' row in the table, added to its
    windows as a last input column (as ``pooled_data`` does); None without. One series'
    arrays are those of its local update.
    """
    parts: list[list[np.ndarray]] = [[], [], []]
    for k, found in enumerate(updates):
        xs, ys, weights = (np.asarray(a)[: found.n_windows] for a in found.data[:3])
        if indices is not None:
            xs = np.concatenate([xs, np.full((*xs.shape[:2], 1), indices[k], xs.dtype)], axis=-1)
        for part, array in zip(parts, (xs, ys, weights), strict=True):
            part.append(array)
    xs, ys, weights = (np.concatenate(part) for part in parts)
    xs_pad, ys_pad, weights_pad = windows.pad_rows((xs, ys, weights), windows.bucket_size(xs.shape[0]))
    return training.TrainData(xs_pad, ys_pad, weights_pad, xs[:0], ys[:0], weights[:0])


# ---------------------------------------------------------------------- persistence

#: What a series keeps of ``lstm_state.metadata`` (the rest is the global model's).
_SERIES_FIELDS = ("encoding", "season", "features", "data", "metrics", "calibration", "trained_on", "shrink")
#: ... and what it keeps that models saved before it had not (absent: none).
_NEWER_SERIES_FIELDS = ("calendar",)


def saved_parts(model: LSTMForecaster, *, residual_arrays: bool = True) -> tuple[Any, dict[str, Any]]:
    """``(saved tree, metadata)`` of a global model: the shared params and optimiser state, and every series' state.

    Checked to rebuild as ``load`` does (``from_parts``); a model that would not is a
    ``ValueError`` and nothing is written. With ``residual_arrays`` the series' calibration
    residuals are stacked arrays of the tree (``stacked_residuals``; what ``save`` writes),
    else JSON rows in each series' metadata (the layout of earlier versions, which processes
    gather as JSON, ``global_processes``).
    """
    model.check_fitted()
    assert model.series_ is not None and model.history_ is not None and model.trained_on_ is not None
    settings = model.get_params()
    symbol = settings.pop("symbol")
    tree = lstm_state.saved_tree(model)
    series = {}
    moved: set[str] = set()
    if residual_arrays:
        tree, moved = stacked_residuals.into_tree(tree, [view.band_.residuals for view in model.series_.values()])
    for name, view in model.series_.items():
        # The rows in the arrays are left out; sources without rows stay in the metadata.
        found = lstm_state.metadata(view, residual_rows=not moved)
        series[name] = {key: found[key] for key in (*_SERIES_FIELDS, *_NEWER_SERIES_FIELDS)}
    metadata = {
        "model": lstm_state.MODEL_KIND,
        "symbol": symbol,
        "trained_at": model.trained_at_,
        "settings": settings,
        # The season of the window every series reads (each series' own is in its metadata).
        "season": {"length": model.season_length_},
        "calendar": {"parts": list(model.calendar_), "step_seconds": model.calendar_step_},
        "metrics": model.metrics_,
        "history": {k: [float(x) for x in v] for k, v in model.history_.items()},
        "trained_on": model.trained_on_.to_json(),
        # JSON objects come back with sorted keys: the order says which embedding row is whose.
        "global": {SERIES_KEY: series, ORDER_KEY: list(series), RESIDUALS_KEY: bool(moved)},
    }
    try:
        rebuild(type(model), tree, metadata)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(
            f"cannot save {model!r}: its settings and fitted state disagree ({type(err).__name__}: {err})"
        ) from None
    return tree, metadata


def view_of(kind: Any, window_season: int | None, positions: bool, **settings: Any) -> Any:
    """An unfitted series of a global model (``kind``) that reads the window of ``window_season`` (positions: ``use_window_season``)."""
    view = kind(**settings)
    view.use_window_season(window_season, positions)
    return view


def is_saved_global(metadata: Any) -> bool:
    """Whether saved metadata is a global model's."""
    return isinstance(metadata, dict) and isinstance(metadata.get("global"), dict)


def from_parts(cls: Any, tree: Any, metadata: Any, source: str) -> LSTMForecaster:
    """The global model ``saved_parts`` described; anything odd is a ``ValueError`` naming ``source``."""
    return lstm_state.from_parts(cls, tree, metadata, source, build=rebuild)


def rebuild(cls: Any, tree: Any, metadata: dict[str, Any]) -> LSTMForecaster:
    """``from_parts`` without its messages: every series rebuilt by ``lstm_state.rebuild`` on its share of the params."""
    settings = dict(metadata["settings"])
    model = cls(**settings, symbol=metadata.get("symbol"))
    series = metadata["global"][SERIES_KEY]
    if not isinstance(series, dict) or not series:
        raise ValueError("the global model lists no series")
    if model.season_length == "auto":
        model.use_season((metadata.get("season") or {}).get("length"))
    calendar = metadata.get("calendar") or {"parts": [], "step_seconds": 0}  # saved before calendar inputs: none
    parts = tuple(calendar["parts"])
    step = validation.check_positive_int("calendar step", calendar["step_seconds"]) if parts else 0
    model.use_calendar(cast(tuple[str, ...], calendars.check_calendar(parts)) if parts else (), step)
    order = metadata["global"].get(ORDER_KEY, list(series))  # models saved before the order was kept
    if not isinstance(order, list) or sorted(map(str, order)) != sorted(series) or len(set(order)) != len(order):
        raise ValueError(f"the saved order of the series must list each of {sorted(series)} once, got {order!r:.200}")
    residuals: list[dict[str, np.ndarray]] = [{} for _ in order]
    if metadata["global"].get(RESIDUALS_KEY):
        tree, residuals = stacked_residuals.out_of_tree(tree, len(order))
    params, opt_leaves = lstm_state.split_saved_tree(tree)
    kind = series_class(cls)
    probe = kind(**settings)
    probe.use_season(model.season_length_)
    probe.use_calendar(model.calendar_, model.calendar_step_)
    network = pool_network(probe, len(series))
    members = dataclasses.replace(probe.members, network=network)
    params_template, opt_template = (lstm_state.with_members(t, probe.n_members) for t in members.templates())
    params = jax.tree.map(jnp.asarray, params)
    if not lstm_state.matches(params, params_template):
        raise ValueError("params do not match the saved settings")
    opt_state = None
    if opt_leaves is not None:
        if len(opt_leaves) != len(jax.tree.leaves(opt_template)):
            raise ValueError("optimiser state does not match the saved settings")
        opt_state = jax.tree.unflatten(jax.tree.structure(opt_template), [np.asarray(x) for x in opt_leaves])
        if not lstm_state.matches(opt_state, opt_template):
            raise ValueError("optimiser state does not match the saved settings")
    embedded = isinstance(network, embedding.SeriesEmbedding)
    # Every series carries positions when any has a season (as start_global decided).
    positions = probe.reads_positions or (
        probe.deseasonalises
        and any(isinstance(series[name], dict) and (series[name].get("season") or {}).get("length") for name in order)
    )
    views: dict[str, Any] = {}
    for index, name in enumerate(order):
        saved = series[name]
        if not isinstance(saved, dict):
            raise ValueError(f"series {name!r} is not a saved series")
        found = {
            **{key: saved[key] for key in _SERIES_FIELDS},
            **{key: saved[key] for key in _NEWER_SERIES_FIELDS if key in saved},
            "model": lstm_state.MODEL_KIND,
            "settings": settings,
            "symbol": name,
            "trained_at": metadata.get("trained_at"),
            "history": metadata["history"],
        }
        view = lstm_state.rebuild(
            functools.partial(view_of, kind, model.season_length_, positions),
            series_params(params, index, embedded),
            found,
        )
        if residuals[index]:
            view.band_ = view.band_.with_residuals(dict(sorted({**view.band_.residuals, **residuals[index]}.items())))
        views[name] = view
    model.params_, model.opt_state_ = params, opt_state
    model.metrics_ = dict(metadata["metrics"])
    model.history_ = {k: np.asarray(v, np.float64) for k, v in dict(metadata["history"]).items()}
    model.trained_at_ = metadata.get("trained_at")
    model.trained_on_ = fingerprints.DataFingerprint.from_json(metadata["trained_on"])
    model.series_ = views
    model.interval_ = next(iter(views.values())).interval_
    return model
