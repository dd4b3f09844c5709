"""Tests for telling columns apart: aliases, the base-asset volume, symbols, assets side by side."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlstm._src.io import columns


def test_aliases_and_volume_preference():
    found = columns.match_columns(["Unix Timestamp", "Date", "Symbol", "O", "H", "L", "C", "Volume USD", "Volume BTC"])
    assert found["time"] == 0 and found["symbol"] == 2
    assert [found[f] for f in ("open", "high", "low", "close")] == [3, 4, 5, 6]
    assert found["volume"] == 7  # the first volume column, until a symbol names the base asset
    assert columns.base_volume_column(["date", "volume", "volume_btc"], "BTCUSD") == 2
    assert columns.base_volume_column(["date", "volume", "volume_btc"], "ETH/USD") is None
    assert columns.match_columns(["t", "o", "h", "l", "c", "taker_buy_volume", "vol"])["volume"] == 6


def test_time_goes_before_date():
    assert columns.match_columns(["date", "time", "open", "high", "low", "close"])["time"] == 1


@pytest.mark.parametrize(
    "labels, expected",
    [
        (["date", "BTC:open", "BTC:high", "BTC:low", "BTC:close"], {"BTC": [1, 2, 3, 4]}),
        (["date", "open_ETH", "high_ETH", "low_ETH", "close_ETH", "volume_ETH"], {"ETH": [1, 2, 3, 4]}),
        (["('A', 'open')", "('A', 'high')", "('A', 'low')", "('A', 'close')"], {"A": [0, 1, 2, 3]}),
        (["date", "open_price", "high_price", "low_price", "close_price"], {}),
        (["date", "BTC:open", "BTC:close"], {}),  # incomplete: not an asset
    ],
)
def test_assets_side_by_side(labels, expected):
    found = columns.assets(labels)
    assert {name: [fields[f] for f in ("open", "high", "low", "close")] for name, fields in found.items()} == expected


def test_layout_picks_an_asset_or_says_which_exist():
    labels = ["date", "BTC:open", "BTC:high", "BTC:low", "BTC:close", "ETH:open", "ETH:high", "ETH:low", "ETH:close"]
    with pytest.raises(ValueError, match=r"several assets side by side \(BTC, ETH\); pass symbol="):
        columns.layout(labels, "source", None, need_time=True)
    layout = columns.layout(labels, "source", "eth-usd", need_time=True)
    assert layout.asset == "ETH" and layout.positions["close"] == 8 and layout.positions["time"] == 0
    with pytest.raises(ValueError, match="'DOGE' is not among the assets of source: BTC, ETH"):
        columns.layout(labels, "source", "DOGE", need_time=True)
    with pytest.raises(ValueError, match="missing time"):
        columns.layout(labels[1:], "source", "BTC", need_time=True)


def test_symbol_mask_and_resolution():
    values = np.array(["BTC/USD", "ETHUSD", None, "BTC/USD"], dtype=object)
    keep, distinct = columns.symbol_mask(values, "btc-usd")
    assert keep.tolist() == [True, False, False, True] and distinct == ["BTC/USD", "ETHUSD"]
    assert columns.resolve_symbol(distinct, "btc-usd", True, "source") == "BTC/USD"
    with pytest.raises(ValueError, match=r"several symbols \(BTC/USD, ETHUSD\)"):
        columns.resolve_symbol(distinct, None, True, "source")
    with pytest.raises(ValueError, match="'LTC' does not occur in source, which holds BTC/USD, ETHUSD"):
        columns.resolve_symbol(distinct, "LTC", False, "source")
    keep, _ = columns.symbol_mask(np.array(["A", "A"], dtype=object), "a")
    assert keep is None


def test_unnamed_labels():
    assert columns.is_unnamed("") and columns.is_unnamed("Unnamed: 0") and not columns.is_unnamed("date")
