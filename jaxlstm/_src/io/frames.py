"""Candle tables to ``OHLCV`` (DataFrames, ccxt rows, parsed files): which column is which, by
normalised header alias, and each column parsed in one vectorised pass, the first bad cell named
by its ``Where``. Timestamps become int64 ns since the epoch, UTC (a string without an offset is UTC)."""

from __future__ import annotations

import datetime
import re
import warnings
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from jaxlstm._src import validation
from jaxlstm._src.io.candles import FIELDS, OHLCV, PRICE_FIELDS, Where, assemble, first_true
from jaxlstm._src.io.pandas_import import import_pandas, is_pandas
from jaxlstm._src.prep import horizons

# The order is the preference among several: an epoch column is exact, and "time" goes before "date"
# so that a split date/time pair fails loudly instead of silently collapsing intraday rows onto one date.
TIME_ALIASES = ("timestamp", "unix", "unix_timestamp", "datetime", "date_time", "open_time", "time", "date", "ts", "t")
_ALIASES = {
    "time": TIME_ALIASES,
    "symbol": ("symbol", "ticker", "pair", "market", "instrument"),
    "open": ("open", "o", "open_price"),
    "high": ("high", "h", "high_price"),
    "low": ("low", "l", "low_price"),
    "close": ("close", "c", "close_price", "last", "price", "adj_close", "adjclose", "adjusted_close"),
}
# A close adjusted for splits and dividends (yfinance's "Adj Close", Tiingo's "adjClose"): the close
# where it is the only one, refused beside a plain close (which of the two is meant cannot be told).
_ADJUSTED_CLOSES = ("adj_close", "adjclose", "adjusted_close")
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


def normalise(label: str) -> str:
    """``" Volume USD"`` -> ``"volume_usd"``; Alpha Vantage's numbering goes: ``"4. close"`` -> ``"close"``."""
    name = re.sub(r"[^0-9a-z]+", "_", str(label).strip().strip('"').lower()).strip("_")
    return re.sub(r"^\d{1,2}_(?=[a-z])", "", name)


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
    names: dict[str, str] = {}  # symbol_key -> the asset as first written
    for position, pair in enumerate(map(_asset_field, labels)):
        if pair is not None:
            found.setdefault(names.setdefault(symbol_key(pair[0]), pair[0]), {}).setdefault(pair[1], position)
    return {name: fields for name, fields in found.items() if all(f in fields for f in need)}


def symbol_key(value: str) -> str:
    """``"btc-usd"`` -> ``"BTCUSD"``: the form symbols are compared in."""
    return re.sub(r"[^0-9A-Z]", "", str(value).upper())


def _base_key(value: str) -> str:
    return symbol_key(next((p for p in re.split(r"[/\-_:]", str(value)) if p), ""))


def layout(
    labels: Sequence[str],
    where_name: str,
    symbol: str | None,
    *,
    need_time: bool,
    row_symbol: str | None = None,
    need: Sequence[str] = PRICE_FIELDS,
) -> Layout:
    """One asset's columns (``symbol`` picks it among several; it, else ``row_symbol``, tells base
    from quote volume); a ValueError for a missing or doubled column, or several assets and no symbol."""
    labels = tuple(str(label).strip() for label in labels)
    positions = match_columns(labels, symbol if symbol is not None else row_symbol)
    asset = None
    if "close" not in positions and (wide := assets(labels, need)):
        if symbol is None and len(wide) > 1:
            raise ValueError(
                f"{where_name} holds several assets side by side ({', '.join(wide)}); pass symbol= to choose one"
            )
        key, base = symbol_key(symbol or ""), _base_key(symbol or "")  # "BTC/USD" picks BTC
        asset = next((a for a in wide if symbol is None or symbol_key(a) in (key, base) or _base_key(a) == key), None)
        if asset is None:
            raise ValueError(f"symbol {symbol!r} is not among the assets of {where_name}: {', '.join(wide)}")
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
    check_no_namesakes(labels, positions, where_name)
    return Layout(positions, labels, asset)


