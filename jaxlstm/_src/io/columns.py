"""Which column of a candle table is which: header aliases, the volume column, symbols, assets.

Names match case-insensitively once normalised (``Unix Timestamp`` -> ``unix_timestamp``).
One asset sits in plain columns (maybe with a ``symbol`` column), several side by side as
``BTC:close``. Of several volume columns the base asset's is preferred (``volumefrom``,
``base_volume``, ``Volume BTC`` of ``BTCUSD``), then a plain ``volume``, then one qualified
by an unknown word, and a quote-asset volume (``volumeto``, ``quote_asset_volume``,
``Volume USD``) only when there is no other; taker/maker, buy/sell and weighted columns are
never the volume. Two columns of one name (``close`` and ``Close``) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jaxlstm._src.io.pandas_import import import_pandas

PRICE_FIELDS = ("open", "high", "low", "close")
FIELDS = (*PRICE_FIELDS, "volume")

# The order is the preference when a table has more than one: an epoch column is exact,
# and "time" goes before "date" so that a split date/time pair fails loudly instead of
# silently collapsing intraday rows onto one date.
TIME_ALIASES = ("timestamp", "unix", "unix_timestamp", "datetime", "date_time", "open_time", "time", "date", "ts", "t")
_ALIASES = {
    "time": TIME_ALIASES,
    "symbol": ("symbol", "ticker", "pair", "market", "instrument"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "price"),
}
# "BTC:close", "close_BTC", "('BTC', 'close')": an asset and a field joined by a separator.
_FIELD_WORDS, _SEPARATOR = r"open|high|low|close|volume|vol", r"\s*[:|/._,\- ]\s*"
_ASSET_FIELD_RES = (
    re.compile(rf"^(?P<asset>.+?){_SEPARATOR}(?P<field>{_FIELD_WORDS})$", re.IGNORECASE),
    re.compile(rf"^(?P<field>{_FIELD_WORDS}){_SEPARATOR}(?P<asset>.+?)$", re.IGNORECASE),
)
# Words that qualify a field without naming an asset: close_price, open_time, volume_usd...
_NOT_ASSETS = {"price", "time", "timestamp", "date", "datetime", "value", "usd", "quote", "base", "taker", "weighted"}
# pandas names a header cell it read empty "Unnamed: 0".
_UNNAMED_RE = re.compile(r"^(?:unnamed[:_ ]*\d*|index)?$", re.IGNORECASE)


class Layout(NamedTuple):
    """Where one asset's fields are: ``positions`` (field -> column), header ``labels``, chosen ``asset``."""

    positions: dict[str, int]
    labels: tuple[str, ...]
    asset: str | None = None

    def label(self, field: str) -> str:
        """The header name of ``field``'s column (the field itself when absent)."""
        return self.labels[self.positions[field]] if field in self.positions else field


def normalise(label: str) -> str:
    """``" Volume USD"`` -> ``"volume_usd"``."""
    return re.sub(r"[^0-9a-z]+", "_", str(label).strip().strip('"').lower()).strip("_")


def is_unnamed(label: str) -> bool:
    """Whether a header cell is empty (or pandas' ``Unnamed: 0``), as for a written index."""
    return _UNNAMED_RE.match(str(label).strip()) is not None


def match_columns(labels: Sequence[str], symbol: str | None = None) -> dict[str, int]:
    """Maps ``time, open, high, low, close, volume, symbol`` to column positions by alias."""
    names = [normalise(label) for label in labels]
    found = {key: next((names.index(a) for a in aliases if a in names), None) for key, aliases in _ALIASES.items()}
    found["volume"] = volume_column(labels, symbol)
    return {key: position for key, position in found.items() if position is not None}


