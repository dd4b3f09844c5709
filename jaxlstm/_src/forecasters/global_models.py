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
model's kept params took (as a local head refit, ``LSTMForecaster._refit_budget``). With ``series_embedding=d`` each series also has a learned vector of ``d``
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

import contextvars
import dataclasses
import datetime
import functools
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, cast

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import training
from jaxlstm._src.forecasters import lstm_state, population, prepared, progress, rows
from jaxlstm._src.forecasters.base import read_many
from jaxlstm._src.forecasters.forecast import Forecasts
from jaxlstm._src.io.pandas_import import is_pandas
from jaxlstm._src.io.series import fingerprint
from jaxlstm._src.nn import embedding, networks
from jaxlstm._src.prep import fingerprints, horizons, windows

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module, and ``series_class`` builds on its class).
LSTMForecaster = Any

#: Series whose calibration forecasts one runner call makes (see ``SeriesModel._calibrate``).
CALIBRATION_CHUNK = 32

#: ``metadata["global"]`` of a saved global model holds its series under this key.
SERIES_KEY = "series"

#: While a global fit runs across processes (``global_processes.fit_across``): its ``Across``, which
#: trains the pools on every process's windows and sums counts over the processes. None: this process alone.
ACROSS: contextvars.ContextVar[Any] = contextvars.ContextVar("jaxlstm_global_across", default=None)


def _total(count: int) -> int:
    """``count`` summed over the processes of the global fit (itself in one process)."""
    across = ACROSS.get()
    return count if across is None else across.total(count)


def is_many(data: Any) -> bool:
    """Whether ``fit(data)`` is a global fit: a mapping of series, or a long DataFrame (``unique_id`` column)."""
    return isinstance(data, Mapping) or (is_pandas(data, "DataFrame") and "unique_id" in data.columns)