def check_no_namesakes(labels: Sequence[str], positions: dict[str, int], where_name: str) -> None:
    """Refuses a field's column with a namesake (``close`` and ``Close``, or a close and an adjusted
    close): which is meant cannot be told."""
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
    names = [normalise(label) for label in labels]
    adjusted = [i for i, n in enumerate(names) if n in _ADJUSTED_CLOSES]
    plain = [i for i, n in enumerate(names) if n in _ALIASES["close"] and n not in _ADJUSTED_CLOSES]
    if adjusted and plain and positions.get("close") in (adjusted[0], plain[0]):
        raise ValueError(
            f"{where_name} has a close column {labels[plain[0]]!r} and an adjusted close {labels[adjusted[0]]!r}: "
            "cannot tell which prices are meant; keep one (the adjusted close, corrected for splits and dividends, "
            "is the series of returns; the close is the price traded) and drop the other"
        )


def symbol_mask(values: Any, wanted: str | None) -> tuple[np.ndarray | None, list[str]]:
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


NUMBER_RE = re.compile(r"^\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*$")
TIMESTAMP_RE = re.compile(
    r"""^\s*(?P<y>\d{4})[-/.](?P<mo>\d{1,2})[-/.](?P<d>\d{1,2})
    (?:[T\s]+(?P<h>\d{1,2})(?::(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?)?
        (?:\s*-?\s*(?P<ampm>[AaPp])\.?[Mm]\.?)?)?
    \s*(?P<tz>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
# CryptoDataDownload's hourly files write "2019-10-17 09-AM"; pandas parses it with this format.
_VENDOR_HOUR_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{1,2}-[AaPp][Mm]$")
# Epoch numbers carry no unit; their size gives it away. Seconds stay below 1e11 until
# the year 5138, and milliseconds/microseconds of any date after 1973 are above it.
_EPOCH_LIMITS = (1e11, 1e14, 1e17)
_EPOCH_SCALES = (10**9, 10**6, 10**3, 1)
_EPOCH_NAMES = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_INT64_MAX = 2**63 - 1
_UNIT_NS = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
_NOT_NUMBERS = {bool, np.bool_, complex, np.complex64, np.complex128, type(None)}


def looks_like_timestamp(value: Any) -> bool:
    """Whether ``value`` is a date string such as ``2019-10-17`` or ``2019-10-17 09-AM``."""
    return isinstance(value, str) and TIMESTAMP_RE.match(value) is not None


def _describe(cell: Any) -> str:
    if (isinstance(cell, str) and not cell.strip()) or (isinstance(cell, float) and np.isnan(cell)):
        return "an empty cell"
    return repr(cell) if isinstance(cell, str) else "None" if cell is None else f"{type(cell).__name__} {cell!r}"


def _to_numpy(values: Any) -> np.ndarray:
    if is_pandas(values, "Series") or is_pandas(values, "Index"):
        return values.to_numpy() if values.dtype.kind in "iufb" else values.to_numpy(dtype=object)
    return values if isinstance(values, np.ndarray) else np.array(list(values), dtype=object)


def numbers(values: Any, where: Where, column: str, *, optional: bool) -> np.ndarray:
    """``[rows]`` float64 of numbers or numeric strings (empty cells NaN when ``optional``)."""
    arr = _to_numpy(values)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind in "bc":
        where.fail(0, column, f"expected real numbers, got a column of dtype {arr.dtype}")
    cells = arr.astype(object, copy=False)
    if not set(map(type, cells)) & _NOT_NUMBERS:  # numpy would take True as 1 and None as NaN
        try:
            return cells.astype(np.float64)
        except (TypeError, ValueError):
            pass
    # One pass in pandas names the first bad cell: booleans and complex numbers print as words.
    pd = import_pandas("parsing numbers")
    text = pd.Series(cells, dtype=object).astype(str).str.strip()
    out = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    empty = (pd.isna(cells) | text.eq("")).to_numpy()
    bad = np.isnan(out) & ~empty & ~text.str.fullmatch(r"(?i)[+-]?nan").to_numpy()
    if (i := first_true(bad | (empty & (not optional)))) is not None:
        where.fail(i, column, f"expected a number, got {_describe(arr[i])}")
    return out


def time_values(values: Any, where: Where, column: str, *, owned: bool = False) -> tuple[np.ndarray, bool]:
    """``(nanos, False)`` for dates and datetimes (``owned``: scaled in place), ``(numbers, True)`` for epochs."""
    if (is_pandas(values, "Series") or is_pandas(values, "Index")) and values.dtype.kind == "M":
        values = np.asarray(horizons.without_zone(import_pandas("parsing timestamps").DatetimeIndex(values)))
    arr = _to_numpy(values)
    if arr.dtype.kind == "M":
        return checked_ns(arr, where, column, owned=owned), False
    if arr.dtype.kind in "iuf":
        return (arr.astype(np.int64, copy=False) if arr.dtype.kind != "f" else arr), True
    if arr.dtype.kind not in "OUST":
        where.fail(0, column, f"expected timestamps, got a column of dtype {arr.dtype}")
    cells = arr.astype(object, copy=False)
    first = cells[0] if cells.shape[0] else ""
    number = isinstance(first, (int, float, np.number)) and not isinstance(first, (bool, np.bool_))
    if number or (isinstance(first, str) and NUMBER_RE.match(first)):
        return numbers(cells, where, column, optional=False), True
    return texts_to_ns(cells, where, column), False


def checked_ns(arr: np.ndarray, where: Where, column: str, *, owned: bool = False) -> np.ndarray:
    """``[rows]`` datetime64 of any unit as int64 ns, refusing NaT and times outside the ns range."""
    counts = arr.view(np.int64)
    low, high = (int(counts.min()), int(counts.max())) if counts.size else (0, 0)
    unit, count = np.datetime_data(arr.dtype)
    factor = _UNIT_NS.get(unit, 0) * count
    # Two reductions decide the common case (every value in range, no NaT); then an
    # integer multiply, far cheaper than numpy's checked cast, cannot overflow.
    if factor and -(_INT64_MAX // factor) <= low <= high <= _INT64_MAX // factor:
        return counts if factor == 1 else np.multiply(counts, factor, out=counts if owned else None)
    if (i := first_true(horizons.outside_ns_range(arr))) is not None:
        where.fail(i, column, f"expected a time from {horizons.FIRST_TIME} to {horizons.LAST_TIME}, got {arr[i]}")
    arr = arr.astype("datetime64[ns]")
    if (i := first_true(np.isnat(arr))) is not None:
        where.fail(i, column, "expected a timestamp, got an empty cell (NaT)")
    return arr.view(np.int64)


def texts_to_ns(cells: np.ndarray, where: Where, column: str) -> np.ndarray:
    """``[rows]`` int64 ns of date strings (or datetime objects), each in its own offset (none: UTC): pandas
    parses a column of one zone, ``TIMESTAMP_RE`` any other (``2019/10/17 9:00 PM`` too), naming a bad cell.
    Local midnights each with an offset are their dates, as ``horizons.without_zone`` reads zoned times."""
    pd = import_pandas("parsing timestamps")
    first = next((cell for cell in cells if isinstance(cell, str) and cell.strip()), "")
    try:  # not utc=True: pandas 2 would read a string without an offset in its neighbour's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # pandas 2's mixed offsets: objects, refused below
            fmt = "%Y-%m-%d %I-%p" if _VENDOR_HOUR_RE.match(first) else "ISO8601"
            stamps: Any = pd.to_datetime(cells, format=fmt) if first else None
        if is_pandas(stamps, "DatetimeIndex"):
            ns = np.asarray(horizons.without_zone(stamps).as_unit("ns").asi8)
            if not (ns == np.iinfo(np.int64).min).any():
                return ns
    except (ValueError, TypeError, OverflowError):
        pass  # mixed offsets (pandas 3 raises, pandas 2 returns objects), a bad cell or one out of range
    if not all(isinstance(cell, str) for cell in cells):
        stamps = pd.to_datetime(pd.Series(cells, dtype=object), utc=True, errors="coerce", format="mixed")
        if (nat := first_true(stamps.isna())) is not None:
            where.fail(nat, column, f"expected a timestamp, got {_describe(cells[nat])}")
        return checked_ns(stamps.dt.tz_convert(None).to_numpy(), where, column)
    # Strings split into their parts by TIMESTAMP_RE and added up in numpy, all rows at once.
    parts = pd.Series(cells, dtype=object).str.extract(TIMESTAMP_RE)

    def check(bad: Any, problem: Callable[[str], str]) -> None:
        if (i := first_true(bad)) is not None:
            where.fail(i, column, problem(cells[i]))

    like = {True: " like 2019-10-17 09:00 or a unix epoch", False: ""}  # an empty cell: no example
    check(parts["y"].isna(), lambda cell: f"expected a timestamp{like[bool(cell.strip())]}, got {_describe(cell)}")
    y, mo, d, h, mi, s = (parts[k].fillna("0").astype(np.int64).to_numpy() for k in ("y", "mo", "d", "h", "mi", "s"))
    months = (y - 1970) * 12 + mo - 1
    day0 = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    length = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - day0
    check((mo < 1) | (mo > 12) | (d < 1) | (d > length), lambda cell: f"invalid date in {cell!r}")
    pm, twelve = parts["ampm"].str.upper().eq("P").to_numpy(), parts["ampm"].notna().to_numpy()
    check(twelve & ((h < 1) | (h > 12)), lambda cell: f"hour must be 1-12 with AM/PM, got {cell!r}")
    h = np.where(twelve, h % 12 + 12 * pm, h)  # 12 AM is midnight and 12 PM is noon
    check((h > 23) | (mi > 59) | (s > 59), lambda cell: f"invalid time of day in {cell!r}")
    tz = parts["tz"].str.upper().str.extract(r"(?P<sign>[+-])(?P<hh>\d{2}):?(?P<mm>\d{2})?")
    offset = (tz["hh"].fillna("0").astype(np.int64) * 60 + tz["mm"].fillna("0").astype(np.int64)).to_numpy()
    seconds = (day0 + d - 1) * 86400 + h * 3600 + (mi - np.where(tz["sign"].eq("-"), -offset, offset)) * 60 + s
    if parts["tz"].notna().all() and not (h | mi | s).any() and parts["f"].isna().all():
        seconds = (day0 + d - 1) * 86400  # local midnights in offsets of a zone: dates (horizons.without_zone)
    outside = np.abs(seconds) > _INT64_MAX // 10**9 - 1
    check(outside, lambda cell: f"{cell!r} is outside the datetime64[ns] range (1677-2262)")
    return seconds * 10**9 + parts["f"].fillna("0").str.ljust(9, "0").astype(np.int64).to_numpy()


def epochs_to_ns(epochs: np.ndarray, where: Where, column: str, *, scale: int | None = None) -> np.ndarray:
    """``[rows]`` int64 ns of epochs; ``scale`` (ns per unit) None infers the column's one unit from their size."""
    arr = np.asarray(epochs)
    is_float = arr.dtype.kind == "f"
    if is_float and (i := first_true(~np.isfinite(arr))) is not None:
        where.fail(i, column, f"expected a unix epoch, got {arr[i]}")
    if scale is None and arr.shape[0]:
        units = np.searchsorted(_EPOCH_LIMITS, np.abs(arr.astype(np.float64)), side="right")
        if (j := first_true(units != units[0])) is not None:
            names = _EPOCH_NAMES[units[j]], _EPOCH_NAMES[units[0]]
            problem = f"the epoch {arr[j]} is in {names[0]} but {where.place(0)} has {arr[0]} in {names[1]}"
            where.fail(j, column, f"{problem}: a time column must use one unit")
        scale = _EPOCH_SCALES[units[0]]
        if units[0] == 0:
            _check_not_day_numbers(arr, where, column)
    scale = scale or 1
    limit = _INT64_MAX // scale
    if (i := first_true((arr > limit) | (arr < -limit))) is not None:
        where.fail(i, column, f"expected a unix epoch within the datetime64[ns] range, got {arr[i]}")
    if is_float and not np.all(arr == np.round(arr)):
        return np.round(arr * scale).astype(np.int64)
    return arr.astype(np.int64) * scale  # a new array: the caller's epochs are never modified


def _check_not_day_numbers(seconds: np.ndarray, where: Where, column: str) -> None:
    """Refuses epochs in seconds that are day numbers: before 1973-03-03 (below 1e8) and under a minute apart.

    Excel's serial dates (45292 is 2024-01-01), days since 1970 and yyyymmdd dates
    (20240101) are such numbers; read as seconds they were candles a second apart in 1970.
    Daily bars of 1970 in unix seconds are 86,400 apart and still read.
    """
    steps = np.diff(np.unique(seconds))
    if steps.size == 0 or np.abs(seconds).max() >= 1e8 or np.median(steps) >= 60:
        return
    low, high, step = (
        int(x) if float(x).is_integer() else float(x) for x in (seconds.min(), seconds.max(), np.median(steps))
    )
    moment = lambda x: horizons.format_moment(np.datetime64(int(x), "s"))
    as_seconds = f"{moment(low)} to {moment(high)}"
    where.fail(
        0,
        column,
        f"numbers from {low} to {high}, {step} apart at the median, are not unix times (as seconds they are "
        f"{as_seconds}): convert day numbers to dates first, Excel's serial dates with "
        f"pandas.to_datetime(x, unit='D', origin='1899-12-30'), days since 1970 with unit='D', yyyymmdd numbers "
        f"with pandas.to_datetime(x.astype(str), format='%Y%m%d')",
    )


def to_candles(
    column: Callable[[int], Any],
    layout: Layout,
    where: Where,
    symbol: str | None,
    *,
    stamps: np.ndarray | None = None,
    epoch_scale: int | None = None,
    owned: bool = False,
) -> OHLCV:
    """Checked candles, oldest first, of a table whose ``column(position)`` gives a column's values;
    ``stamps`` (int64 ns of an index) replace the time column, ``epoch_scale`` fixes the epoch unit
    (ccxt: ms), ``owned``: the parsed arrays are nobody else's, kept rather than copied."""
    keep: Any = slice(None)  # the rows of the symbol wanted: all, or a bool mask
    found = symbol if symbol is not None or layout.asset is None else layout.asset
    labels = {f: layout.labels[layout.positions[f]] if f in layout.positions else f for f in ("time", *FIELDS)}
    if "symbol" in layout.positions:
        mask, symbols = symbol_mask(column(layout.positions["symbol"]), symbol)
        keep, where = (keep, where) if mask is None else (mask, where.subset(mask))
    if stamps is not None:
        times, epochs = stamps[keep], False
    else:
        times, epochs = time_values(column(layout.positions["time"])[keep], where, labels["time"], owned=owned)
    rows, copy = times.shape[0], None if owned else True  # the result must not alias the source
    values = {
        f: np.array(numbers(column(layout.positions[f])[keep], where, labels[f], optional=f == "volume"), copy=copy)
        for f in FIELDS
        if f in layout.positions
    }
    if epoch_scale is not None and not epochs:
        where.fail(0, labels["time"], "expected unix epochs in milliseconds")
    if "symbol" in layout.positions:
        found = resolve_symbol(symbols, symbol, rows > 0, where.source)
    if not rows:
        raise ValueError(f"{where.source} has no data rows: expected at least one candle")
    nanos = epochs_to_ns(times, where, labels["time"], scale=epoch_scale) if epochs else np.array(times, copy=copy)
    del times  # the epochs, freed before the candles are sorted
    return assemble(nanos, values, where, labels, found)


def index_timestamps(index: Any, name: str = "data") -> np.ndarray | None:
    """A DatetimeIndex, PeriodIndex (each period's start) or index of dates as ``[rows]`` int64 ns, else None.
    A MultiIndex is refused: its rows are not one series in time order, and reading them so would join them."""
    if getattr(index, "nlevels", 1) > 1:
        raise ValueError(
            f"{name} has a MultiIndex of {index.nlevels} levels {list(index.names)}: one series needs one row per "
            "time; many series are a long frame (index levels or columns unique_id and ds, with y) or a mapping "
            "of name -> prices"
        )
    if is_pandas(index, "PeriodIndex"):
        index = index.to_timestamp(how="start")
    first = index[0] if len(index) and index.dtype.kind in "OUST" else None
    if looks_like_timestamp(first) or isinstance(first, datetime.date):
        # Dates as text or date objects (a CSV read without parse_dates, a .date column): read, not dropped.
        return texts_to_ns(np.asarray(index, dtype=object), Where(name, "row"), "index")
    if not is_pandas(index, "DatetimeIndex"):
        return None
    stamps = horizons.as_datetime64_ns(np.asarray(horizons.without_zone(index)), "the index").view(np.int64)
    if (i := first_true(stamps == np.iinfo(np.int64).min)) is not None:  # NaT, which sorts before every time
        Where(name, "row").fail(i, "index", "expected a timestamp, got an empty cell (NaT)")
    return stamps


def _frame_columns(frame: Any, name: str) -> tuple[list[str], dict[str, int], np.ndarray | None]:
    """A DataFrame's column names (two levels as ``"BTC:close"``), the fields found among them (an
    unnamed first column of dates, a written index, as the time) and its index's int64 ns or None."""
    labels = [f"{a}:{b}" for a, b in frame.columns] if frame.columns.nlevels == 2 else [str(c) for c in frame.columns]
    found = match_columns(labels)
    stamps = index_timestamps(frame.index, name)
    unnamed = stamps is None and "time" not in found and labels and len(frame) and is_unnamed(labels[0])
    if unnamed and looks_like_timestamp(frame.iloc[0, 0]):
        labels[0], found["time"] = labels[0] or "index", 0
    return labels, found, stamps


def frame_to_candles(frame: Any, symbol: str | None, need: Sequence[str] = PRICE_FIELDS) -> OHLCV:
    """Candles from a DataFrame with a DatetimeIndex or a time column, one asset or several side by side."""
    labels, found, stamps = _frame_columns(frame, "source DataFrame")
    if stamps is None and "time" not in found:
        raise ValueError(
            f"source DataFrame needs a DatetimeIndex or a time column ({', '.join(TIME_ALIASES)}), "
            f"got index {type(frame.index).__name__} and columns {labels}"
        )
    first_symbol = frame.iloc[0, found["symbol"]] if "symbol" in found and len(frame) else None
    row_symbol = first_symbol if isinstance(first_symbol, str) else None
    chosen = layout(labels, "source DataFrame", symbol, need_time=False, row_symbol=row_symbol, need=need)
    if stamps is None:
        chosen.positions["time"] = found["time"]
    return to_candles(lambda i: frame.iloc[:, i], chosen, Where("source DataFrame", "row"), symbol, stamps=stamps)


def frame_close(frame: Any, name: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``(prices, nanos)``: a DataFrame's ``[rows]`` close and int64 timestamps (None when it has none)."""
    labels, found, stamps = _frame_columns(frame, name)
    if "close" not in found and frame.columns.nlevels == 2:
        # Fields over tickers (yfinance's ('Close', 'BTC-USD')) or tickers over fields: one asset's close.
        if len(several := assets(labels, ("close",))) > 1:
            raise ValueError(
                f"{name} holds several assets side by side ({', '.join(list(several)[:5])}): select one first "
                "(pandas' DataFrame.xs), or fit one model per asset with fit_many({asset: its candles})"
            )
        candles = frame_to_candles(frame, None, ("close",))
        return candles.close, candles.timestamps.view(np.int64)
    if "close" not in found:
        raise ValueError(
            f"{name} as a DataFrame needs a close column (one of {', '.join(_ALIASES['close'])}, any case), "
            f"got columns {list(frame.columns)}"
        )
    check_no_namesakes(labels, {"close": found["close"]}, name)
    close = frame.iloc[:, found["close"]].to_numpy()
    prices = validation.as_float_array(f"{name}[{frame.columns[found['close']]!r}]", close, ndim=1)
    if "symbol" in found and len(symbols := symbol_mask(frame.iloc[:, found["symbol"]], None)[1]) > 1:
        raise ValueError(
            f"{name} holds several symbols ({', '.join(sorted(symbols)[:5])}); "
            "select one first, e.g. with load_ohlcv(frame, symbol=...)"
        )
    if stamps is None and "time" in found:
        where, label = Where(name, "row"), labels[found["time"]]
        stamps, is_epoch = time_values(frame.iloc[:, found["time"]], where, label)
        stamps = epochs_to_ns(stamps, where, label) if is_epoch else stamps
    return prices, stamps


def rows_to_candles(source: Any, symbol: str | None) -> OHLCV:
    """Candles from ccxt rows ``[[ms, open, high, low, close, volume], ...]`` (a list or ``[rows, 6]`` array)."""
    if isinstance(source, np.ndarray) and (source.ndim != 2 or source.shape[1] != 6):
        raise ValueError(
            "source as an array must be ccxt rows [rows, 6] (ms, open, high, low, close, volume), "
            f"got shape {source.shape}"
        )
    bad = None if isinstance(source, np.ndarray) else next((i for i, row in enumerate(source) if len(row) != 6), None)
    if bad is not None:
        raise ValueError(
            "source rows must be ccxt rows [[ms, open, high, low, close, volume], ...] of 6 values, "
            f"got {len(source[bad])} values in row {bad}"
        )
    if len(source) == 0:
        raise ValueError("source rows has no data rows: expected at least one [ms, open, high, low, close, volume]")
    table = source if isinstance(source, np.ndarray) else np.array([list(row) for row in source], dtype=object)
    if table.dtype.kind == "c":
        raise TypeError("source rows must hold real numbers, got complex values")
    layout = Layout({field: i for i, field in enumerate(("time", *FIELDS))}, ("timestamp", *FIELDS))
    return to_candles(lambda i: table[:, i], layout, Where("source rows", "row"), symbol, epoch_scale=10**6)
