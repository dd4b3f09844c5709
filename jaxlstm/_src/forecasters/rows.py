"""Rows of the runner: what one row computes for a network forecaster, and many models' rows grouped into calls.

Every fit and every forecast of a network forecaster is a row of ``stacked.run_stacked``:
one ensemble member of one model (a fit, a calibration refit, a tuning trial, a backtest
origin, a symbol of ``fit_many``). ``train_rows`` and ``forecast_rows`` group rows of equal
static settings and shapes into one call each; the one-model functions below are what a
row runs (module-level, so that their compilation is reused).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxlstm._src import stacked, training, validation
from jaxlstm._src.forecasters import bands, population, progress, shrinkage
from jaxlstm._src.prep import encodings, windows
from jaxlstm._src.prep import inputs as inputs_lib


def fit_one_model(
    key: jax.Array,
    params: Any,
    data: training.TrainData,
    opt_state: Any,
    tag: jax.Array,
    epochs: jax.Array,
    *,
    config: Any,
    network: Any,
    callback: Any = None,
    loss: Any = training.mse,
) -> training.TrainResult:
    """One model's ``fit_arrays`` from its own optimiser state, for at most ``epochs`` epochs (what ``run_stacked`` maps over rows).

    ``tag`` routes the per-epoch progress of a verbose fit (``progress.RELAY``, a static
    ``callback``); rows without a progress bar carry a tag no bar listens to. ``epochs`` is
    a row's own cap below ``config.epochs`` (a head refit's budget), traced, so rows of
    different caps share one program.
    """
    return training.fit_arrays(
        key,
        params,
        data,
        config,
        network=network,
        loss=loss,
        opt_state=opt_state,
        callback=callback,
        callback_tag=tag,
        max_epochs=epochs,
    )


def _forecast_one_model(
    params: Any, state: Any, window: jax.Array, limit: jax.Array, *, network: Any, encoding: Any, steps: int
) -> jax.Array:
    """One model's recursive price forecast, its first ``limit`` steps (what ``run_stacked`` maps over rows)."""
    return encodings.forecast_prices(network, params, encoding, state, window, steps, limit=limit)


def _calendar_one_model(
    params: Any,
    state: Any,
    window: jax.Array,
    limit: jax.Array,
    *,
    network: Any,
    inputs: inputs_lib.ModelInputs,
    steps: int,
) -> jax.Array:
    """One model's recursive forecast of windows that carry a clock or positions (``inputs_lib.forecast_recursive``)."""
    return inputs_lib.forecast_recursive(network, params, inputs, state, window, steps, limit=limit)


def _direct_one_model(
    params: Any,
    state: Any,
    window: jax.Array,
    limit: jax.Array,
    *,
    network: Any,
    inputs: inputs_lib.ModelInputs,
    steps: int,
) -> jax.Array:
    """One model's direct multi-horizon forecast (what ``run_stacked`` maps over rows; one head call emits every step)."""
    del limit
    return inputs_lib.forecast_direct(network, params, inputs, state, window, steps)


class TrainRow(NamedTuple):
    """One member's training: the static settings of ``fit_arrays``, its data, ``(params, key, opt_state)`` and an epoch cap.

    ``epochs``: None trains up to ``static["config"].epochs``; an integer stops the row
    sooner (``fit_arrays(max_epochs=)``).
    """

    static: dict[str, Any]
    data: training.TrainData
    start: tuple[Any, jax.Array, Any]
    epochs: int | None = None