_BASE_VOLUMES = {"volumefrom", "basevolume", "volumebase", "baseassetvolume", "volumebaseasset"}
_QUOTE_VOLUMES = {"volumeto", "quotevolume", "volumequote", "quoteassetvolume", "volumequoteasset"}
# Words that make a column a part or an average of the volume, not the volume.
_NOT_VOLUMES = {"taker", "maker", "buy", "sell", "weighted", "avg", "average", "mean"}
# What pairs are usually priced in: "Volume USD" names the quote volume when no symbol says otherwise.
_QUOTE_CURRENCIES = {
    *("usd", "usdt", "usdc", "busd", "fdusd", "tusd", "usdp", "dai", "eur", "eurt", "gbp", "jpy", "krw", "try"),
    *("aud", "cad", "chf", "brl", "rub", "inr", "cny", "hkd", "sgd", "zar", "mxn", "uah", "idr", "ngn"),
}
# Preference among volume columns, best first.
_BASE, _PLAIN, _UNKNOWN, _QUOTE = range(4)


def _volume_rank(name: str, base: str | None, quote: str | None, key: str) -> int | None:
    """Where a normalised header stands among volume columns (see ``_BASE`` ...), None if it is none."""
    tokens = [t for t in name.split("_") if t]
    compact, rest = "".join(tokens), [t for t in tokens if t not in ("volume", "vol")]
    if not ("volume" in compact or "vol" in tokens or name == "v") or _NOT_VOLUMES.intersection(tokens):
        return None
    if compact in _BASE_VOLUMES or "base" in tokens or "from" in tokens:
        return _BASE
    if compact in _QUOTE_VOLUMES or "quote" in tokens or "to" in tokens:
        return _QUOTE
    if compact in ("volume", "vol", "v") or not rest:
        return _PLAIN
    if len(rest) != 1:
        return _UNKNOWN
    asset = rest[0]
    if base is not None:  # the symbol says which is which: "Volume ETH" of ETH/BTC is the base's
        return _BASE if asset == base else _QUOTE if asset == quote else _UNKNOWN
    if key and key != asset and (key.startswith(asset) or key.endswith(asset)):
        return _BASE if key.startswith(asset) else _QUOTE
    return _QUOTE if asset in _QUOTE_CURRENCIES else _UNKNOWN


def volume_column(labels: Sequence[str], symbol: str | None) -> int | None:
    """The preferred volume column's position (``symbol`` tells base from quote), or None."""
    parts = [p for p in re.split(r"[^0-9a-z]+", (symbol or "").lower()) if p]
    base, quote = (parts[0], parts[-1]) if len(parts) > 1 else (None, None)
    ranks = [(_volume_rank(normalise(label), base, quote, "".join(parts)), i) for i, label in enumerate(labels)]
    return min(((rank, i) for rank, i in ranks if rank is not None), default=(None, None))[1]


def _asset_field(label: str) -> tuple[str, str] | None:
    text = str(label).strip().strip("()[]").replace("'", "").replace('"', "").strip()
    for match in (pattern.match(text) for pattern in _ASSET_FIELD_RES):
        if match is not None and normalise(match.group("asset")) not in _NOT_ASSETS | {""}:
            field = match.group("field").lower()
            return match.group("asset").strip(), "volume" if field == "vol" else field
    return None


def assets(labels: Sequence[str], need: Sequence[str] = PRICE_FIELDS) -> dict[str, dict[str, int]]:
    """The assets side by side that have every field of ``need``: ``{"BTC": {"open": 1, ...}}``."""
    found: dict[str, dict[str, int]] = {}
    names: dict[str, str] = {}
    for position, pair in enumerate(map(_asset_field, labels)):
        if pair is not None:
            names.setdefault(symbol_key(pair[0]), pair[0])
            found.setdefault(symbol_key(pair[0]), {}).setdefault(pair[1], position)
    return {names[key]: fields for key, fields in found.items() if all(f in fields for f in need)}


def symbol_key(value: str) -> str:
    """``"btc-usd"`` -> ``"BTCUSD"``: the form symbols are compared in."""
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def _base_key(value: str) -> str:
    parts = [p for p in re.split(r"[/\-_:]", str(value)) if p]
    return symbol_key(parts[0]) if parts else ""


