"""Causal features of OHLCV candles: pure, jit-able functions of the past only.

Every feature maps ``[time]`` columns to a ``[time]`` series whose value at ``t`` depends
on the candles ``t - warmup .. t`` and on nothing else: not on later candles (causal) and
not on earlier ones (finite memory). The first ``warmup`` values, which would need
candles before the series starts, are NaN. Finite memory is what makes a forecast from a
window of ``sequence_length + warmup`` candles see exactly the feature values training
saw; it is why the moving averages below are simple or truncated (an exponential
average over all history would differ between a window and the whole series).

Features (``FEATURES``; ``c``, ``o``, ``h``, ``l``, ``v`` are close, open, high, low, volume):

============== =========================================================== =========== =======
name           formula                                                     columns     warm-up
============== =========================================================== =========== =======
log_return     ``log(c[t] / c[t-1])``                                      close       1
volume         ``log(1 + v[t])``: zero volume gives 0, never -inf           volume      0
rel_volume     ``log(1 + v[t])`` minus its mean over the last 20 candles    volume      19
range          ``log(h[t] / l[t])``: the candle's high-low range            high, low   0
body           ``log(c[t] / o[t])``: the candle's body, signed              open, close 0
volatility     sample std (ddof 1) of the last 20 log returns               close       20
rsi            Cutler's RSI(14): ``100 * U / (U + D)``, ``U``/``D`` the     close       14
               means of the last 14 gains/losses of ``c``; 50 when flat
macd           ``EMA12(log c) - EMA26(log c)``                              close       77
macd_hist      ``macd - EMA9(macd)`` (MACD minus its signal line)           close       103
bollinger      ``(c - SMA20(c)) / (2 * std20(c))`` (population std; 0 when  close       19
               flat): where the close sits in its Bollinger bands
============== =========================================================== =========== =======

``EMA{n}`` is the exponential average with ``alpha = 2 / (n + 1)`` started from the
first value of a window of ``3 n`` values (pandas' ``ewm(span=n, adjust=False)`` over
those values); the start's weight is ``(1 - alpha) ** (3n - 1)``, about ``e**-6``, so it
differs from the infinite-memory average by well under 1%. RSI uses simple means
(Cutler) instead of Wilder's smoothing for the same reason. MACD works on log prices, so
it is scale-free (a fraction, not dollars); so are all features but ``volume``'s level,
which the forecaster standardises with training statistics anyway.

The close itself is not a feature here: ``"close"`` in a forecaster's ``features`` is the
close as its price encoding encodes it (``prep/encodings.py``); ``prep/inputs.py`` puts
the two together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

#: The OHLCV columns features read, in the order a forecaster's series stores them after the close.
COLUMNS: tuple[str, ...] = ("close", "open", "high", "low", "volume")
#: The feature that is the encoded close rather than a function here.
CLOSE = "close"

#: Window of the rolling volatility, the relative volume and the Bollinger position.
ROLLING = 20
#: RSI period.
RSI_PERIOD = 14
#: MACD's fast, slow and signal spans.
MACD_SPANS = (12, 26, 9)
#: An EMA of span n averages the last EMA_WINDOW_RATIO * n values.
EMA_WINDOW_RATIO = 3


def _trailing(x: jax.Array, n: int) -> jax.Array:
    """``[time]`` -> ``[time, n]``: row ``t`` holds ``x[t - n + 1 .. t]`` (oldest first), NaN before the start."""
    index = jnp.arange(x.shape[0])[:, None] - (n - 1) + jnp.arange(n)[None, :]
    return jnp.where(index >= 0, x[jnp.clip(index, 0, None)], jnp.nan)


def _shift(x: jax.Array) -> jax.Array:
    """``x[t - 1]`` at ``t`` (NaN at 0)."""
    return jnp.concatenate([jnp.full((1,), jnp.nan, x.dtype), x[:-1]])


def ema_weights(span: int, window: int | None = None) -> np.ndarray:
    """``[window]`` weights (oldest first, summing to 1) of the EMA of ``span`` started ``window`` values back.

    The EMA recursion ``e = alpha * x + (1 - alpha) * e`` with ``alpha = 2 / (span + 1)``,
    started at the window's first value, gives the newest value ``alpha``, the one before
    ``alpha (1 - alpha)``, and so on, and the first value what is left, ``(1 - alpha) **
    (window - 1)``. Default window: ``EMA_WINDOW_RATIO * span``.
    """
    window = EMA_WINDOW_RATIO * span if window is None else window
    alpha = 2.0 / (span + 1.0)
    ages = np.arange(window - 1, -1, -1)  # oldest first
    weights = alpha * (1.0 - alpha) ** ages
    weights[0] = (1.0 - alpha) ** (window - 1)
    return weights


def ema(x: jax.Array, span: int) -> jax.Array:
    """Truncated exponential moving average (see ``ema_weights``): ``[time]`` -> ``[time]``, warm-up ``3 span - 1``."""
    weights = ema_weights(span)
    return _trailing(x, weights.shape[0]) @ jnp.asarray(weights, x.dtype)


def log_return(close: jax.Array) -> jax.Array:
    """``log(c[t] / c[t-1])``; warm-up 1."""
    return jnp.log(close / _shift(close))


def log_volume(volume: jax.Array) -> jax.Array:
    """``log(1 + v[t])`` (``log1p``): 0 for zero volume, never -inf; warm-up 0."""
    return jnp.log1p(volume)


def relative_volume(volume: jax.Array, n: int = ROLLING) -> jax.Array:
    """``log(1 + v[t])`` minus its mean over the last ``n`` candles (a volume spike is > 0); warm-up ``n - 1``."""
    level = log_volume(volume)
    return level - jnp.mean(_trailing(level, n), axis=-1)


def high_low_range(high: jax.Array, low: jax.Array) -> jax.Array:
    """``log(h[t] / l[t])`` >= 0; warm-up 0."""
    return jnp.log(high / low)


def candle_body(open_: jax.Array, close: jax.Array) -> jax.Array:
    """``log(c[t] / o[t])``: positive for a rising candle; warm-up 0."""
    return jnp.log(close / open_)


def rolling_volatility(close: jax.Array, n: int = ROLLING) -> jax.Array:
    """Sample standard deviation (ddof 1) of the last ``n`` log returns; warm-up ``n``."""
    return jnp.std(_trailing(log_return(close), n), axis=-1, ddof=1)


def rsi(close: jax.Array, n: int = RSI_PERIOD) -> jax.Array:
    """Cutler's relative strength index in [0, 100] over the last ``n`` changes; 50 when the window is flat; warm-up ``n``.

    ``100 * U / (U + D)`` with ``U`` and ``D`` the means of the last ``n`` gains
    ``max(c[t] - c[t-1], 0)`` and losses ``max(c[t-1] - c[t], 0)`` (equal to ``100 - 100 /
    (1 + U / D)``).
    """
    change = _trailing(close - _shift(close), n)
    # Compiled max/min need not propagate NaN, so the warm-up is masked explicitly.
    warm = jnp.isnan(change).any(axis=-1)
    change = jnp.where(jnp.isnan(change), 0.0, change)
    gains = jnp.mean(jnp.maximum(change, 0.0), axis=-1)
    losses = jnp.mean(jnp.maximum(-change, 0.0), axis=-1)
    total = gains + losses
    flat = total == 0
    return jnp.where(warm, jnp.nan, jnp.where(flat, 50.0, 100.0 * gains / jnp.where(flat, 1.0, total)))


def macd(close: jax.Array, fast: int = MACD_SPANS[0], slow: int = MACD_SPANS[1]) -> jax.Array:
    """``EMA_fast(log c) - EMA_slow(log c)`` (truncated EMAs); warm-up ``3 slow - 1``."""
    log_close = jnp.log(close)
    return ema(log_close, fast) - ema(log_close, slow)


def macd_histogram(
    close: jax.Array, fast: int = MACD_SPANS[0], slow: int = MACD_SPANS[1], signal: int = MACD_SPANS[2]
) -> jax.Array:
    """``macd - EMA_signal(macd)``: the MACD line minus its signal line; warm-up ``3 slow - 1 + 3 signal - 1``."""
    line = macd(close, fast, slow)
    return line - ema(line, signal)


def bollinger_position(close: jax.Array, n: int = ROLLING) -> jax.Array:
    """``(c[t] - mean) / (2 * std)`` over the last ``n`` closes (population std): +-1 at the bands, 0 when flat; warm-up ``n - 1``."""
    window = _trailing(close, n)
    mean = jnp.mean(window, axis=-1)
    std = jnp.std(window, axis=-1)
    position = jnp.where(std > 0, (close - mean) / (2.0 * jnp.where(std > 0, std, 1.0)), 0.0)
    return jnp.where(jnp.isnan(std), jnp.nan, position)


@dataclasses.dataclass(frozen=True)
class Feature:
    """One feature: the columns it reads, how many earlier candles it needs, its function and what it is."""

    columns: tuple[str, ...]
    warmup: int
    function: Callable[..., jax.Array]
    description: str


_FAST, _SLOW, _SIGNAL = MACD_SPANS
#: The candle features by name: each a causal, jit-able function of past candles with its warm-up.
FEATURES: dict[str, Feature] = {
    "log_return": Feature(("close",), 1, log_return, "log(c[t] / c[t-1])"),
    "volume": Feature(("volume",), 0, log_volume, "log(1 + volume)"),
    "rel_volume": Feature(("volume",), ROLLING - 1, relative_volume, f"log(1 + v) minus its {ROLLING}-candle mean"),
    "range": Feature(("high", "low"), 0, high_low_range, "log(high / low)"),
    "body": Feature(("open", "close"), 0, candle_body, "log(close / open)"),
    "volatility": Feature(("close",), ROLLING, rolling_volatility, f"std of the last {ROLLING} log returns"),
    "rsi": Feature(("close",), RSI_PERIOD, rsi, f"Cutler's RSI({RSI_PERIOD})"),
    "macd": Feature(("close",), EMA_WINDOW_RATIO * _SLOW - 1, macd, f"EMA{_FAST}(log c) - EMA{_SLOW}(log c)"),
    "macd_hist": Feature(
        ("close",),
        EMA_WINDOW_RATIO * _SLOW - 1 + EMA_WINDOW_RATIO * _SIGNAL - 1,
        macd_histogram,
        f"macd - EMA{_SIGNAL}(macd)",
    ),
    "bollinger": Feature(("close",), ROLLING - 1, bollinger_position, f"(c - SMA{ROLLING}) / (2 std{ROLLING})"),
}
#: Every name ``features=`` accepts: the encoded close and the features above.
FEATURE_NAMES: tuple[str, ...] = (CLOSE, *FEATURES)
#: Named input sets (the accuracy benchmark's ablation): close only, with volume, with every indicator.
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "close": (CLOSE,),
    "volume": (CLOSE, "volume"),
    "indicators": FEATURE_NAMES,
}


def check_features(features: Any) -> tuple[str, ...]:
    """``features`` as a tuple of distinct known names, else ``TypeError``/``ValueError`` naming the problem."""
    if isinstance(features, str) or not isinstance(features, Sequence):
        raise TypeError(
            f"features must be a sequence of feature names such as ('close', 'volume'), got {type(features).__name__} "
            f"{features!r:.60}"
        )
    names = tuple(features)
    if not names:
        raise ValueError(f"features must name at least one input out of {FEATURE_NAMES}, got none")
    for name in names:
        if not isinstance(name, str) or name not in FEATURE_NAMES:
            raise ValueError(f"features has an unknown feature {name!r}; known: {FEATURE_NAMES}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"features lists {repeated} more than once")
    return names


def warmup(features: Sequence[str]) -> int:
    """Candles of history the features need before the first value they can give (0 for the close alone)."""
    return max((FEATURES[name].warmup for name in features if name != CLOSE), default=0)


def longest_warmup(features: Sequence[str]) -> str | None:
    """The feature that needs the most history (None when none needs any)."""
    named = [name for name in features if name != CLOSE and FEATURES[name].warmup > 0]
    return max(named, key=lambda name: FEATURES[name].warmup) if named else None


def required_columns(features: Sequence[str]) -> tuple[str, ...]:
    """The OHLCV columns the features read: the close first (the target), then in ``COLUMNS`` order."""
    needed = {column for name in features if name != CLOSE for column in FEATURES[name].columns}
    return (CLOSE, *(column for column in COLUMNS[1:] if column in needed))


def compute(features: Sequence[str], columns: Mapping[str, jax.Array]) -> jax.Array:
    """The named features of one series of candles.

    Args:
        features: names from ``FEATURES`` (not ``"close"``).
        columns: ``{column: [time]}`` holding at least the columns they read.

    Returns:
        ``[time, len(features)]``, NaN in each feature's first ``warmup`` rows.

    Raises:
        ValueError: an unknown feature, or a column a feature reads missing from ``columns``.
    """
    if unknown := [name for name in features if name not in FEATURES]:
        raise ValueError(f"features has unknown feature(s) {unknown}; known: {tuple(FEATURES)}")
    if missing := sorted({c for name in features for c in FEATURES[name].columns} - set(columns)):
        raise ValueError(f"columns lacks {missing}, which {list(features)} read; got columns {sorted(columns)}")
    out = [FEATURES[name].function(*(jnp.asarray(columns[c]) for c in FEATURES[name].columns)) for name in features]
    if not out:
        return jnp.zeros((next(iter(columns.values())).shape[0], 0))
    return jnp.stack(out, axis=-1)


def check_values(features: Sequence[str], columns: Sequence[str], values: np.ndarray, name: str = "data") -> None:
    """Raises ``ValueError`` naming the feature when the candles cannot give it.

    Args:
        features: the forecaster's features.
        columns: the names of ``values``' columns (``required_columns(features)``).
        values: ``[time, len(columns)]`` candles (float64, host).
        name: the argument's name, for messages.

    Raises:
        ValueError: a NaN, infinite or negative volume where a volume feature reads it.
    """
    if "volume" not in columns:
        return
    volume = values[:, list(columns).index("volume")]
    bad = ~np.isfinite(volume) | (volume < 0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        readers = [n for n in features if n != CLOSE and "volume" in FEATURES[n].columns]
        raise ValueError(
            f"feature {readers[0]!r} needs a finite volume >= 0 in every candle, but {name} has volume "
            f"{volume[row]} at row {row} ({int(bad.sum())} such row(s)); drop or fill those rows, or leave "
            f"{readers} out of features"
        )