def train_rows(
    rows: Sequence[TrainRow],
    *,
    workers: int | None = None,
    devices: Sequence[jax.Device] | None = None,
    progress_tag: int | None = None,
    progress_callback: Any = None,
) -> list[training.TrainResult]:
    """Runs ``fit_arrays`` of one model for every row, one ``run_stacked`` call per group of equal static settings.

    Rows are padded to equal lengths with zero-weight windows. Fits, ensembles, tuning
    trials, calibration refits and updates all train through here. ``progress_tag``: the
    tag row 0 reports its epochs under to ``progress_callback`` (a static callback such as
    ``progress.RELAY``; the other rows carry a tag no bar listens to).

    Returns:
        One host ``TrainResult`` per row, in the order of ``rows``.
    """
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, (static, data, _, _) in enumerate(rows):
        # Windows of other lengths (or inputs of other widths) cannot share a call.
        groups.setdefault((tuple(sorted(static.items())), np.shape(data.xs)[1:]), []).append(i)
    out: list[Any] = [None] * len(rows)
    for (static, _), members in groups.items():
        fields = []
        for field in zip(*[rows[i].data for i in members], strict=True):
            stacked_field, _ = windows.pad_stack([np.asarray(a) for a in field])
            fields.append(stacked_field)
        # Padding rows get weight 0 from the stacked weights themselves.
        stacked_data = training.TrainData(*fields)
        params = population.stack_trees([rows[i].start[0] for i in members])
        keys = population.stack_trees([rows[i].start[1] for i in members])
        opt_states = population.stack_trees([rows[i].start[2] for i in members])
        tags = np.array([progress_tag if i == 0 and progress_tag is not None else -1 for i in members], np.int32)
        most = dict(static)["config"].epochs
        caps = np.array([most if rows[i].epochs is None else min(rows[i].epochs, most) for i in members], np.int32)
        callback = None if progress_tag is None else progress_callback
        result = stacked.run_stacked(
            fit_one_model,
            (keys, params, stacked_data, opt_states, tags, caps),
            static={**dict(static), "callback": callback},
            workers=workers,
            devices=devices,
            max_block=stacked.TRAIN_BLOCK_SIZE,
        )
        result = jax.device_get(result)
        for row, i in enumerate(members):
            out[i] = training.unstack(result, row)
    return out


def member_rows(
    members: population.Members,
    data: training.TrainData,
    static: dict[str, Any],
    fitted: Sequence[tuple[Any, Any]] | None = None,
    salt: int = 0,
    epochs: Sequence[int] | None = None,
) -> list[TrainRow]:
    """One row per member on ``data``: from its seeds, or resumed from its ``fitted`` ``(params, opt_state)`` (``Members.resumed``).

    ``epochs``: None, or per member its cap on the epochs (``TrainRow.epochs``).
    """
    caps = [None] * members.count if epochs is None else list(epochs)
    if fitted is None:
        return [TrainRow(static, data, members.start(j), caps[j]) for j in range(members.count)]
    return [TrainRow(static, data, members.resumed(j, *fitted[j], salt), caps[j]) for j in range(members.count)]


def train_models(models: Sequence[Sequence[TrainRow]], **options: Any) -> list[list[training.TrainResult]]:
    """``train_rows`` of every model's rows together (``options`` as ``train_rows`` takes them); each model's results."""
    results = iter(train_rows([row for found in models for row in found], **options))
    return [[next(results) for _ in found] for found in models]


def train_shown(
    models: Sequence[Sequence[TrainRow]], epochs: int | None, *, train: Callable[..., Any] | None = None, **options: Any
) -> list[list[training.TrainResult]]:
    """``train_models`` with a per-epoch progress bar of ``epochs`` on stderr for the first row (a verbose fit; None: no bar).

    ``train``: what trains the rows instead of ``train_models`` (with its arguments; a
    global model across processes passes its own).
    """
    with progress.Shown(epochs) as shown:
        found = (train or train_models)(models, progress_tag=shown.tag, progress_callback=progress.RELAY, **options)
        shown.finish(int(found[0][0].epochs_run), str(found[0][0].stop_reason))
    return found


def update_rows(
    members: population.Members, fitted: Sequence[tuple[Any, Any]], data: training.TrainData, epochs: int, count: int
) -> list[training.TrainResult]:
    """Update number ``count`` of a model: every member continues from its ``fitted`` ``(params, opt_state)`` (``Members.continued``) for ``epochs`` epochs on ``data``, in one call.

    No early stopping and no loss threshold: ``data`` has no held-back part, and the last
    params are kept.
    """
    static = members.static(epochs=epochs, patience=None, loss_threshold=None, restore_best=False)
    starts = [members.continued(j, params, opt, count) for j, (params, opt) in enumerate(fitted)]
    return train_rows([TrainRow(static, data, start) for start in starts])


def call_count(models: Sequence[Sequence[TrainRow]]) -> int:
    """Runner calls ``train_models`` makes for these rows (groups of equal static settings and shapes)."""
    return len({(tuple(sorted(r.static.items())), np.shape(r.data.xs)[1:]) for found in models for r in found})


#: Steps a recursive model's forecast program is compiled for when fewer are asked: what
#: ``Forecaster.band_steps`` calibrates, so the forecasts of every horizon up to a week of
#: hourly data run the program the calibration compiled (its loop stops after the steps
#: asked: ``limit``), and a new horizon compiles nothing.
RECURSIVE_STEPS = bands.BAND_STEPS


