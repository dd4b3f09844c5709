"""``update`` trains only on prices that continue the model's last one, at its interval."""

import copy
import warnings

import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxlstm as jl
from jaxlstm.data import load_demo

TINY = dict(hidden_size=4, sequence_length=8, epochs=1, batch_size=32)
FIT_END = 150  # the model is fitted on the first 150 hourly prices of the series


@pytest.fixture(scope="module")
def series():
    return load_demo().to_pandas()["close"][-220:]


@pytest.fixture(scope="module")
def fitted(series):
    return jl.LSTMForecaster(**TINY).fit(series[:FIT_END])


def _leaves(tree):
    return [np.asarray(a) for a in jax.tree.leaves(tree)]


@pytest.mark.slow
def test_dated_prices_that_continue_move_the_last_timestamp(fitted, series):
    model = copy.deepcopy(fitted)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.update(series[FIT_END : FIT_END + 4], epochs=1)
    assert model.last_timestamp_ == series.index[FIT_END + 3]
    assert model.forecast(steps=2).timestamps[0] == series.index[FIT_END + 4]


def test_a_plain_array_on_a_dated_model_needs_its_interval(fitted, series):
    model = copy.deepcopy(fitted)
    new = series[FIT_END : FIT_END + 4].to_numpy()
    with pytest.raises(ValueError, match=r"no timestamps.*interval='1h'"):
        model.update(new, epochs=1)
    assert model.last_timestamp_ == series.index[FIT_END - 1]
    with pytest.raises(ValueError, match=r"interval.*1d.*1h"):
        model.update(new, interval="1d", epochs=1)
    model.update(new, interval="1h", epochs=1)
    assert model.last_timestamp_ == series.index[FIT_END + 3]
    twin = copy.deepcopy(fitted).update(series[FIT_END : FIT_END + 4], epochs=1)
    for a, b in zip(_leaves(model.params_), _leaves(twin.params_), strict=True):
        np.testing.assert_array_equal(a, b)


def test_overlapping_prices_are_checked_dropped_and_counted(fitted, series):
    model = copy.deepcopy(fitted)
    with pytest.warns(UserWarning, match=r"dropped the first 6 price\(s\)") as record:
        model.update(series[FIT_END - 6 : FIT_END + 4], epochs=1)
    assert [w.filename for w in record if "dropped" in str(w.message)] == [__file__]  # the caller's line
    twin = copy.deepcopy(fitted).update(series[FIT_END : FIT_END + 4], epochs=1)
    assert model.last_timestamp_ == twin.last_timestamp_
    for a, b in zip(_leaves(model.params_), _leaves(twin.params_), strict=True):
        np.testing.assert_array_equal(a, b)
    altered = series[FIT_END - 6 : FIT_END + 4].copy()
    altered.iloc[2] *= 1.01
    with pytest.raises(ValueError, match="differ from those the model saw"):
        copy.deepcopy(fitted).update(altered, epochs=1)


def test_old_prices_a_gap_and_another_interval_are_refused(fitted, series):
    model = copy.deepcopy(fitted)
    with pytest.raises(ValueError, match="at or before the model's last price"):
        model.update(series[FIT_END - 20 : FIT_END], epochs=1)
    with pytest.raises(ValueError, match="at or before the model's last price"):
        model.update(series[:40], epochs=1)
    with pytest.raises(ValueError, match=r"does not continue.*allow_gap=True"):
        model.update(series[FIT_END + 10 : FIT_END + 14], epochs=1)
    daily = load_demo().to_pandas()["close"].resample("1D").last()
    with pytest.raises(ValueError, match=r"interval.*1d.*1h"):
        model.update(daily[daily.index > series.index[FIT_END - 1]][:4], epochs=1)
    assert model.last_timestamp_ == fitted.last_timestamp_ and model.metrics_.get("updates") is None
    model.update(series[FIT_END + 10 : FIT_END + 14], allow_gap=True, epochs=1)
    assert model.last_timestamp_ == series.index[FIT_END + 13]


def test_a_loaded_model_checks_the_overlap_it_can_and_an_undated_model_takes_any_prices(fitted, series, tmp_path):
    loaded = jl.LSTMForecaster.load(fitted.save(tmp_path / "m"))  # holds its last window only
    with pytest.warns(UserWarning, match=r"dropped the first 40 price\(s\).*the last 8 checked"):
        loaded.update(series[FIT_END - 40 : FIT_END + 4], epochs=1)
    assert loaded.last_timestamp_ == series.index[FIT_END + 3]
    undated = jl.LSTMForecaster(**TINY).fit(series[:FIT_END].to_numpy())
    undated.update(series[FIT_END : FIT_END + 4].to_numpy(), epochs=1)
    assert undated.last_timestamp_ is None


# ------------------------------------------------------------ random slices of one hourly series


@st.composite
def _slices(draw):
    kind = draw(st.sampled_from(["continuing", "overlapping", "gapped", "earlier", "altered"]))
    new = draw(st.sampled_from([1, 4]))  # few distinct shapes: each compiles its own update
    shift = draw(st.integers(1, 30))
    if kind == "continuing":
        start, stop = FIT_END, FIT_END + new
    elif kind in ("overlapping", "altered"):
        start, stop = FIT_END - shift, FIT_END + new
    elif kind == "gapped":
        start, stop = FIT_END + shift, FIT_END + shift + new
    else:
        stop = draw(st.integers(2, FIT_END))
        start = draw(st.integers(max(0, stop - 40), stop - 1))
    return kind, start, stop, draw(st.booleans())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_slices())
def test_random_dated_slices_are_accepted_exactly_when_they_continue(fitted, series, case):
    kind, start, stop, allow_gap = case
    data = series[start:stop].copy()
    if kind == "altered":
        data.iloc[0] *= 1.5  # a price the model saw, changed
    model = copy.deepcopy(fitted)
    accepted = kind in ("continuing", "overlapping") or (kind == "gapped" and allow_gap)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if accepted:
            model.update(data, epochs=1, allow_gap=allow_gap)
            assert model.last_timestamp_ == series.index[stop - 1]
            assert model.metrics_["updates"] == 1
        else:
            with pytest.raises(ValueError):
                model.update(data, epochs=1, allow_gap=allow_gap)
            assert model.last_timestamp_ == fitted.last_timestamp_
            np.testing.assert_array_equal(model.prices_, fitted.prices_)


def test_a_pandas_series_with_a_time_zone_continues_as_well(fitted, series):
    model = copy.deepcopy(fitted)
    new = series[FIT_END : FIT_END + 4]
    model.update(pd.Series(new.to_numpy(), index=new.index.tz_localize("UTC")), epochs=1)
    assert model.last_timestamp_ == series.index[FIT_END + 3]
