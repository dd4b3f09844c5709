"""What a network reads: windows of candles turned into ``[sequence_length, features]`` inputs.

``ModelInputs`` (static, hashable) describes the inputs of a forecaster: the feature
names (``"close"`` is the close as the price encoding encodes it; the others are the
causal features of ``prep/features.py``), the encoding and the window length. A raw
window holds ``window_length = sequence_length + warmup`` candles, the columns of
``columns`` (the close first): the features of its last ``sequence_length`` candles
need the ``warmup`` candles before them, and nothing else.

Its state is fitted on training candles only (``fit``): the encoding's constants from the
closes, and each other feature's mean and standard deviation over its valid values, by
which it is standardised. ``forecast_direct`` is the direct multi-horizon forecast: one
network call per window emits ``H`` encoded steps, all decoded at once.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.prep import calendars, encodings, features

#: The column of a window's step positions (``ModelInputs.position``).
POSITION_COLUMN = calendars.POSITION_COLUMN
#: A feature whose training spread is below this is constant there: it is scaled by 1 instead.
MIN_FEATURE_STD = 1e-9

FeatureState = dict[str, dict[str, float]]


@dataclasses.dataclass(frozen=True)
class ModelInputs:
    """How raw candle windows become network inputs (static and hashable; derived sizes are cached).

    Attributes:
        features: input names in column order of the network's input, e.g. ``("close", "volume", "rsi")``.
        encoding: the price encoding of the close and of the targets.
        sequence_length: time steps the network reads.
        calendar: calendar parts (``seasons.CALENDAR_PERIODS``) each input row also reads, as
            sine/cosine pairs of the step that follows it (``calendars.calendar_at``); ``()``: none.
        calendar_step: the data's spacing in seconds, with ``calendar`` (0 without, or before a
            fit has read it).
        position: windows carry a last column ``POSITION_COLUMN``, each step's index in the
            fitted series' numbering, from which a seasonal encoding (``encoding.seasonal``)
            reads each window's phase (``end_phase``); other encodings ignore it.
    """

    features: tuple[str, ...]
    encoding: encodings.Encoding
    sequence_length: int
    calendar: tuple[str, ...] = ()
    calendar_step: int = 0
    position: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", features.check_features(self.features))
        validation.check_positive_int("sequence_length", self.sequence_length)
        if not isinstance(self.encoding, encodings.Encoding):
            raise TypeError(f"encoding must be an Encoding, got {type(self.encoding).__name__}")
        validation.check_positive_int("calendar_step", self.calendar_step, minimum=0)
        if self.calendar:
            object.__setattr__(self, "calendar", calendars.check_calendar(self.calendar))
        elif self.calendar_step:
            raise ValueError(f"calendar_step must be 0 without calendar parts, got {self.calendar_step}")

    @functools.cached_property
    def candle_columns(self) -> tuple[str, ...]:
        """The candle columns the features read, the close first (what is read from data)."""
        return features.required_columns(self.features)

    @functools.cached_property
    def columns(self) -> tuple[str, ...]:
        """The columns a raw window holds: the candle columns, then the clock with calendar inputs (once their spacing is known)."""
        clock = calendars.CLOCK_COLUMNS if self.calendar_step else ()
        return self.candle_columns + clock + ((POSITION_COLUMN,) if self.position else ())

    @functools.cached_property
    def width(self) -> int:
        """Inputs per time step: the features, then two per calendar part."""
        return len(self.features) + 2 * len(self.calendar)

    @functools.cached_property
    def indicators(self) -> tuple[str, ...]:
        """The features computed from candles (all but the encoded close)."""
        return tuple(name for name in self.features if name != features.CLOSE)

    @functools.cached_property
    def warmup(self) -> int:
        """Candles the features need before the first step the network reads."""
        return features.warmup(self.features)

    @functools.cached_property
    def window_length(self) -> int:
        """Candles in one raw window: ``sequence_length + warmup``."""
        return self.sequence_length + self.warmup

    def _phase(self, state: dict[str, Any], raw: Any) -> dict[str, Any]:
        """``{"end_phase": [...]}``: the season phase of each ``[..., time, columns]`` raw window's last step ({} unless seasonal)."""
        if not self.encoding.seasonal:
            return {}
        if not self.position:
            raise ValueError("a seasonal encoding needs position=True: the windows' phases are read from it")
        m = self.encoding.period(state["encoding"])  # type: ignore[attr-defined]
        return {"end_phase": jnp.round(raw[..., -1, -1]).astype(jnp.int32) % m}

    def shared(self, state: dict[str, Any]) -> tuple[ModelInputs, dict[str, Any]]:
        """These inputs and a ``device_state`` in the form models of any season share one compiled program in.

        Windows that carry positions read a seasonal encoding of any season, or none, as
        ``encodings.shared_seasonal`` pads it: the same values, from a program that
        depends on the padded length alone. Other inputs are returned as they are.
        """
        if not self.position:
            return self, state
        encoding, fitted = encodings.shared_seasonal(self.encoding, state["encoding"])
        device = {k: np.asarray(v, np.float32) for k, v in fitted.items()}
        return dataclasses.replace(self, encoding=encoding), {**state, "encoding": device}

    def encode_targets(self, state: dict[str, Any], windows: Any, future: Any) -> Any:
        """``[..., steps]`` encoded targets of the ``[..., steps]`` closes after raw ``[..., window_length(, columns)]`` windows."""
        raw = self._columns_last(jnp.asarray(windows))
        return self.encoding.encode_targets(state["encoding"], raw[..., 0], future, **self._phase(state, raw))

    def decode(self, state: dict[str, Any], windows: Any, y: Any) -> Any:
        """``[..., steps]`` prices of ``[..., steps]`` network outputs after raw windows: the inverse of ``encode_targets``."""
        raw = self._columns_last(jnp.asarray(windows))
        return self.encoding.decode(state["encoding"], raw[..., 0], y, **self._phase(state, raw))

    def _columns_last(self, windows: Any) -> Any:
        """``[..., time]`` (close-only inputs) or ``[..., time, columns]`` -> ``[..., time, columns]``."""
        return windows[..., None] if len(self.columns) == 1 else windows

    def closes(self, windows: Any) -> Any:
        """The closes of raw windows: ``[..., time(, columns)]`` -> ``[..., time]``."""
        return self._columns_last(windows)[..., 0]

    def fit(self, series: np.ndarray) -> tuple[dict[str, float], FeatureState]:
        """Fitted state from training candles only (host, float64 statistics).

        Args:
            series: ``[time]`` closes (close-only inputs) or ``[time, len(columns)]`` candles:
                the training windows and their targets.

        Returns:
            ``(encoding_state, feature_state)``: the encoding's constants from the closes, and
            ``{feature: {"mean", "std"}}`` of each indicator over its valid rows (a spread
            below ``MIN_FEATURE_STD`` is stored as 1).
        """
        raw = self._columns_last(np.asarray(series, np.float64))
        if self.encoding.seasonal and raw.shape[0] < 2 * self.encoding.season_length:  # type: ignore[attr-defined]
            # Too short to estimate a season (a head refit's early cut of a short series):
            # indices of 1, the base encoding alone.
            m = self.encoding.season_length  # type: ignore[attr-defined]
            flat = {f"season_{j}": 1.0 for j in range(m)}
            return {**flat, **self.encoding.base.fit(raw[:, 0])}, self._feature_state(raw)  # type: ignore[attr-defined]
        encoding_state = self.encoding.fit(raw[:, 0])
        if self.encoding.seasonal and self.position:
            # The encoding numbers the phases from raw[0]; the state by the series' own positions.
            m = self.encoding.season_length  # type: ignore[attr-defined]
            start = round(raw[0, -1]) % m
            indices = [encoding_state[f"season_{j}"] for j in range(m)]
            encoding_state.update({f"season_{(j + start) % m}": v for j, v in enumerate(indices)})
        return encoding_state, self._feature_state(raw)

    def _feature_state(self, raw: np.ndarray) -> FeatureState:
        """``{feature: {"mean", "std"}}`` of each indicator over its valid training rows."""
        state: FeatureState = {}
        if self.indicators:
            columns = {c: raw[:, i] for i, c in enumerate(self.candle_columns)}
            values = np.asarray(_compute_jit(self.indicators, columns), np.float64)
            for i, name in enumerate(self.indicators):
                valid = values[features.FEATURES[name].warmup :, i]
                std = float(np.std(valid)) if valid.size else 0.0
                state[name] = {"mean": float(np.mean(valid)) if valid.size else 0.0, "std": std}
                if not std > MIN_FEATURE_STD:
                    state[name]["std"] = 1.0
        return state

    def check_state(self, encoding_state: Any, feature_state: Any) -> tuple[dict[str, float], FeatureState]:
        """A saved state checked against these inputs (keys and values), as plain floats."""
        expected = self.encoding.fit(np.ones(3 if not self.encoding.seasonal else 2 * self.encoding.season_length))  # type: ignore[attr-defined]
        enc = {k: validation.check_positive_float(f"encoding {k}", encoding_state[k]) for k in expected}
        if not isinstance(feature_state, dict) or set(feature_state) != set(self.indicators):
            got = sorted(feature_state) if isinstance(feature_state, dict) else type(feature_state).__name__
            raise ValueError(f"feature state must hold {sorted(self.indicators)}, got {got}")
        feats = {
            name: {
                "mean": float(np.float64(feature_state[name]["mean"])),
                "std": validation.check_positive_float(f"feature {name} std", feature_state[name]["std"]),
            }
            for name in self.indicators
        }
        if not all(np.isfinite(v["mean"]) for v in feats.values()):
            raise ValueError("feature means must be finite")
        return enc, feats

    def device_state(self, encoding_state: dict[str, float], feature_state: FeatureState) -> dict[str, Any]:
        """The fitted state as the pytree ``encode`` takes (float32 numpy leaves)."""
        return {
            "encoding": {k: np.float32(v) for k, v in encoding_state.items()},
            "mean": np.asarray([feature_state[n]["mean"] for n in self.indicators], np.float32),
            "std": np.asarray([feature_state[n]["std"] for n in self.indicators], np.float32),
        }

    def encode(self, state: dict[str, Any], windows: jax.Array) -> jax.Array:
        """Raw windows -> network inputs (pure, jit-able).

        Args:
            state: ``device_state(...)``.
            windows: ``[..., window_length]`` closes (close-only inputs) or
                ``[..., window_length, len(columns)]`` candles.

        Returns:
            ``[..., sequence_length, width]``: the encoded close and the standardised
            indicators of the last ``sequence_length`` candles, in ``features`` order, then
            each row's calendar of the step that follows it (with ``calendar``).
        """
        raw = self._columns_last(jnp.asarray(windows))
        seq = self.sequence_length
        close = raw[..., -seq:, 0]
        encoded = {features.CLOSE: self.encoding.encode_inputs(state["encoding"], close, **self._phase(state, raw))}
        if self.indicators:
            batch = raw.shape[:-2]
            flat = raw.reshape((-1, *raw.shape[-2:]))

            def one(window: jax.Array) -> jax.Array:
                columns = {c: window[:, i] for i, c in enumerate(self.candle_columns)}
                return features.compute(self.indicators, columns)[-seq:]

            values = jax.vmap(one)(flat).reshape((*batch, seq, len(self.indicators)))
            scaled = (values - state["mean"]) / state["std"]
            for i, name in enumerate(self.indicators):
                encoded[name] = scaled[..., i : i + 1]
        found = [encoded[name] for name in self.features]
        if self.calendar:
            first = len(self.candle_columns)
            clock = raw[..., -seq:, first : first + 2]
            found.append(calendars.calendar_at(clock, self.calendar, self.calendar_step))
        return jnp.concatenate(found, axis=-1)

    def next_row(self, window: jax.Array, close: jax.Array) -> jax.Array:
        """``[columns]`` the raw row after ``[window_length, columns]``: ``close``, and the clock one step on.

        What a recursive forecast feeds back; only for close-only inputs (other candle
        columns have no forecast value).
        """
        row = [jnp.reshape(close, (1,)).astype(window.dtype)]
        if self.calendar_step:
            first = len(self.candle_columns)
            row.append(calendars.advance(window[-1, first : first + 2], self.calendar_step).astype(window.dtype))
        if self.position:
            row.append(window[-1, -1:] + 1)
        return jnp.concatenate(row)