class ForecastPlan(NamedTuple):
    """How one fitted model forecasts: its one-model function and static arguments, fitted state and members' params.

    ``steps`` is what the forecast returns; ``static["steps"]`` what its program is compiled
    for (at least ``steps``).
    """

    function: Callable[..., jax.Array]
    static: dict[str, Any]
    state: Any
    members: list[Any]
    window_length: int
    steps: int


def forecast_plan(
    network: Any,
    model_inputs: inputs_lib.ModelInputs,
    fitted: tuple[dict[str, float], inputs_lib.FeatureState],
    members: list[Any],
    steps: int,
    direct_steps: int | None,
) -> ForecastPlan:
    """The plan of a recursive model (``direct_steps=None``: ``encodings.forecast_prices``) or a direct one.

    Args:
        network: the network's config.
        model_inputs: the model's inputs (a recursive model reads the close alone).
        fitted: the model's fitted ``(encoding state, feature state)``; the function takes
            the encoding state's float32 values (a recursive model of the close alone) or
            ``ModelInputs.device_state`` (a direct one, or a recursive one with calendar inputs).
        members: each member's params.
        steps: forecast steps, at most ``direct_steps`` for a direct model (``prepared.check_direct_steps``).
        direct_steps: the steps a direct head emits, or None.
    """
    length = model_inputs.window_length
    compiled = steps if direct_steps is not None else max(steps, RECURSIVE_STEPS)
    if direct_steps is None and model_inputs.columns == ("close",):
        static = {"network": network, "encoding": model_inputs.encoding, "steps": compiled}
        state = {k: np.float32(v) for k, v in fitted[0].items()}
        return ForecastPlan(_forecast_one_model, static, state, members, length, steps)
    # Models of different seasons (a global model's series, fit_many) share one program.
    shared, state = model_inputs.shared(model_inputs.device_state(*fitted))
    static = {"network": network, "inputs": shared, "steps": compiled}
    function = _direct_one_model if direct_steps is not None else _calendar_one_model
    return ForecastPlan(function, static, state, members, length, steps)


def forecast_rows(
    plans: Sequence[ForecastPlan],
    windows_: Sequence[Any],
    *,
    workers: int | None = None,
    observed: Sequence[Any] | None = None,
) -> list[np.ndarray]:
    """``[K_i, N_i, steps]`` member forecasts of many models, each from its own windows: one ``run_stacked`` call per group.

    A group is the models of one function, static arguments and window length. A row is
    one member of one model on one chunk of its windows: every chunk holds as many
    windows as the group's smallest shape bucket (``prep.windows.bucket_size``; the last
    chunk of a model padded with copies of a window whose results are dropped). So a
    held-back tail of 50 origins and a head refit's 250 are one call of 1 + 4 rows of 64,
    which the runner spreads over the cores one row per block, rather than two calls or 50
    windows padded to 256. A group of ``MIN_FORECAST_BUCKET`` or more models that each have
    fewer windows (``forecast_many`` of one window each) takes rows of the largest of their
    own buckets instead. Non-finite values stay in: the callers decide what they mean.

    A recursive row stops after the most steps ``observed`` asks of its windows (its
    ``limit``); the steps it computes equal those of a full forecast, the later ones are
    NaN. Calibration passes the steps that still have a price to be scored on, so a chunk
    of origins near the end of a series runs a few steps instead of all of them.

    Args:
        plans: one ``ForecastPlan`` per model.
        windows_: per model, ``[N_i, time(, columns)]`` windows or a list of them (the last
            ``window_length`` candles of each are read).
        workers: how rows forecast together are run (see ``stacked.run_stacked``).
        observed: None (every step of every window), or per model ``[N_i]`` integers: the
            leading steps of each window's forecast that are needed; steps after them may be NaN.
    """
    stacks: list[np.ndarray] = []
    needed: list[np.ndarray] = []
    for plan, w in zip(plans, windows_, strict=True):
        # Cast on the host: jnp.asarray(..., float32) of float64 data is a compiled convert op.
        stack = np.asarray(np.stack(w) if isinstance(w, list) else w, np.float32)
        stacks.append(stack[:, -plan.window_length :])
        steps = plan.steps
        wanted = np.full(stack.shape[0], steps) if observed is None else np.asarray(observed[len(needed)])
        if wanted.shape != (stack.shape[0],):
            raise ValueError(f"observed[{len(needed)}] must be one step count per window, got shape {wanted.shape}")
        needed.append(np.clip(wanted, 0, steps).astype(np.int32))
    out: list[Any] = [None] * len(plans)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for i, plan in enumerate(plans):
        if stacks[i].shape[0] == 0:
            out[i] = np.zeros((len(plan.members), 0, plan.steps))
        else:
            groups.setdefault((plan.function, tuple(plan.static.items()), plan.window_length), []).append(i)
    for (function, static, _), members in groups.items():
        size = min(windows.bucket_size(stacks[i].shape[0], windows.MIN_FORECAST_BUCKET) for i in members)
        if len(members) >= windows.MIN_FORECAST_BUCKET:
            # Many models of a few windows each (forecast_many, a global model's series): rows of
            # their own bucket, not 64 windows of which one is real; the program compiled once
            # serves them all, where for a few models the calibration's is reused.
            size = min(size, windows.bucket_size(max(stacks[i].shape[0] for i in members)))
        # (model, member, first window) of every row; stacked on the host: one transfer per leaf.
        found = [
            (i, k, c) for i in members for k in range(len(plans[i].members)) for c in range(0, stacks[i].shape[0], size)
        ]
        params = population.stack_trees([plans[i].members[k] for i, k, _ in found])
        states = jax.tree.map(lambda *v: np.stack(v), *[plans[i].state for i, _, _ in found])
        stack = np.stack([windows.pad_rows(stacks[i][c : c + size], size, fill="first") for i, _, c in found])
        limits = np.array([needed[i][c : c + size].max() for i, _, c in found], np.int32)
        # Chunks of one model's windows gain nothing from a vmap over rows: each runs the
        # one-row program of its chunk size, so the rows need no padding to equal blocks and
        # every count of chunks shares one compiled program.
        chunked = len(found) > sum(len(plans[i].members) for i in members)
        result = stacked.run_stacked(
            function,
            (params, states, stack, limits),
            static=dict(static),
            workers=workers,
            max_block=1 if chunked else stacked.MAX_BLOCK_SIZE,
        )
        result = np.asarray(result, np.float64)
        for i in members:
            rows_i = [r for r, (j, _, _) in enumerate(found) if j == i]
            chunks = result[rows_i].reshape(len(plans[i].members), -1, result.shape[-1])
            out[i] = chunks[:, : stacks[i].shape[0], : plans[i].steps]
    return out