def choose_asset(names: Sequence[str], wanted: str | None, where_name: str) -> str:
    """Picks the asset named by ``wanted`` (``"BTC/USD"`` matches ``BTC``) among ``names``."""
    if wanted is None and len(names) == 1:
        return names[0]
    listing = ", ".join(names)
    if wanted is None:
        raise ValueError(f"{where_name} holds several assets side by side ({listing}); pass symbol= to choose one")
    key, base = symbol_key(wanted), _base_key(wanted)
    chosen = [name for name in names if symbol_key(name) in (key, base) or _base_key(name) == key]
    if not chosen:
        raise ValueError(f"symbol {wanted!r} is not among the assets of {where_name}: {listing}")
    return chosen[0]


def layout(
    labels: Sequence[str],
    where_name: str,
    symbol: str | None,
    *,
    need_time: bool,
    row_symbol: str | None = None,
    need: Sequence[str] = PRICE_FIELDS,
) -> Layout:
    """Finds one asset's columns (``symbol`` picks it among several; it, else ``row_symbol``,
    tells base from quote volume).

    Raises:
        ValueError: a missing column of ``need``, two columns of one name for a field, or
            several assets and no (or an unknown) symbol.
    """
    labels = tuple(str(label).strip() for label in labels)
    positions = match_columns(labels, symbol if symbol is not None else row_symbol)
    asset = None
    if "close" not in positions and (wide := assets(labels, need)):
        asset = choose_asset(list(wide), symbol, where_name)
        positions = {k: v for k, v in positions.items() if k in ("time", "symbol")} | wide[asset]
    required = ("time", *need) if need_time else tuple(need)
    missing = [field for field in required if field not in positions]
    if missing == ["volume"]:
        raise ValueError(
            f"{where_name} has no volume column (volume, vol, VolumeFrom, Volume BTC, base_volume, "
            f"quote_asset_volume, ...); found columns {list(labels)}"
        )
    if missing:
        listed = f"{', '.join(required[:-1])} and {required[-1]}" if len(required) > 1 else required[0]
        raise ValueError(
            f"{where_name} must have {listed} columns; missing {', '.join(missing)} in columns {list(labels)}"
        )
    # A field's column with a namesake (close and Close): which of them is meant cannot be told.
    pairs = [_asset_field(label) for label in labels]
    identities = [(symbol_key(p[0]), p[1]) if p else (normalise(label),) for p, label in zip(pairs, labels)]
    for field, position in positions.items():
        twin = next((i for i, same in enumerate(identities) if same == identities[position] and i != position), None)
        if twin is not None:
            raise ValueError(
                f"{where_name} has two columns named {labels[position]!r} and {labels[twin]!r} "
                f"(positions {min(position, twin)} and {max(position, twin)}): cannot tell which is the "
                f"{field}; remove or rename one (columns {list(labels)})"
            )
    return Layout(positions, labels, asset)


def symbol_mask(values: np.ndarray, wanted: str | None) -> tuple[np.ndarray | None, list[str]]:
    """``(keep, distinct)``: the ``[rows]`` mask of ``wanted``'s rows (None: all) and the symbols seen."""
    pd = import_pandas("selecting rows by symbol")
    cells = pd.Series(np.asarray(values, dtype=object), copy=False)
    uniques = [v for v in pd.unique(cells) if isinstance(v, str)]
    distinct = list(dict.fromkeys(v.strip() for v in uniques if v.strip()))
    if wanted is None:
        return None, distinct
    keep = cells.isin([v for v in uniques if symbol_key(v) == symbol_key(wanted)]).to_numpy()
    return (None if keep.all() else keep), distinct


def resolve_symbol(distinct: Sequence[str], wanted: str | None, kept_any: bool, where_name: str) -> str | None:
    """The symbol of the loaded rows, or a ValueError when it is ambiguous or absent."""
    listing = ", ".join(distinct[:5]) + (", ..." if len(distinct) > 5 else "")
    if wanted is None and len(distinct) > 1:
        raise ValueError(f"{where_name} holds several symbols ({listing}); pass symbol= to choose one")
    if wanted is None:
        return distinct[0] if distinct else None
    if not kept_any:
        raise ValueError(f"symbol {wanted!r} does not occur in {where_name}, which holds {listing or 'no symbols'}")
    return next((s for s in distinct if symbol_key(s) == symbol_key(wanted)), wanted)
