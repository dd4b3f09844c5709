"""Market data: load OHLCV candles and turn prices into the forecaster's input.

``load_ohlcv`` reads exchange/vendor CSV files (also those ``DataFrame.to_csv`` writes,
several assets side by side included), pandas DataFrames and ccxt rows into an ``OHLCV`` of
numpy arrays sorted by time (``candles[-500:]`` slices it); ``as_price_series`` accepts any
of those (or a plain array of prices) and returns ``(prices, timestamps)``;
``infer_interval`` gives the data's own sampling interval; ``load_demo`` loads the bundled
hourly BTC/USD candles. Files are read with pandas' C parser; ``MAX_LINE_BYTES`` bounds
the length of a line. pandas is imported only when a file or a pandas object is read.
"""

from jaxlstm._src.io.ohlcv import (
    MAX_LINE_BYTES,
    OHLCV,
    as_price_series,
    demo_data_path,
    infer_interval,
    load_demo,
    load_ohlcv,
)

__all__ = [
    "MAX_LINE_BYTES",
    "OHLCV",
    "as_price_series",
    "demo_data_path",
    "infer_interval",
    "load_demo",
    "load_ohlcv",
]
