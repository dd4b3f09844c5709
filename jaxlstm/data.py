"""Market data and its preparation: load candles, cut windows, encode prices.

``load_ohlcv`` reads exchange/vendor CSV files (also those ``DataFrame.to_csv`` writes,
several assets side by side included), pandas DataFrames and ccxt rows into an ``OHLCV`` of
numpy arrays sorted by time (``candles[-500:]`` slices it); ``as_price_series`` accepts any
of those (or a plain array of prices) and returns ``(prices, timestamps)``;
``infer_interval`` gives the data's own sampling interval; ``symbol_of`` the name data go by
(their symbol, else the file's name, else ``"series"``); ``load_demo`` loads the bundled
hourly BTC/USD candles. Files are read with pandas' C parser; ``MAX_LINE_BYTES`` bounds
the length of a line. pandas is imported only when a file or a pandas object is read.
``sliding_windows``, ``chronological_split`` and ``pad_stack`` are the library's only
windowing code; ``split_long`` reads many series in the long format of Nixtla's libraries
(``unique_id``, ``ds``, ``y``); the encodings (``MinMaxEncoding``, ``RelativeEncoding``) turn prices into
model values and back exactly, fitted on training prices only. ``fingerprint(data)`` is the
``DataFingerprint`` a forecaster fitted on ``data`` records as ``trained_on_`` (interval, time
span, length, SHA-256 of every column the model reads, source), so you can tell whether a saved model saw the
data at hand; ``GapWarning`` is what ``fit`` warns with when dated data has holes (``fit(gaps=...)``). ``FEATURES`` are causal
candle features (log return, log volume, range, volatility, RSI, MACD, ...; each a pure,
jit-able function of past candles, ``compute_features`` runs them), ``FEATURE_SETS`` the
named input sets, and ``ModelInputs`` turns windows of candles into a network's inputs,
fitted on training candles only; ``forecast_direct`` is the direct multi-horizon forecast.
"""

from jaxlstm._src.io.long_format import split_long
from jaxlstm._src.io.ohlcv import (
    MAX_LINE_BYTES,
    OHLCV,
    as_price_series,
    demo_data_path,
    infer_interval,
    load_demo,
    load_ohlcv,
    symbol_of,
)
from jaxlstm._src.io.series import fingerprint
from jaxlstm._src.prep.encodings import (
    ENCODINGS,
    Encoding,
    MinMaxEncoding,
    RelativeEncoding,
    forecast_prices,
    get_encoding,
    log_return_std,
)
from jaxlstm._src.prep.features import FEATURE_NAMES, FEATURE_SETS, FEATURES, Feature
from jaxlstm._src.prep.features import compute as compute_features
from jaxlstm._src.prep.fingerprints import DataFingerprint
from jaxlstm._src.prep.gaps import GapWarning
from jaxlstm._src.prep.inputs import ModelInputs, forecast_direct
from jaxlstm._src.prep.windows import chronological_split, pad_stack, sliding_windows, windows_before

__all__ = [
    "ENCODINGS",
    "FEATURES",
    "FEATURE_NAMES",
    "FEATURE_SETS",
    "MAX_LINE_BYTES",
    "OHLCV",
    "DataFingerprint",
    "Encoding",
    "Feature",
    "GapWarning",
    "MinMaxEncoding",
    "ModelInputs",
    "RelativeEncoding",
    "as_price_series",
    "chronological_split",
    "compute_features",
    "demo_data_path",
    "fingerprint",
    "forecast_direct",
    "forecast_prices",
    "get_encoding",
    "infer_interval",
    "load_demo",
    "load_ohlcv",
    "log_return_std",
    "pad_stack",
    "sliding_windows",
    "split_long",
    "symbol_of",
    "windows_before",
]