def forecast_members(cls: Any, models: Sequence[Any], windows: Sequence[Any], steps: int) -> list[np.ndarray]:
    """``LSTMForecaster.member_rows``: each model's ``[K_i, N_i, steps]`` member forecasts from its own windows, unchecked: one runner call per group."""
    return forecast_rows([m.forecast_plan(steps) for m in models], windows)


def predict_models(
    cls: Any,
    models: Sequence[Any],
    windows: Sequence[Any],
    steps: int,
    *,
    workers: int | None = None,
    observed: Sequence[Any] | None = None,
) -> list[np.ndarray]:
    """``LSTMForecaster._predict_rows``: each model's ``[N_i, steps]`` forecasts, one ``forecast_rows`` call per group.

    Each model's members are combined (``population.combined``) and shrunk toward each
    window's last close (``shrinkage.shrink_windows`` with its ``shrink_weight``), as its
    ``forecast`` is.
    """
    found = forecast_rows([m.forecast_plan(steps) for m in models], windows, workers=workers, observed=observed)
    return [
        shrinkage.shrink_windows(w, len(m.input_columns), population.combined(r, m.combine), m.shrink_weight)
        for m, w, r in zip(models, windows, found, strict=True)
    ]


def member_forecasts(model: Any, price_windows: Any, steps: int) -> np.ndarray:
    """Every member's price forecasts from each window, before they are combined (shrunk as the forecast is, ``shrink_weight``).

    Args:
        model: a fitted ``LSTMForecaster``.
        price_windows: ``[N, time]`` windows (``[N, time, len(input_columns)]`` for a
            model with features), or a list of such windows; at least ``window_length``
            candles each (the last ``window_length`` are read).
        steps: forecast steps.

    Returns:
        ``[K, N, steps]`` float64 (``K = 1`` for a single model), from one call of the runner.

    Raises:
        ValueError: a member forecasts a non-finite or non-positive price (as ``forecast`` does).
    """
    model.check_fitted()
    found = forecast_rows([model.forecast_plan(validation.check_steps(steps))], [price_windows])[0]
    columns = len(model.input_columns)
    return model.check_forecast(shrinkage.shrink_windows(price_windows, columns, found, model.shrink_weight))