_compute_jit = jax.jit(features.compute, static_argnums=0)


def forecast_recursive(
    network: Any,
    params: Any,
    inputs: ModelInputs,
    state: dict[str, Any],
    windows: jax.Array,
    steps: int,
    limit: Any = None,
) -> jax.Array:
    """Recursive forecast of close-only inputs with calendar inputs: ``[..., window_length, columns]`` -> ``[..., steps]`` prices.

    Each step encodes the raw window (its rows read the calendar of the step after them),
    predicts and decodes the next close, and slides the window by the row ``next_row``
    gives: that close and the clock one spacing later, so every recursive step is told the
    calendar of the step it predicts. ``limit`` as ``encodings.forecast_prices`` takes it
    (the steps after it are NaN).
    """
    steps = validation.check_steps(steps)

    def step(window: jax.Array, _: Any) -> tuple[jax.Array, jax.Array]:
        y = network.apply(params, inputs.encode(state, window))
        close = inputs.decode(state, window, y[:1])[0]
        return jnp.concatenate([window[1:], inputs.next_row(window, close)[None]]), close

    def one(window: jax.Array) -> jax.Array:
        if limit is None:
            return jax.lax.scan(step, window, None, length=steps)[1]

        def body(carry: tuple[jax.Array, jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array, jax.Array]:
            i, window_, out = carry
            window_, value = step(window_, None)
            return i + 1, window_, out.at[i].set(value)

        out = jnp.full((steps,), jnp.nan, window.dtype)
        stop = jnp.minimum(jnp.asarray(limit, jnp.int32), steps)
        return jax.lax.while_loop(lambda c: c[0] < stop, body, (jnp.asarray(0, jnp.int32), window, out))[2]

    windows = jnp.asarray(windows)
    batch = windows.shape[:-2]
    out = jax.vmap(one)(windows.reshape((-1, *windows.shape[-2:])))
    return out.reshape((*batch, steps))


def forecast_direct(
    network: Any, params: Any, inputs: ModelInputs, state: dict[str, Any], windows: jax.Array, steps: int
) -> jax.Array:
    """Direct multi-horizon forecast in price space: one network call per window, all steps decoded at once.

    Args:
        network: an object with ``apply(params, x[sequence_length, features]) -> [H]`` for
            one window (any ``jaxlstm.nn`` config with ``output_size = H``). Static.
        params: the network's params.
        inputs: the ``ModelInputs`` the network was trained with. Static.
        state: ``inputs.device_state(...)``.
        windows: ``[..., window_length(, columns)]`` the most recent candles.
        steps: static number of steps, ``<= H``.

    Returns:
        ``[..., steps]`` predicted closes.
    """
    x = inputs.encode(state, windows)
    batch = x.shape[:-2]
    flat = x.reshape((-1, *x.shape[-2:]))
    y = jax.vmap(lambda one: network.apply(params, one))(flat)
    y = y.reshape((*batch, y.shape[-1]))[..., :steps]
    return inputs.decode(state, windows, y)