@dataclasses.dataclass(eq=False)
class Pool:
    """The series of one global fit (compared by identity): the models of a pool share one training row per member.

    Attributes:
        embedding: the series embedding's size (0: none).
        season: the season every series of the pool uses (one window for all), once chosen.
        trained: after training, ``(params, opt_state, history, metrics)`` of the pool.
        sizes: after training, the padded sizes of its training and held-back windows.
        parent: for the pool of head-refit copies, the pool they calibrate.
    """

    embedding: int = 0
    season: int | None = None
    trained: tuple[Any, Any, dict[str, np.ndarray], dict[str, Any]] | None = None
    sizes: tuple[int, int] = (0, 0)
    parent: Pool | None = None

    @functools.cached_property
    def head(self) -> Pool:
        """The pool of the head-refit calibration copies of this pool's series (one more global model)."""
        return Pool(self.embedding, self.season, parent=self)

    def epoch_caps(self, n_train: int, batch_size: int) -> list[int] | None:
        """A head pool's cap on each member's epochs: the optimiser steps its parent's kept params took (None: no cap).

        As for a local head refit (``LSTMForecaster._refit_budget``): each member's kept
        epoch times the parent's minibatches per epoch, in whole epochs of this pool's
        ``n_train`` windows.
        """
        if self.parent is None or self.parent.trained is None:
            return None
        metrics = self.parent.trained[3]
        kept = metrics.get("member_best_epochs") or [metrics["best_epoch"]]
        steps = [max(1, int(epoch)) * prepared.minibatches(metrics["n_train_windows"], batch_size) for epoch in kept]
        return [-(-count // prepared.minibatches(n_train, batch_size)) for count in steps]


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
            # Every series of a pool reads windows of one length: the pool's season.
            if self.pool_ is None or self.season_length != "auto":
                return super().resolve_season(series, interval)
            self.use_season(self.pool_.season)
            return self.season_length_

        def _unfitted_copy(self) -> Any:
            copy = super()._unfitted_copy()
            copy.pool_ = None if self.pool_ is None else self.pool_.head
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
            with progress.Shown(series[0].epochs if verbose and across is None else None) as shown:
                results = train(
                    plans, workers=workers, devices=devices, progress_tag=shown.tag, progress_callback=progress.RELAY
                )
                shown.finish(int(results[0][0].epochs_run), str(results[0][0].stop_reason))
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
    caps = pool.epoch_caps(_total(sum(p.n_train for p in preps)), lead.batch_size) if capped else None
    return rows.member_rows(members, data, members.static(), epochs=caps)


def series_params(params: Any, index: int, embedded: bool) -> Any:
    """Series ``index``'s params of a pool's (its own embedding row; the shared network otherwise)."""
    return embedding.series_params(params, index) if embedded else params


def adopt_pool(
    models: Sequence[Any], preps: Sequence[prepared.Prepared], results: Sequence[training.TrainResult]
) -> None:
    """Gives every series of a pool the trained params, its own encoding and metrics; refuses a diverged fit.

    The one-step forecasts of every series' held-back windows (the last training windows
    without any) are made in one runner call, for each series' validation MAE and the
    divergence check. Unlike a local ensemble, a global one whose member diverged is not
    thinned: the fit raises.
    """
    lead = models[0]
    default_rate = float(type(lead).default_params()["learning_rate"])
    if len(population.finished(results)) < len(results):
        raise population.divergence_error(lead.members.settings, default_rate)
    params = jax.tree.map(jnp.asarray, population.adopted([r.params for r in results]))
    opt_state = jax.tree.map(np.asarray, population.adopted([r.opt_state for r in results]))
    validated = _total(sum(p.n_val for p in preps)) > 0
    history, metrics = population.summary(results, validated)
    embedded = bool(lead.series_embedding)
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    for index, (model, prep) in enumerate(zip(models, preps, strict=True)):
        model.params_ = series_params(params, index, embedded)
        model.opt_state_ = None
        model.encoding_state_, model.feature_state_ = prep.encoding_state, prep.feature_state
        model.history_, model.trained_at_ = history, stamp
    checks = [p.held_back if p.n_val else p.windows[: p.n_train][-64:] for p in preps]
    found = type(lead).predict_rows(models, checks, 1)
    bad = [m.symbol for m, predicted in zip(models, found) if not np.all(np.isfinite(predicted) & (predicted > 0))]
    if _total(len(bad)):  # decided alike in every process of a fit across processes
        for m in models:
            m.params_ = None
        raise population.divergence_error(lead.members.settings, default_rate) from ValueError(
            f"series {bad[0]!r} forecasts non-finite or non-positive prices"
            if bad
            else "a series of another process forecasts non-finite or non-positive prices"
        )
    for model, prep, predicted in zip(models, preps, found, strict=True):
        errors = prepared.validation_errors(prep, model.model_inputs, predicted[:, 0])
        model.metrics_ = {**metrics, "n_train_windows": int(prep.n_train), "n_val_windows": int(prep.n_val), **errors}
    totals = {
        "n_train_windows": _total(sum(p.n_train for p in preps)),
        "n_val_windows": _total(sum(p.n_val for p in preps)),
    }
    assert lead.pool_ is not None
    lead.pool_.trained = (params, opt_state, history, {**metrics, "series": _total(len(models)), **totals})


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
    if model.season_length == "auto":
        pool.season = choose_season(model, found)
        model.use_season(pool.season)
    views: list[Any] = [item.model for item in found.values()]
    for view in views:
        view.pool_ = pool
    kind.fit_rows(
        views,
        [item.prices for item in found.values()],
        timestamps=[item.timestamps for item in found.values()],
        interval=[item.interval for item in found.values()],
        source=[fingerprints.source_of(item) for item in data.values()],
        workers=workers,
        devices=devices,
        verbose=verbose,
    )
    for name, item in found.items():
        if item.filled:
            item.model.trained_on_ = fingerprint(data[name], interval, item.model.input_columns)
    assert pool.trained is not None, "the pool trained"
    model.params_, model.opt_state_, model.history_, model.metrics_ = pool.trained
    model.series_ = dict(zip(names, views, strict=True))
    model.interval_ = first
    model.trained_on_ = combined_fingerprint({name: view.trained_on_ for name, view in model.series_.items()})
    model.trained_at_ = views[0].trained_at_


def one_series_only(model: LSTMForecaster) -> ValueError:
    """The error of what only a model of one series does (a window's forecast, ``update``) asked of a global model."""
    count = len(model.series_ or {})
    return ValueError(
        f"{model!r} is a global model of {count} series: forecast(...) forecasts them all, and series_[name] is "
        "one of them, a fitted model of one series (predict_multi_step, forecast, save); update is for a model "
        "of one series (refit a global model on the longer series)"
    )


def forecast(model: LSTMForecaster, horizon: Any, steps: int | None, confidence: float, level: Any) -> Forecasts:
    """``forecast`` of a global model: ``forecast_many`` of its series (one runner call), a ``Forecasts`` mapping."""
    assert model.series_ is not None
    return series_class(cast(Any, type(model))).forecast_many(model.series_, horizon, steps, confidence, level=level)


# ---------------------------------------------------------------------- persistence

#: What a series keeps of ``lstm_state.metadata`` (the rest is the global model's).
_SERIES_FIELDS = ("encoding", "season", "features", "data", "metrics", "calibration", "trained_on", "shrink")


def saved_parts(model: LSTMForecaster) -> tuple[Any, dict[str, Any]]:
    """``(saved tree, metadata)`` of a global model: the shared params and optimiser state, and every series' state.

    Checked to rebuild as ``load`` does (``from_parts``); a model that would not is a
    ``ValueError`` and nothing is written.
    """
    model.check_fitted()
    assert model.series_ is not None and model.history_ is not None and model.trained_on_ is not None
    settings = model.get_params()
    symbol = settings.pop("symbol")
    tree = lstm_state.saved_tree(model)
    series = {}
    for name, view in model.series_.items():
        found = lstm_state.metadata(view)
        series[name] = {key: found[key] for key in _SERIES_FIELDS}
    metadata = {
        "model": lstm_state.MODEL_KIND,
        "symbol": symbol,
        "trained_at": model.trained_at_,
        "settings": settings,
        "season": {"length": model.season_length_},
        "metrics": model.metrics_,
        "history": {k: [float(x) for x in v] for k, v in model.history_.items()},
        "trained_on": model.trained_on_.to_json(),
        "global": {SERIES_KEY: series},
    }
    try:
        rebuild(type(model), tree, metadata)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ValueError(
            f"cannot save {model!r}: its settings and fitted state disagree ({type(err).__name__}: {err})"
        ) from None
    return tree, metadata


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
    params, opt_leaves = lstm_state.split_saved_tree(tree)
    kind = series_class(cls)
    probe = kind(**settings)
    probe.use_season(model.season_length_)
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
    views: dict[str, Any] = {}
    for index, (name, saved) in enumerate(series.items()):
        if not isinstance(name, str) or not isinstance(saved, dict):
            raise ValueError(f"series {name!r} is not a saved series")
        found = {
            **{key: saved[key] for key in _SERIES_FIELDS},
            "model": lstm_state.MODEL_KIND,
            "settings": settings,
            "symbol": name,
            "trained_at": metadata.get("trained_at"),
            "history": metadata["history"],
        }
        views[name] = lstm_state.rebuild(kind, series_params(params, index, embedded), found)
    model.params_, model.opt_state_ = params, opt_state
    model.metrics_ = dict(metadata["metrics"])
    model.history_ = {k: np.asarray(v, np.float64) for k, v in dict(metadata["history"]).items()}
    model.trained_at_ = metadata.get("trained_at")
    model.trained_on_ = fingerprints.DataFingerprint.from_json(metadata["trained_on"])
    model.series_ = views
    model.interval_ = next(iter(views.values())).interval_
    return model
