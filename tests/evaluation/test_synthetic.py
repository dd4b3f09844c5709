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


def test_volume_spikes_mark_the_candles_a_rise_follows():
    # The mean rise over the next day after the highest-volume candles (as many as the informed
    # ones), against after any candle: about the premium more when volume marks the informed
    # candles, about the same when it does not (the standard error of the gap is about 0.012).
    for informative in (True, False):
        s = synthetic.volume_flow(6000, informative=informative, seed=3)
        premium, rate = s.params["premium"], s.params["rate"]
        log_close = np.log(s.prices)
        volume = np.log(s.candles.volume)
        later = np.arange(6000 - 25)
        spikes = later[volume[later] > np.quantile(volume, 1 - rate)]
        gap = float(
            np.mean(log_close[spikes + 24] - log_close[spikes]) - np.mean(log_close[later + 24] - log_close[later])
        )
        assert (0.6 * premium < gap < 1.3 * premium) if informative else (abs(gap) < 0.15 * premium), (
            informative,
            gap,
        )


def test_oracle_is_the_expected_path():
    s = synthetic.volume_flow(400, rate=0.2, premium=0.06, seed=4)
    origin = 300
    path = np.log(s.oracle(origin, 30))
    # Past the premium's duration the premium expected from new informed candles offsets the constant.
    np.testing.assert_allclose(np.diff(path[24:]), 0.0, atol=1e-12)
    # The first step: 0.06 / 24 for each informed candle of the last 24, minus the offset 0.2 * 0.06.
    recent = (np.log(s.oracle(origin, 1))[0] - np.log(s.prices[origin - 1]) + 0.2 * 0.06) * 24 / 0.06
    assert abs(recent - round(recent)) < 1e-9 and recent >= 1
    # Unbiased: the mean log error of the 24-step forecast over many origins is near zero.
    long = synthetic.volume_flow(20000, seed=1)
    origins = np.arange(100, 19970, 24)
    errors = np.array([np.log(long.prices[o + 23] / long.oracle(int(o), 24)[-1]) for o in origins])
    assert abs(errors.mean()) < 3 * errors.std() / np.sqrt(origins.size)


def test_default_signal_is_strong_enough_to_measure():
    # The defaults' oracle forecasts 24 steps with well under the naive MAE (about 0.6 over a
    # long stretch; the earlier premium of 0.06 every 10 candles gave 0.74).
    s = synthetic.volume_flow(20000, seed=1)
    origins = np.arange(2000, 19970, 24)
    actual = np.stack([s.prices[o : o + 24] for o in origins])
    oracle = np.stack([s.oracle(int(o), 24) for o in origins])
    naive = s.prices[origins - 1][:, None]
    ratio = np.abs(actual - oracle).mean() / np.abs(actual - naive).mean()
    assert 0.5 < ratio < 0.7, ratio


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
