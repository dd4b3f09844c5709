"""Market data: load OHLCV candles and turn prices into the forecaster's input.

``load_ohlcv`` reads exchange/vendor CSV files, pandas DataFrames and ccxt rows into an
``OHLCV`` of numpy arrays sorted by time; ``as_price_series`` accepts any of those (or a
plain array of prices) and returns ``(prices, timestamps)``; ``infer_interval`` gives the
data's own sampling interval; ``load_demo`` loads the bundled hourly BTC/USD candles.
pandas is optional: it is needed only for DataFrame/Series inputs and ``OHLCV.to_pandas``.
"""

from jaxlstm._src.io.ohlcv import (
    OHLCV,
    as_price_series,
    demo_data_path,
    infer_interval,
    load_demo,
    load_ohlcv,
)

__all__ = [
    "OHLCV",
    "as_price_series",
    "demo_data_path",
    "infer_interval",
    "load_demo",
    "load_ohlcv",
]
