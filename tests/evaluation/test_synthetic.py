"""The synthetic candle generator: valid candles, the same prices with and without informative volume, its oracle."""

import numpy as np
import pytest

from jaxlstm._src.evaluation import synthetic
from jaxlstm.data import OHLCV


def test_candles_are_valid_and_close_is_the_price():
    series = synthetic.volume_flow(500, seed=1)
    c = series.candles
    assert isinstance(c, OHLCV) and len(c) == 500 and c.symbol == "SYNTH"
    np.testing.assert_array_equal(c.close, series.prices)
    assert np.all(c.low <= np.minimum(c.open, c.close)) and np.all(np.maximum(c.open, c.close) <= c.high)
    assert np.all(c.volume > 0) and np.all(np.isfinite(c.volume))
    np.testing.assert_allclose(c.open[1:], c.close[:-1])
    assert np.all(np.diff(c.timestamps) == np.timedelta64(1, "h"))


def test_same_prices_whether_or_not_volume_informs():
    a = synthetic.VOLUME_SETS["volume_informative"](800, seed=2)
    b = synthetic.VOLUME_SETS["volume_uninformative"](800, seed=2)
    np.testing.assert_array_equal(a.prices, b.prices)
    assert not np.allclose(a.candles.volume, b.candles.volume)
    assert a.name == "volume_informative" and b.params["informative"] is False
    again = synthetic.volume_flow(800, seed=2)
    np.testing.assert_array_equal(again.candles.volume, a.candles.volume)


def test_volume_spikes_mark_the_moves_that_continue():
    # The next day's move per unit of a candle's own move: on the high-volume candles it is far above
    # that of all candles when volume marks the informed ones, and the same as all candles' when not.
    def continuation(series, candles):
        log_close = np.log(series.prices)
        ret = np.diff(log_close, prepend=np.log(100.0))
        t = candles[candles < series.prices.shape[0] - 25]
        ahead = log_close[t + 24] - log_close[t]
        return float(np.sum(ahead * ret[t]) / np.sum(ret[t] ** 2))

    for informative in (True, False):
        s = synthetic.volume_flow(6000, informative=informative, seed=3)
        volume = np.log(s.candles.volume)
        spikes = np.flatnonzero(volume > np.quantile(volume, 0.95))
        everyone = continuation(s, np.arange(6000))
        gap = continuation(s, spikes) - everyone
        assert (gap > 2.0) if informative else (abs(gap) < 0.7), (informative, gap)


def test_oracle_adds_the_drift_in_motion():
    s = synthetic.volume_flow(400, rate=0.2, seed=4)
    origin = 300
    path = s.oracle(origin, 30)
    assert path.shape == (30,) and np.all(path > 0)
    # Past the continuation's duration nothing is left in motion: the forecast is flat.
    np.testing.assert_allclose(path[24:], path[24])
    quiet = synthetic.volume_flow(400, rate=1e-9, seed=4)
    np.testing.assert_allclose(quiet.oracle(origin, 5), quiet.prices[origin - 1])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 1}, ValueError, "n must be"),
        ({"rate": 0.0}, ValueError, "rate"),
        ({"duration": 0}, ValueError, "duration"),
        ({"volatility": 0.0}, ValueError, "volatility"),
        ({"informative": 1}, TypeError, "informative"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        synthetic.volume_flow(**{"n": 100, **kwargs})
