"""Tests for telling columns apart: aliases, the base-asset volume, symbols, assets side by side."""

from __future__ import annotations

import numpy as np
import pytest

from jaxlstm._src.io import frames as columns


def test_aliases_and_volume_preference():
    found = columns.match_columns(["Unix Timestamp", "Date", "Symbol", "O", "H", "L", "C", "Volume USD", "Volume BTC"])
    assert found["time"] == 0 and found["symbol"] == 2
    assert [found[f] for f in ("open", "high", "low", "close")] == [3, 4, 5, 6]
    assert found["volume"] == 8  # a currency that is not a usual quote currency: the base asset's
    assert columns.volume_column(["date", "volume", "volume_btc"], "BTCUSD") == 2
    assert columns.volume_column(["date", "volume", "volume_btc"], "ETH/USD") == 1
    assert columns.match_columns(["t", "o", "h", "l", "c", "taker_buy_volume", "vol"])["volume"] == 6


@pytest.mark.parametrize(
    "labels, symbol, expected",
    [
        # CryptoCompare: volumefrom counts the base asset, volumeto the quote asset.
        (["VolumeTo", "VolumeFrom"], None, "VolumeFrom"),
        (["volumeto", "volumefrom"], "BTCUSD", "volumefrom"),
        # CryptoDataDownload: "Volume <base>" and "Volume <quote>".
        (["Volume USD", "Volume BTC"], None, "Volume BTC"),
        (["Volume USDT", "Volume BTC"], "BTCUSDT", "Volume BTC"),
        (["Volume BTC", "Volume ETH"], "ETHBTC", "Volume ETH"),
        (["Volume BTC", "Volume ETH"], "ETH/BTC", "Volume ETH"),
        # Binance: volume (base) and quote_asset_volume; the taker volumes are parts of them.
        (["quote_asset_volume", "taker_buy_base_asset_volume", "volume"], None, "volume"),
        (["quote_volume", "base_volume"], None, "base_volume"),
        (["vol", "number_of_trades"], None, "vol"),
        (["Volume USD", "VWAP"], "BTCUSD", "Volume USD"),  # only the quote volume: better than none
        (["volume_weighted_average_price", "Volume USDT"], None, "Volume USDT"),
        (["tradecount", "volatility"], None, None),
    ],
)
def test_volume_columns_by_vendor_spelling_base_asset_first(labels, symbol, expected):
    position = columns.volume_column(["date", "open", "high", "low", "close", *labels], symbol)
    assert (None if position is None else labels[position - 5]) == expected


def test_a_needed_volume_that_no_column_holds_names_the_columns_found():
    labels = ["date", "open", "high", "low", "close", "trades"]
    assert "volume" not in columns.layout(labels, "source", None, need_time=True).positions
    with pytest.raises(
        ValueError, match=r"no volume column.*VolumeFrom.*columns \['date', 'open', 'high', 'low', 'close', 'trades'\]"
    ):
        columns.layout(labels, "source", None, need_time=True, need=("close", "volume"))


@pytest.mark.parametrize(
    "labels, duplicated",
    [
        (["date", "open", "high", "low", "close", "close"], "close"),
        (["date", "open", "high", "low", "Close", "close "], "close"),
        (["date", "date", "open", "high", "low", "close"], "date"),
        (["date", "open", "high", "low", "close", "volume", "Volume"], "volume"),
        (["date", "BTC:open", "BTC:high", "BTC:low", "BTC:close", "BTC_close"], "BTC_close"),
    ],
)
def test_a_duplicated_column_is_refused_not_picked(labels, duplicated):
    with pytest.raises(ValueError, match=rf"two columns named .*{duplicated!r}"):
        columns.layout(labels, "source", None, need_time=True)


def test_only_the_needed_fields_must_be_there():
    layout = columns.layout(["date", "close"], "source", None, need_time=True, need=("close",))
    assert layout.positions == {"time": 0, "close": 1}
    with pytest.raises(ValueError, match="missing open, high, low"):
        columns.layout(["date", "close"], "source", None, need_time=True)
    wide = columns.layout(["date", "BTC:close", "ETH:close"], "source", "ETH", need_time=True, need=("close",))
    assert wide.asset == "ETH" and wide.positions == {"time": 0, "close": 2}


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
