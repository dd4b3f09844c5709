"""What a saved ``LSTMForecaster`` is: its ``metadata.json`` and params tree, and the model rebuilt from them.

``io.persistence`` writes and reads the files (orbax + JSON, checksums, atomic replace);
this module decides what goes in them and checks, on load, that settings, params,
optimiser state and fitted state agree (anything odd is a ``ValueError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.forecasters import bands, shrinkage, stacked_residuals
from jaxlstm._src.prep import calendars, encodings, fingerprints, horizons

#: An ``LSTMForecaster`` (not imported: ``lstm`` imports this module).
LSTMForecaster = Any

#: ``metadata["model"]`` of a saved ``LSTMForecaster``.
MODEL_KIND = "LSTMForecaster"


def metadata(model: LSTMForecaster, *, residual_rows: bool = True) -> dict[str, Any]:
    """The ``metadata.json`` of a fitted model: settings, fitted state, band, history, fingerprint.

    ``residual_rows=False`` leaves out the band's residual rows (``saved_parts`` puts them in
    the array tree; only the sources without rows stay).
    """
    model.check_fitted()
    assert model.encoding_state_ is not None and model.history_ is not None
    settings = model.get_params()
    band = model.band_
    if band is not None and not residual_rows:
        band = band.with_residuals({k: v for k, v in band.residuals.items() if not np.size(v)})
    return {
        "model": MODEL_KIND,
        "symbol": settings.pop("symbol"),
        "trained_at": model.trained_at_,
        "settings": settings,
        "encoding": {"name": model.encoding, "state": dict(model.encoding_state_)},
        # The season in use (what "auto" detected): it sets the window the params were trained on.
        "season": {"length": model.season_length_},
        # The calendar inputs in use (what "auto" chose) and their spacing: they shape the params' inputs.
        "calendar": {"parts": list(model.calendar_), "step_seconds": model.calendar_step_},
        "features": {name: dict(v) for name, v in (model.feature_state_ or {}).items()},
        "data": {
            "interval_seconds": None if model.interval_ is None else float(model.interval_ / np.timedelta64(1, "s")),
            "last_timestamp": None
            if model.last_timestamp_ is None
            else np.datetime_as_string(model.last_timestamp_, unit="ns"),
            "last_window": np.asarray(model.forecast_window(), np.float64).tolist(),
            "volatility": float(model.volatility_ or 0.0),
        },
        "metrics": model.metrics_,
        "history": {k: [float(x) for x in v] for k, v in model.history_.items()},
        # The steps the band is calibrated on: the loaded model has the same band.
        "calibration": band.to_json() if band is not None else {},
        # The weight toward the last price every forecast uses (shrink="auto"); the band measures it.
        "shrink": None if model.shrink_ is None else model.shrink_.to_json(),
        "trained_on": None if model.trained_on_ is None else model.trained_on_.to_json(),
    }


def from_parts(
    cls: Any,
    params: Any,
    metadata: Any,
    source: str,
    build: Callable[[Any, Any, dict[str, Any]], LSTMForecaster] | None = None,
) -> LSTMForecaster:
    """Rebuilds a fitted model from saved params and metadata; anything odd is a ValueError naming ``source``.

    ``build`` is the rebuild without messages (default ``rebuild``; a global model passes its own).
    """
    if not isinstance(metadata, dict) or metadata.get("model") != MODEL_KIND:
        got = metadata.get("model") if isinstance(metadata, dict) else type(metadata).__name__
        raise ValueError(f"{source} does not hold an {MODEL_KIND} (model kind {got!r})")
    try:
        return (build or rebuild)(cls, params, metadata)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as err:
        raise ValueError(f"{source} is damaged: invalid metadata ({type(err).__name__}: {err})") from None


def rebuild(cls: Any, params: Any, metadata: dict[str, Any]) -> LSTMForecaster:
    """``from_parts`` without its messages: raises whatever the first inconsistency raises."""
    settings = dict(metadata["settings"])
    forecaster = cls(**settings, symbol=metadata.get("symbol"))
    if forecaster.season_length == "auto":
        # Models saved before seasons were recorded had none.
        found = (metadata.get("season") or {}).get("length")
        forecaster.use_season(None if found is None else validation.check_positive_int("season length", found, 2))
    calendar = metadata.get("calendar") or {"parts": [], "step_seconds": 0}  # saved before calendar inputs: none
    parts = tuple(calendar["parts"])
    if (forecaster.calendar is None and parts) or (
        isinstance(forecaster.calendar, tuple) and parts != forecaster.calendar
    ):
        raise ValueError(f"calendar parts {parts} do not match the settings' calendar={forecaster.calendar!r}")
    if parts:
        forecaster.use_calendar(
            calendars.check_calendar(parts), validation.check_positive_int("calendar step", calendar["step_seconds"])
        )
    else:
        forecaster.use_calendar((), 0)
    encoding = metadata["encoding"]
    if encoding["name"] != forecaster.encoding:
        raise ValueError(f"encoding {encoding['name']!r} does not match the settings' {forecaster.encoding!r}")
    state, feature_state = forecaster.model_inputs.check_state(encoding["state"], metadata.get("features", {}))
    residuals: dict[str, np.ndarray] = {}
    if metadata.get(stacked_residuals.RESIDUALS_KEY):  # models saved before the arrays held them in the JSON
        params, (residuals,) = stacked_residuals.out_of_tree(params, 1)
    params, opt_leaves = split_saved_tree(params)
    params = jax.tree.map(jnp.asarray, params)
    if not matches(params, forecaster.params_template()):
        raise ValueError("params do not match the saved settings")
    opt_state = None
    if opt_leaves is not None:
        template = forecaster.opt_state_template()
        structure = jax.tree.structure(template)
        if len(opt_leaves) != len(jax.tree.leaves(template)):
            raise ValueError("optimiser state does not match the saved settings")
        opt_state = jax.tree.unflatten(structure, [np.asarray(leaf) for leaf in opt_leaves])
        if not matches(opt_state, template):
            raise ValueError("optimiser state does not match the saved settings")
    forecaster.opt_state_ = opt_state
    data = metadata["data"]
    columns = len(forecaster.input_columns)
    window = data["last_window"]
    if forecaster.encoding == encodings.SEASONAL and not forecaster.model_inputs.position:
        # Saved when every seasonal model's window held positions, even with no season in use.
        window = legacy_positions_dropped(window, columns)
    window = validation.as_float_array("last_window", window, ndim=1 if columns == 1 else 2)
    window = forecaster.check_window(window)
    seconds = data["interval_seconds"]
    interval_ns = None if seconds is None else validation.check_positive_float("interval_seconds", seconds) * 1e9
    if interval_ns is not None and interval_ns >= 2**62:
        raise ValueError(f"interval_seconds {seconds} is out of range")
    forecaster.params_ = params
    forecaster.encoding_state_ = state
    forecaster.feature_state_ = feature_state
    forecaster.prices_ = window
    forecaster.interval_ = (
        None if interval_ns is None else horizons.as_interval(np.timedelta64(round(interval_ns), "ns"))
    )
    stamp = data["last_timestamp"]
    forecaster.last_timestamp_ = None if stamp is None else np.datetime64(stamp, "ns")
    forecaster.volatility_ = validation.check_positive_float("volatility", data["volatility"], allow_zero=True)
    forecaster.metrics_ = dict(metadata["metrics"])
    forecaster.history_ = {k: np.asarray(v, np.float64) for k, v in dict(metadata["history"]).items()}
    forecaster.trained_at_ = metadata.get("trained_at")
    forecaster.band_ = bands.band_class(forecaster.band).from_json(
        metadata["calibration"], forecaster.volatility_ or 0.0
    )
    if residuals:
        forecaster.band_ = forecaster.band_.with_residuals(
            dict(sorted({**forecaster.band_.residuals, **residuals}.items()))
        )
    # Models saved before shrinkage was recorded had none.
    shrunk = metadata.get("shrink")
    if shrunk is not None and forecaster.shrink is None:
        raise ValueError("a shrink weight is saved but the settings have shrink=None")
    forecaster.shrink_ = None if shrunk is None else shrinkage.Shrinkage.from_json(shrunk)
    # Models saved before fingerprints were recorded have none: their data is unknown.
    trained_on = metadata.get("trained_on")
    forecaster.trained_on_ = None if trained_on is None else fingerprints.DataFingerprint.from_json(trained_on)
    return forecaster


def legacy_positions_dropped(window: Any, columns: int) -> Any:
    """A saved last window without the positions column that models with no season once carried (else as saved)."""
    rows = np.asarray(window, dtype=object)
    if rows.ndim != 2 or rows.shape[1] != columns + 1:
        return window
    kept = rows[:, :-1]
    return (kept[:, 0] if columns == 1 else kept).tolist()


def saved_parts(model: LSTMForecaster) -> tuple[Any, dict[str, Any]]:
    """``(saved tree, metadata)`` of ``save`` and ``to_json``, checked to rebuild this model as ``load`` does.

    Settings are read-only after construction, but ``__dict__`` can still be written
    past that: a save that ``load`` would refuse must not replace a good model.
    """
    model.check_fitted()
    reason = None
    try:
        fresh = type(model)(**model.get_params())
        # A detected season shapes the ES-RNN's params (its initial seasonal indices), as load restores it.
        fresh.use_season(model.season_length_)
        fresh.use_calendar(model.calendar_, model.calendar_step_)
        if not matches(model.params_, fresh.params_template()):
            reason = "params do not match the settings"
        else:
            residuals = [model.band_.residuals] if model.band_ is not None else []
            tree, moved = stacked_residuals.into_tree(saved_tree(model), residuals)
            found = metadata(model, residual_rows=not moved)
            if moved:
                found[stacked_residuals.RESIDUALS_KEY] = True
            rebuild(type(model), tree, found)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        reason = f"{type(err).__name__}: {err}"
    if reason is not None:
        raise ValueError(
            f"cannot save {model!r}: its settings and fitted state disagree ({reason}); was a setting changed "
            "after fit? set_params(...) and fit again"
        )
    return tree, found


def saved_tree(model: LSTMForecaster) -> Any:
    """What is saved as params: ``{"params", "opt_state": [leaves]}`` (the optimiser state lets ``update`` continue)."""
    model.check_fitted()
    params = jax.tree.map(np.asarray, model.params_)
    if model.opt_state_ is None:
        return params
    return {"params": params, "opt_state": [np.asarray(leaf) for leaf in jax.tree.leaves(model.opt_state_)]}


def with_members(template: Any, members: int) -> Any:
    """``ShapeDtypeStruct`` leaves of one model, given a leading ``[members]`` axis when ``members > 1``."""
    if members == 1:
        return template
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct((members, *a.shape), a.dtype), template)


def matches(tree: Any, template: Any) -> bool:
    """Whether ``tree`` has the structure, shapes and dtypes of ``template``."""
    if str(jax.tree.structure(tree)) != str(jax.tree.structure(template)):
        return False
    return all(
        np.shape(a) == b.shape and np.asarray(a).dtype == b.dtype
        for a, b in zip(jax.tree.leaves(tree), jax.tree.leaves(template))
    )


def split_saved_tree(tree: Any) -> tuple[Any, list[Any] | None]:
    """``(params, optimiser-state leaves or None)`` of a saved tree (models saved before the state was kept have params only)."""
    if isinstance(tree, dict) and set(tree) == {"params", "opt_state"} and isinstance(tree["opt_state"], (list, tuple)):
        return tree["params"], list(tree["opt_state"])
    return tree, None
