"""``fit(gaps=...)``: gappy dated data warns (count and largest gap), is refused or is filled onto its grid."""

import warnings

import numpy as np
import pandas as pd
import pytest

import jaxlstm as jl
from jaxlstm._src.prep.gaps import GapWarning
from jaxlstm.data import load_demo


@pytest.fixture(scope="module")
def hourly():
    return load_demo().to_pandas()["close"][-300:]


@pytest.fixture(scope="module")
def holed(hourly):
    # 29 hourly prices missing: one step of 30 hours.
    return pd.concat([hourly[:100], hourly[129:]])


def test_a_regular_series_fits_without_a_word(hourly):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jl.baselines.NaiveForecaster().fit(hourly)


def test_a_30_hour_hole_warns_with_the_count_and_the_largest_gap(holed):
    with pytest.warns(GapWarning, match=r"1 gap\(s\) longer than its 1h interval \(29 missing.*the largest 30h"):
        model = jl.baselines.NaiveForecaster().fit(holed)
    assert model.interval_ == np.timedelta64(1, "h") and model.prices_.shape[0] == holed.shape[0]


def test_a_quarter_of_the_rows_dropped_at_random_warns(hourly):
    keep = np.sort(np.random.default_rng(0).choice(hourly.shape[0], hourly.shape[0] * 3 // 4, replace=False))
    with pytest.warns(GapWarning, match="gap"):
        jl.baselines.NaiveForecaster().fit(hourly.iloc[keep])


def test_gaps_raise_refuses_before_training(holed):
    with pytest.raises(ValueError, match=r"1 gap\(s\).*equally spaced"):
        jl.LSTMForecaster(hidden_size=4, sequence_length=8, epochs=1).fit(holed, gaps="raise")
    with pytest.raises(ValueError, match=r"gaps must be one of"):
        jl.baselines.NaiveForecaster().fit(holed, gaps="ignore")


def test_gaps_fill_carries_the_close_forward_onto_the_grid(hourly, holed):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = jl.baselines.NaiveForecaster().fit(holed, gaps="fill")
    assert model.prices_.shape[0] == hourly.shape[0]
    np.testing.assert_array_equal(model.prices_[100:129], holed.iloc[99])
    assert model.last_timestamp_ == hourly.index[-1]
    # What the model was trained on is the data as given, as fingerprint(data) sees it.
    assert model.trained_on_ == jl.data.fingerprint(holed)


def test_fit_many_and_candles_fill_too(holed):
    candles = load_demo()[-300:]
    rows = np.r_[0:100, 129:300]
    models = jl.baselines.NaiveForecaster.fit_many({"A": holed, "B": candles[rows]}, gaps="fill")
    assert all(m.prices_.shape[0] == 300 for m in models.values())
    with pytest.warns(GapWarning, match=r"data\['B'\] has 1 gap"):
        jl.baselines.NaiveForecaster.fit_many({"B": candles[rows]})
