"""How prices become model inputs and targets, and how predictions become prices again.

An encoding is a static, hashable object with four pure methods: ``fit`` (constants from
the training prices only, on the host), ``encode_inputs``, ``encode_targets`` and
``decode`` (its exact inverse on targets). Its fitted state is a dict of floats (JSON-ready;
as JAX arrays it is a pytree), so it jits, saves with the model and is never re-fitted at
prediction time.

* ``MinMaxEncoding`` (``"minmax"``, the seed's): each price is min-max scaled with the
  training prices' minimum and range; the model predicts the next scaled price.
* ``RelativeEncoding`` (``"relative"``): each window is expressed as log prices relative
  to its own last price, divided by the training data's one-step log-return standard
  deviation; the model predicts the next log return(s) in those units. Scale-free, so a
  model trained at one price level still works after the price has moved out of the
  training range.

* ``LogEncoding`` (``"log"``): log prices standardised by the training log prices' mean
  and spread (a pipelined, level-based encoding like min-max, but multiplicative: equal
  relative moves are equal steps at every price level).
* ``WindowEncoding`` (``"window"``): per-window normalisation (Hewamalage, Bergmeir and
  Bandara 2021): log prices relative to the mean price of their window, in units of the
  training log-return spread; like ``"relative"`` but anchored on the window's level
  rather than on its last, noisiest, price.
* ``SeasonalEncoding(base, season_length, kind, method)``: removes a season fitted on the
  training prices by classical decomposition or STL (``seasonal_indices``; multiplicative
  or additive)
  and encodes what is left with ``base``; its decode puts the season back. Its windows
  need their phase in the season (``end_phase=``, the phase of each window's last price),
  which the other encodings ignore.

``forecast_prices`` is the recursive forecast in price space (encode, predict, decode,
slide) for any network.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from jaxlstm._src import validation

EncodingState = dict[str, Any]


def log_return_std(prices: np.ndarray, *, ddof: int = 0) -> float:
    """Standard deviation of the one-step log returns of ``[time]`` positive prices (host, float64).

    Args:
        prices: ``[time]`` positive prices.
        ddof: delta degrees of freedom (0: population, as the relative encoding scales by;
            1: sample, as the volatility band estimates).

    Returns:
        The spread, 0.0 with fewer than two returns.
    """
    returns = np.diff(np.log(np.asarray(prices, np.float64)))
    return float(np.std(returns, ddof=ddof)) if returns.size > 1 else 0.0


class Encoding(abc.ABC):
    """Prices <-> model values. Subclasses are frozen dataclasses (static and hashable)."""

    #: The name settings and saved models use.
    name: ClassVar[str]
    #: True when a price's encoding does not depend on the window it sits in, so a recursive
    #: forecast can use the network's pipelined ``predict_multi_step``.
    pipelined: ClassVar[bool]
    #: True when the methods need ``end_phase=`` (the phase of each window's last price in a season).
    seasonal: ClassVar[bool] = False

    @abc.abstractmethod
    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        """Constants of the encoding from ``[time]`` positive training prices (host, float64)."""

    @abc.abstractmethod
    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        """``[..., time]`` price windows -> ``[..., time, 1]`` model inputs."""

    @abc.abstractmethod
    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        """``[..., time]`` windows and ``[..., k]`` following prices -> ``[..., k]`` targets."""

    @abc.abstractmethod
    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        """Inverse of ``encode_targets``: ``[..., k]`` model outputs -> ``[..., k]`` prices."""


@dataclasses.dataclass(frozen=True)
class MinMaxEncoding(Encoding):
    """The seed's min-max scaling with one scaler fitted on the training prices.

    A constant series has range 1 (it scales to zeros instead of dividing by zero).
    """

    name: ClassVar[str] = "minmax"
    pipelined: ClassVar[bool] = True

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        prices = np.asarray(train_prices, np.float64)
        lo = float(np.min(prices))
        span = float(np.max(prices)) - lo
        return {"data_min": lo, "data_range": span if span > 0 else 1.0}

    def scale(self, state: EncodingState, prices: jax.Array) -> jax.Array:
        """``(prices - data_min) / data_range``, any shape."""
        return (prices - state["data_min"]) / state["data_range"]

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return self.scale(state, windows)[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return self.scale(state, future)

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return y * state["data_range"] + state["data_min"]


@dataclasses.dataclass(frozen=True)
class RelativeEncoding(Encoding):
    """Log prices relative to the window's last price, in units of the training log-return spread.

    ``log_return_std`` is the population standard deviation (``ddof=0``) of the training
    prices' one-step log returns; below 1e-9 (a constant or constant-growth series, where
    the spread is rounding noise) it is 1.
    """

    name: ClassVar[str] = "relative"
    pipelined: ClassVar[bool] = False

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        std = log_return_std(train_prices)
        return {"log_return_std": std if std > 1e-9 else 1.0}

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return (jnp.log(windows / windows[..., -1:]) / state["log_return_std"])[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return jnp.log(future / windows[..., -1:]) / state["log_return_std"]

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return windows[..., -1:] * jnp.exp(y * state["log_return_std"])


@dataclasses.dataclass(frozen=True)
class LogEncoding(Encoding):
    """Log prices standardised with the training log prices: ``(log p - log center) / log_scale``.

    ``center`` is the training prices' geometric mean and ``log_scale`` the population
    standard deviation of their logs (1 below 1e-9: a constant series). Both are positive,
    so the state checks like the others.
    """

    name: ClassVar[str] = "log"
    pipelined: ClassVar[bool] = True

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        logs = np.log(np.asarray(train_prices, np.float64))
        spread = float(np.std(logs))
        return {"center": float(np.exp(np.mean(logs))), "log_scale": spread if spread > 1e-9 else 1.0}

    def scale(self, state: EncodingState, prices: jax.Array) -> jax.Array:
        """``log(prices / center) / log_scale``, any shape."""
        return jnp.log(prices / state["center"]) / state["log_scale"]

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return self.scale(state, windows)[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return self.scale(state, future)

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return state["center"] * jnp.exp(y * state["log_scale"])


@dataclasses.dataclass(frozen=True)
class WindowEncoding(Encoding):
    """Log prices relative to their window's mean price, in units of the training log-return spread.

    ``log(p / mean(window)) / log_return_std``; ``log_return_std`` as ``RelativeEncoding``
    fits it. The window mean is the arithmetic mean of the window's prices.
    """

    name: ClassVar[str] = "window"
    pipelined: ClassVar[bool] = False

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        return RelativeEncoding().fit(train_prices)

    @staticmethod
    def level(windows: jax.Array) -> jax.Array:
        """``[..., time]`` -> ``[..., 1]`` the mean price of each window."""
        return jnp.mean(windows, axis=-1, keepdims=True)

    def encode_inputs(self, state: EncodingState, windows: jax.Array) -> jax.Array:
        return (jnp.log(windows / self.level(windows)) / state["log_return_std"])[..., None]

    def encode_targets(self, state: EncodingState, windows: jax.Array, future: jax.Array) -> jax.Array:
        return jnp.log(future / self.level(windows)) / state["log_return_std"]

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array) -> jax.Array:
        return self.level(windows) * jnp.exp(y * state["log_return_std"])


#: The kinds of season ``SeasonalEncoding`` removes.
SEASON_KINDS = ("multiplicative", "additive")
#: How the season is estimated: classical decomposition, or STL's periodic, robust fit.
SEASON_METHODS = ("classical", "stl")
#: STL's inner and outer (robustness) passes.
STL_PASSES = (2, 5)


def seasonal_indices(
    train: Any, season_length: int, kind: str = "multiplicative", method: str = "classical"
) -> np.ndarray:
    """The season of ``[n]`` training values (host, float64), by classical decomposition or STL.

    ``"classical"``: the trend is the centred moving average of ``season_length`` values (a
    2 x m average when ``m`` is even, so it stays centred); where it is defined (not the
    first and last ``m // 2`` values: nothing outside ``train`` is read or guessed) the
    values are divided by it (multiplicative) or it is subtracted (additive), and each
    phase's index is the mean of those at that phase (phase ``t mod m``, ``train[0]`` at
    phase 0). The indices are normalised to mean 1 (multiplicative) or 0 (additive).

    ``"stl"``: ``stl_season`` (Cleveland et al. 1990 with a periodic season and robustness
    weights) of the values, or of their logs for the multiplicative kind (whose indices
    are then ``exp`` of the log season, normalised to mean 1): a few outliers barely move it.

    Args:
        train: ``[n]`` training values, ``n >= 2 * season_length``; positive for the
            multiplicative kind.
        season_length: ``m >= 2``.
        kind: ``"multiplicative"`` or ``"additive"``.
        method: ``"classical"`` or ``"stl"``.

    Returns:
        ``[m]`` the seasonal indices by phase.
    """
    m = validation.check_positive_int("season_length", season_length, minimum=2)
    kind = validation.check_choice("kind", kind, SEASON_KINDS)
    method = validation.check_choice("method", method, SEASON_METHODS)
    x = validation.as_float_array("train", train, ndim=1)
    n = x.shape[0]
    if n < 2 * m:
        raise ValueError(f"train must hold at least two seasons (2 * {m} = {2 * m} values), got {n}")
    if kind == "multiplicative" and np.any(x <= 0):
        raise ValueError("train must be positive for a multiplicative season; use kind='additive'")
    if method == "stl":
        if kind == "additive":
            return stl_season(x, m)
        season = np.exp(stl_season(np.log(x), m))
        return season / np.mean(season)
    weights = np.full(m + 1, 1.0 / m) if m % 2 == 0 else np.full(m, 1.0 / m)
    if m % 2 == 0:
        weights[[0, -1]] = 0.5 / m
    trend = np.convolve(x, weights, mode="valid")  # trend[i] is centred on x[i + half]
    half = (weights.shape[0] - 1) // 2
    middle = x[half : half + trend.shape[0]]
    detrended = middle / trend if kind == "multiplicative" else middle - trend
    phases = (np.arange(trend.shape[0]) + half) % m
    sums = np.bincount(phases, weights=detrended, minlength=m)
    indices = sums / np.bincount(phases, minlength=m)
    return indices / np.mean(indices) if kind == "multiplicative" else indices - np.mean(indices)


def _loess(y: np.ndarray, weights: np.ndarray, span: int) -> np.ndarray:
    """Local linear regression of ``[n]`` values at every point on its ``span`` nearest (tricube x ``weights``)."""
    n = y.shape[0]
    span = min(span, n)
    t = np.arange(n, dtype=np.float64)
    start = np.clip(np.arange(n) - span // 2, 0, n - span)
    index = start[:, None] + np.arange(span)[None, :]  # [n, span]: each point's neighbours
    distance = np.abs(index - t[:, None])
    reach = np.maximum(distance.max(axis=1, keepdims=True), 1.0) * 1.000001
    w = (1 - (distance / reach) ** 3) ** 3 * weights[index]
    xs, ys = index.astype(np.float64), y[index]
    total = w.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    mean_x, mean_y = (w * xs).sum(axis=1) / safe, (w * ys).sum(axis=1) / safe
    var = (w * (xs - mean_x[:, None]) ** 2).sum(axis=1)
    cov = (w * (xs - mean_x[:, None]) * (ys - mean_y[:, None])).sum(axis=1)
    slope = np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), 0.0)
    fit = mean_y + slope * (t - mean_x)
    # A point whose neighbours all carry zero robustness weight keeps its plain local mean.
    return np.where(total > 0, fit, np.mean(ys, axis=1))


def stl_season(x: np.ndarray, m: int, passes: tuple[int, int] = STL_PASSES) -> np.ndarray:
    """``[m]`` additive season of ``[n]`` values by STL with a periodic season (host, float64).

    Cleveland, Cleveland, McRae and Terpenning (1990), with the seasonal smoother's span
    infinite ("periodic"): each inner pass detrends the values, takes every phase's
    weighted mean (the cycle-subseries smoothing, whose low-pass part is then just their
    mean, removed), and refits the trend by loess (local linear, tricube weights, span the
    smallest odd number >= 1.5 m) on the deseasonalised values. Each outer pass then
    down-weights large remainders by the bisquare of ``|r| / (6 median |r|)``. Phase is
    ``t mod m``; the season has mean 0.
    """
    inner, outer = passes
    n = x.shape[0]
    phases = np.arange(n) % m
    span = int(np.ceil(1.5 * m)) | 1
    robustness = np.ones(n)
    trend = np.zeros(n)
    season = np.zeros(m)
    for _ in range(outer):  # a handful of fixed passes, not a loop over data
        for _ in range(inner):
            detrended = x - trend
            sums = np.bincount(phases, weights=robustness * detrended, minlength=m)
            counts = np.bincount(phases, weights=robustness, minlength=m)
            plain = np.bincount(phases, weights=detrended, minlength=m) / np.bincount(phases, minlength=m)
            cycle = np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), plain)
            season = cycle - np.mean(cycle)
            trend = _loess(x - season[phases], robustness, span)
        remainder = np.abs(x - season[phases] - trend)
        scale = 6.0 * np.median(remainder)
        if not scale > 0:
            break
        robustness = np.clip(1 - (remainder / scale) ** 2, 0.0, None) ** 2
    return season


@dataclasses.dataclass(frozen=True)
class SeasonalEncoding(Encoding):
    """A season removed before ``base`` encodes the prices, and put back after it decodes.

    ``fit`` takes the training prices with ``train[0]`` at phase 0 of the season: it fits
    ``seasonal_indices`` and then ``base`` on the deseasonalised training prices, giving
    ``{"season_0": ..., "season_{m-1}": ..., **base_state}``. Every method takes
    ``end_phase``: ``[...]`` integers, the phase of each window's last price (``(index of
    that price in the training series' numbering) mod m``); the targets follow at the
    next phases. Deseasonalising divides by the index (multiplicative) or subtracts it
    (additive), and its inverse multiplies or adds the same float: exact to rounding.

    Attributes:
        base: the encoding of the deseasonalised prices (any non-seasonal ``Encoding``;
            with the additive kind, one whose deseasonalised training prices stay positive).
        season_length: ``m >= 2``.
        kind: ``"multiplicative"`` (default) or ``"additive"``.
        method: ``"classical"`` (default) or ``"stl"`` (see ``seasonal_indices``).
    """

    base: Encoding = dataclasses.field(default_factory=RelativeEncoding)
    season_length: int = 12
    kind: str = "multiplicative"
    method: str = "classical"

    name: ClassVar[str] = "seasonal"
    pipelined: ClassVar[bool] = False
    seasonal: ClassVar[bool] = True

    def __post_init__(self) -> None:
        if not isinstance(self.base, Encoding) or self.base.seasonal:
            raise TypeError(f"base must be a non-seasonal Encoding, got {self.base!r}")
        validation.check_positive_int("season_length", self.season_length, minimum=2)
        validation.check_choice("kind", self.kind, SEASON_KINDS)
        validation.check_choice("method", self.method, SEASON_METHODS)

    def fit(self, train_prices: np.ndarray) -> dict[str, float]:
        prices = np.asarray(train_prices, np.float64)
        indices = seasonal_indices(prices, self.season_length, self.kind, self.method)
        adjusted = self._adjust(indices, prices, np.arange(prices.shape[0]) % self.season_length)
        if np.any(adjusted <= 0):
            raise ValueError("the additive season leaves prices <= 0 in the training data; use kind='multiplicative'")
        return {**{f"season_{i}": float(v) for i, v in enumerate(indices)}, **self.base.fit(adjusted)}

    def indices(self, state: EncodingState) -> jax.Array:
        """``[m]`` the fitted seasonal indices (``[season_length]`` of a shared state, see ``shared_seasonal``)."""
        if SHARED_INDICES in state:
            return jnp.asarray(state[SHARED_INDICES])
        return jnp.stack([jnp.asarray(state[f"season_{i}"]) for i in range(self.season_length)])

    def period(self, state: EncodingState) -> Any:
        """The season the phases cycle through: ``season_length``, or a shared state's own ``m`` (traced)."""
        if SHARED_PERIOD in state:
            return jnp.round(jnp.asarray(state[SHARED_PERIOD])).astype(jnp.int32)
        return self.season_length

    def phases(self, end_phase: Any, length: int, offset: int, period: Any = None) -> jax.Array:
        """``[..., length]`` phases of ``length`` prices starting ``offset`` after the window's last one (mod ``period``, default ``season_length``)."""
        if end_phase is None:
            raise TypeError("a SeasonalEncoding needs end_phase=, the phase of each window's last price")
        steps = jnp.arange(length) + offset
        return (jnp.asarray(end_phase)[..., None] + steps) % (self.season_length if period is None else period)

    def _adjust(self, indices: Any, values: Any, phases: Any) -> Any:
        factors = indices[phases]
        return values / factors if self.kind == "multiplicative" else values - factors

    def _restore(self, indices: Any, values: Any, phases: Any) -> Any:
        factors = indices[phases]
        return values * factors if self.kind == "multiplicative" else values + factors

    def deseasonalised(self, state: EncodingState, prices: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """``[time]`` host prices without the season, each at phase ``position mod m`` (numpy float64; no compiling)."""
        if SHARED_INDICES in state:
            indices = np.asarray(state[SHARED_INDICES], np.float64)
            period = int(np.round(np.asarray(state[SHARED_PERIOD]))) if SHARED_PERIOD in state else self.season_length
        else:
            indices = np.array([state[f"season_{i}"] for i in range(self.season_length)], np.float64)
            period = self.season_length
        phases = np.asarray(positions, np.float64).astype(np.int64) % period
        return np.asarray(self._adjust(indices, np.asarray(prices, np.float64), phases))

    def deseasonalise(self, state: EncodingState, windows: jax.Array, end_phase: Any) -> jax.Array:
        """``[..., time]`` price windows ending at ``end_phase`` -> the same without the season."""
        t = windows.shape[-1]
        return self._adjust(self.indices(state), windows, self.phases(end_phase, t, 1 - t, self.period(state)))

    def encode_inputs(self, state: EncodingState, windows: jax.Array, *, end_phase: Any = None) -> jax.Array:
        return self.base.encode_inputs(state, self.deseasonalise(state, windows, end_phase))

    def encode_targets(
        self, state: EncodingState, windows: jax.Array, future: jax.Array, *, end_phase: Any = None
    ) -> jax.Array:
        phases = self.phases(end_phase, future.shape[-1], 1, self.period(state))
        ahead = self._adjust(self.indices(state), future, phases)
        return self.base.encode_targets(state, self.deseasonalise(state, windows, end_phase), ahead)

    def decode(self, state: EncodingState, windows: jax.Array, y: jax.Array, *, end_phase: Any = None) -> jax.Array:
        adjusted = self.base.decode(state, self.deseasonalise(state, windows, end_phase), y)
        return self._restore(self.indices(state), adjusted, self.phases(end_phase, y.shape[-1], 1, self.period(state)))


#: Keys of a shared seasonal state (``shared_seasonal``): the padded indices and the model's own season.
SHARED_INDICES, SHARED_PERIOD = "season_indices", "season_period"
#: The fewest indices a shared seasonal state holds: every season up to it (quarterly, weekly,
#: monthly, hourly, a year of weeks) shares one compiled program; longer ones, a power of two.
MIN_SHARED_SEASON = 64


def shared_season_length(season: int) -> int:
    """The ``season_length`` of the shared form of a season of ``season`` (1: none): ``MIN_SHARED_SEASON`` or a power of two."""
    return max(MIN_SHARED_SEASON, 1 << (max(season, 1) - 1).bit_length())


def shared_seasonal(encoding: Encoding, state: dict[str, float]) -> tuple[SeasonalEncoding, dict[str, Any]]:
    """The form of a seasonal encoding (or of a season-free one) in which models of different seasons share one program.

    A ``SeasonalEncoding`` of season ``m`` becomes one of ``shared_season_length(m)``
    whose state holds the ``m`` indices padded by neutral ones (1, or 0 for the additive
    kind) under ``SHARED_INDICES`` and ``m`` under ``SHARED_PERIOD``: its phases cycle
    through ``m`` and every value it computes is the original's (the same index divides
    or multiplies the same price). A non-seasonal encoding becomes the multiplicative
    season of ``m = 1`` over it: indices of 1, whose division and product change nothing.
    The compiled program then depends on the base encoding, the kind and the padded
    length alone, not on ``m``.

    Args:
        encoding: the model's encoding.
        state: its fitted state (``Encoding.fit``'s keys).

    Returns:
        ``(encoding, state)`` with ``state[SHARED_INDICES]`` a float64 array.
    """
    if isinstance(encoding, SeasonalEncoding):
        m, base, kind = encoding.season_length, encoding.base, encoding.kind
        indices = [state[f"season_{i}"] for i in range(m)]
        rest = {k: v for k, v in state.items() if not k.startswith("season_")}
    else:
        m, base, kind, indices, rest = 1, encoding, "multiplicative", [1.0], dict(state)
    padded = shared_season_length(m)
    neutral = 1.0 if kind == "multiplicative" else 0.0
    table = np.full(padded, neutral)
    table[:m] = indices
    shared = SeasonalEncoding(base, padded, kind)
    return shared, {**rest, SHARED_INDICES: table, SHARED_PERIOD: float(m)}


#: The encodings by name (see ``get_encoding``); ``SeasonalEncoding`` takes settings and is passed as an object.
ENCODINGS: dict[str, Encoding] = {
    e.name: e for e in (MinMaxEncoding(), RelativeEncoding(), LogEncoding(), WindowEncoding())
}


#: The estimator's name of ``SeasonalEncoding(RelativeEncoding(), season_length_)`` (``estimator_encoding``).
SEASONAL = "seasonal"


def check_encoding_name(encoding: Any) -> str:
    """An estimator's ``encoding`` setting: a name of ``ENCODINGS`` or ``"seasonal"`` (the relative encoding of deseasonalised prices; with no season, the relative encoding)."""
    if encoding == SEASONAL:
        return SEASONAL
    if isinstance(encoding, Encoding) and not encoding.seasonal:
        return get_encoding(encoding).name
    if isinstance(encoding, Encoding):
        raise TypeError("encoding must be 'seasonal' (with season_length) for a seasonal encoding, not an object")
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {(*ENCODINGS, SEASONAL)}, got {encoding!r}")
    return encoding


def estimator_encoding(name: str, season_length: int | None) -> Encoding:
    """The ``Encoding`` of an estimator's ``encoding`` name and its season in use.

    ``"seasonal"``: ``SeasonalEncoding(RelativeEncoding(), season_length)`` (multiplicative,
    classical: the season removed from the training part's prices, then the relative
    encoding of the deseasonalised prices), or the relative encoding when no season is
    in use (``season_length="auto"`` that found none).
    """
    if name != SEASONAL:
        return get_encoding(name)
    if season_length is None:
        return RelativeEncoding()
    return SeasonalEncoding(RelativeEncoding(), season_length)


def get_encoding(encoding: str | Encoding) -> Encoding:
    """The encoding named ``encoding`` (``"minmax"``, ``"relative"``, ``"log"``, ``"window"``), or ``encoding`` itself."""
    if isinstance(encoding, Encoding):
        return encoding
    if not isinstance(encoding, str) or encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {tuple(ENCODINGS)} or an Encoding, got {encoding!r}")
    return ENCODINGS[encoding]


def fit_state(encoding: Encoding, train_prices: Any) -> dict[str, float]:
    """``encoding.fit`` after checking the prices: ``[time]`` finite and > 0."""
    prices = validation.as_float_array("train_prices", train_prices, ndim=1)
    if prices.shape[0] < 1 or np.any(prices <= 0):
        raise ValueError(f"train_prices must be at least one positive price, got {prices.shape[0]} values")
    return encoding.fit(prices)


def device_state(state: dict[str, float], dtype: Any = jnp.float32) -> EncodingState:
    """A fitted state as JAX scalars of ``dtype`` (what compiled code takes)."""
    return {k: jnp.asarray(v, dtype) for k, v in state.items()}


def _one_window(
    network: Any,
    params: Any,
    encoding: Encoding,
    state: EncodingState,
    window: jax.Array,
    steps: int,
    phase: Any,
    limit: Any = None,
):
    if encoding.pipelined and hasattr(network, "predict_multi_step"):
        y = network.predict_multi_step(params, encoding.encode_inputs(state, window), steps)
        return encoding.decode(state, window, y[:, 0])
    # Only a seasonal encoding reads the phase; it advances one step per forecast step.
    at = (lambda p: {"end_phase": p}) if encoding.seasonal else (lambda p: {})

    def step(carry, _):
        window, phase = carry
        y = network.apply(params, encoding.encode_inputs(state, window, **at(phase)))
        nxt = encoding.decode(state, window, y[:1], **at(phase))
        return (jnp.concatenate([window[1:], nxt.astype(window.dtype)]), phase + 1), nxt[0]

    if limit is None:
        _, out = jax.lax.scan(step, (window, phase), None, length=steps)
        return out

    # The same steps in a loop that ends after ``limit`` of them: calibration scores origins
    # near the end of a series, whose later steps have no price to compare with.
    def body(carry):
        i, state_, out = carry
        state_, value = step(state_, None)
        return i + 1, state_, out.at[i].set(value)

    out = jnp.full((steps,), jnp.nan, window.dtype)
    limit = jnp.minimum(jnp.asarray(limit, jnp.int32), steps)
    _, _, out = jax.lax.while_loop(lambda c: c[0] < limit, body, (jnp.asarray(0, jnp.int32), (window, phase), out))
    return out


def forecast_prices(
    network: Any,
    params: Any,
    encoding: Encoding,
    state: EncodingState,
    windows: jax.Array,
    steps: int,
    end_phase: Any = None,
    limit: Any = None,
) -> jax.Array:
    """Recursive forecast in price space: encode, predict, decode, slide, as one ``lax.scan``.

    For a pipelined encoding (min-max) and a network with ``predict_multi_step`` (the
    LSTM), this is that pipeline of overlapping windows on scaled inputs followed by the
    inverse scaling; otherwise the window is re-encoded around its new last price at
    every step, so the windows run one after another.

    Args:
        network: an object with ``apply(params, x[time, 1]) -> [1 + ...]`` for one window
            (and optionally ``predict_multi_step``), e.g. ``LSTMConfig``. Static.
        params: the network's params.
        encoding: an ``Encoding``. Static.
        state: its fitted constants (JAX scalars).
        windows: ``[..., time]`` the most recent prices.
        steps: static number of steps.
        end_phase: ``[...]`` integers, the phase of each window's last price, for a
            seasonal encoding (required there, ignored by the others).
        limit: None, or an integer (traced is fine) ``<= steps`` shared by all windows:
            the re-encoded recursion stops after ``limit`` steps and the later steps are
            NaN (the steps computed equal those of ``limit=None``). Ignored by the pipelined
            recursion, which always runs ``steps``.

    Returns:
        ``[..., steps]`` predicted prices.
    """
    steps = validation.check_steps(steps)
    batch = windows.shape[:-1]
    flat = windows.reshape((-1, windows.shape[-1]))
    if encoding.seasonal and end_phase is None:
        raise TypeError("a seasonal encoding needs end_phase=, the phase of each window's last price")
    phases = jnp.broadcast_to(jnp.asarray(0 if end_phase is None else end_phase, jnp.int32), batch).reshape(-1)
    out = jax.vmap(lambda w, p: _one_window(network, params, encoding, state, w, steps, p, limit))(flat, phases)
    return out.reshape((*batch, steps))
