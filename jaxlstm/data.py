"""Market data and its preparation: load candles, cut windows, encode prices.

``load_ohlcv`` reads exchange/vendor CSV files (also those ``DataFrame.to_csv`` writes,
several assets side by side included), pandas DataFrames and ccxt rows into an ``OHLCV`` of
numpy arrays sorted by time (``candles[-500:]`` slices it); ``as_price_series`` accepts any
of those (or a plain array of prices) and returns ``(prices, timestamps)``;
``infer_interval`` gives the data's own sampling interval; ``symbol_of`` the name data go by
(their symbol, else the file's name, else ``"series"``); ``load_demo`` loads the bundled
hourly BTC/USD candles; ``horizon_to_steps`` turns ``"4h"``/``"1d"`` into a number of steps
at an interval. ``split_long`` reads many series in the long format of Nixtla's libraries
(``unique_id``, ``ds``, ``y``).

``sliding_windows`` and ``chronological_split`` are the library's windowing; the encodings
(``MinMaxEncoding``, ``RelativeEncoding``, ``"log"``, ``"window"``, any ``Encoding``) turn
prices into model values and back exactly, fitted on training prices only. ``fingerprint(data)`` is the
``DataFingerprint`` a forecaster fitted on ``data`` records as ``trained_on_`` (interval,
time span, length, SHA-256 of every column the model reads, source), so you can tell whether
a saved model saw the data at hand; ``GapWarning`` is what ``fit`` warns with when dated
data has holes (``fit(gaps=...)``). ``FEATURES`` are causal candle features (log return,
log volume, range, volatility, RSI, MACD, ...; each a pure, jit-able function of past
candles, ``compute_features`` runs them), ``FEATURE_SETS`` the named input sets, and
``ModelInputs`` turns windows of candles into a network's inputs, fitted on training
candles only.
"""

from jaxlstm._src.io.ohlcv import OHLCV, as_price_series, load_demo, load_ohlcv, symbol_of
from jaxlstm._src.io.series import fingerprint, split_long
from jaxlstm._src.prep.encodings import Encoding, MinMaxEncoding, RelativeEncoding
from jaxlstm._src.prep.features import FEATURE_SETS, FEATURES
from jaxlstm._src.prep.features import compute as compute_features
from jaxlstm._src.prep.fingerprints import DataFingerprint
from jaxlstm._src.prep.gaps import GapWarning
from jaxlstm._src.prep.horizons import horizon_to_steps, infer_interval
from jaxlstm._src.prep.inputs import ModelInputs
from jaxlstm._src.prep.windows import chronological_split, sliding_windows

__all__ = [
    "FEATURES",
    "FEATURE_SETS",
    "OHLCV",
    "DataFingerprint",
    "Encoding",
    "GapWarning",
    "MinMaxEncoding",
    "ModelInputs",
    "RelativeEncoding",
    "as_price_series",
    "chronological_split",
    "compute_features",
    "fingerprint",
    "horizon_to_steps",
    "infer_interval",
    "load_demo",
    "load_ohlcv",
    "sliding_windows",
    "split_long",
    "symbol_of",
]
