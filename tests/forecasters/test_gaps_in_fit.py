"""``fit(gaps=...)``: gappy dated data warns (count and largest gap), is refused or is filled onto its grid."""

import warnings

import jax
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


@pytest.mark.slow  # compiles calendar-input networks of its own (1.6 s a case): the quick tier stays under 90 s
@pytest.mark.parametrize("season_length", [None, 24])
def test_calendar_inputs_read_the_clock_of_the_filled_grid(hourly, holed, season_length):
    # fit(gaps="fill") with calendar inputs refused the data ("fill the gaps first"): the
    # clock was read before the gaps were filled. It is the filled grid's clock, as fit_many's.
    settings = dict(
        hidden_size=4, sequence_length=8, epochs=2, calendar=("hour", "weekday"), season_length=season_length
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = jl.LSTMForecaster(**settings).fit(holed, gaps="fill")
    filled = holed.resample("h").ffill()
    assert filled.shape[0] == hourly.shape[0]
    reference = jl.LSTMForecaster(**settings).fit(filled)
    many = jl.LSTMForecaster.fit_many({"A": holed}, gaps="fill", **settings)["A"]
    for other in (reference, many):
        np.testing.assert_array_equal(model.prices_, other.prices_)
        for ours, theirs in zip(jax.tree.leaves(model.params_), jax.tree.leaves(other.params_), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(model.forecast(steps=5).predicted, other.forecast(steps=5).predicted, rtol=1e-6)
    assert model.calendar_ == ("hour", "weekday") and model.trained_on_ == jl.data.fingerprint(holed)
    # The clock of a filled hour is its own hour, not a price carried forward.
    window = model.forecast_window()
    np.testing.assert_array_equal(np.diff(window[:, model.input_columns.index("calendar_second")]) % 3600, 0)


def test_the_gap_warning_points_at_the_callers_line(holed):
    # A fixed stacklevel named a frame above the caller for a baseline's fit and fit_many.
    with pytest.warns(GapWarning) as baseline:
        jl.baselines.NaiveForecaster().fit(holed)
    with pytest.warns(GapWarning) as lstm:
        jl.LSTMForecaster(hidden_size=4, sequence_length=8, epochs=1).fit(holed)
    with pytest.warns(GapWarning) as many:
        jl.baselines.NaiveForecaster.fit_many({"A": holed})
    for what, caught in {"baseline fit": baseline, "lstm fit": lstm, "fit_many": many}.items():
        assert [w.filename for w in caught] == [__file__], what
