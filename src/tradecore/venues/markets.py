"""Instrument metadata per venue: tick size, lot size, minimum notional — as exact decimal text.

Two ways in, one result (dict venue symbol -> Instrument):

* `load_instruments(venue)` asks ccxt (`ccxt.async_support`). ccxt is used for markets because
  it normalises the metadata of 100+ venues (pagination, instrument types, renamed fields,
  status flags) and keeps up with their changes; metadata is loaded once at start, so its cost
  does not matter. It converts tick and lot sizes to floats, though, so the venue's raw entry
  that ccxt keeps in `market["info"]` is parsed instead wherever this module knows the venue;
  for any other venue the floats are turned back into their shortest decimal text (exact for
  every published increment, which has far fewer than 15 significant digits).
* `from_exchange_info(data)` parses a venue's own metadata response offline (recorded files:
  Binance exchangeInfo, Kraken AssetPairs, OKX public/instruments JSON-Lines, Coinbase Advanced
  products). The same per-entry parsers serve both paths.

Raw HTTP, not ccxt, is used for depth snapshots and trades (rest.py), because there ccxt's
floats would lose the exact text that Kraken's and OKX's checksums and the books' integer
decimal grid need.

Symbols are the venue's native ids, the ones its feed and normalizer use: Binance `BTCUSDT`,
Kraken the WebSocket name `XBT/USD` (REST altname in `rest_symbol`), OKX `BTC-USDT`,
Coinbase `BTC-USD`. Text is kept as the venue publishes it (Binance "0.00000100" stays so);
Kraken publishes decimals counts, which become "0.01"-style text.
"""
from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson

log = logging.getLogger("tradecore.venues.markets")

CCXT_IDS = {"binance": "binance", "binance_usdm": "binanceusdm",
            "binance_coinm": "binancecoinm", "kraken": "kraken", "okx": "okx",
            "coinbase": "coinbase"}

# ccxt options that keep load_markets to the market this venue id means
_CCXT_OPTIONS = {"binance": {"fetchMarkets": {"types": ["spot"]}}}

# what load_markets costs on our limiter: (endpoint, calls); ccxt makes the calls itself
_MARKETS_COST = {"binance": ("/api/v3/exchangeInfo", 1),
                 "binance_usdm": ("/fapi/v1/exchangeInfo", 1),
                 "binance_coinm": ("/dapi/v1/exchangeInfo", 1),
                 "kraken": ("/0/public/AssetPairs", 2),
                 "okx": ("/api/v5/public/instruments", 4),
                 "coinbase": ("/api/v3/brokerage/market/products", 2)}


@dataclass(frozen=True, slots=True)
class Instrument:
    """One instrument's trading grid, exact decimal text."""
    tick: str                       # price increment
    lot: str                        # size increment (contracts for OKX derivatives)
    min_notional: str | None = None  # minimum price x size (quote currency), when published
    min_size: str | None = None     # minimum order size, when published
    symbol: str = ""                # venue-native id (feeds, normalizers)
    rest_symbol: str = ""           # the id REST calls take, when different (Kraken altname)
    base: str = ""
    quote: str = ""
    kind: str = "spot"              # spot | swap | future | option
    contract_size: str | None = None
    active: bool = True

    @property
    def price_decimals(self) -> int:
        return _decimals(self.tick)

    @property
    def size_decimals(self) -> int:
        return _decimals(self.lot)


def _decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def _positive_text(x: object) -> str | None:
    """x when it is decimal text of a number > 0, else None."""
    if not isinstance(x, str) or not x:
        return None
    try:
        return x if Decimal(x) > 0 else None
    except InvalidOperation:
        return None


def _places_text(places: object) -> str | None:
    """Kraken's decimals count -> increment text: 2 -> "0.01", 0 -> "1"."""
    if isinstance(places, bool) or not isinstance(places, int) or not 0 <= places <= 18:
        return None
    return "1" if places == 0 else "0." + "0" * (places - 1) + "1"


def float_text(x: object) -> str | None:
    """A float (as ccxt gives it) back to its shortest exact decimal text; None if not > 0."""
    if x is None or isinstance(x, bool):
        return None
    try:
        d = Decimal(repr(float(x)))           # repr: the shortest text that round-trips
    except (TypeError, ValueError, InvalidOperation):
        return None
    if not d.is_finite() or d <= 0:
        return None
    return format(d.normalize(), "f")


# -- per-entry parsers (the venue's raw JSON for one instrument) --------------------------------
def _binance_entry(d: Mapping) -> Instrument | None:
    sym = d.get("symbol")
    filters = {f.get("filterType"): f for f in d.get("filters") or () if isinstance(f, Mapping)}
    tick = _positive_text(filters.get("PRICE_FILTER", {}).get("tickSize"))
    lot_f = filters.get("LOT_SIZE", {})
    lot = _positive_text(lot_f.get("stepSize"))
    if not isinstance(sym, str) or tick is None or lot is None:
        return None
    mn = filters.get("MIN_NOTIONAL") or filters.get("NOTIONAL") or {}
    min_notional = _positive_text(mn.get("minNotional", mn.get("notional")))
    ctype = d.get("contractType")
    kind = "spot" if not ctype else ("swap" if ctype == "PERPETUAL" else "future")
    status = d.get("status", d.get("contractStatus"))
    csize = d.get("contractSize")
    return Instrument(tick, lot, min_notional, _positive_text(lot_f.get("minQty")), sym, sym,
                      str(d.get("baseAsset", "")), str(d.get("quoteAsset", "")), kind,
                      str(csize) if csize is not None else None, status == "TRADING")


def _kraken_entry(key: str, d: Mapping) -> Instrument | None:
    tick = _positive_text(d.get("tick_size")) or _places_text(d.get("pair_decimals"))
    lot = _places_text(d.get("lot_decimals"))
    if tick is None or lot is None:
        return None
    alt = str(d.get("altname") or key)
    ws = d.get("wsname")
    status = d.get("status", "online")
    return Instrument(tick, lot, _positive_text(d.get("costmin")),
                      _positive_text(d.get("ordermin")), str(ws) if ws else alt, alt,
                      str(d.get("base", "")), str(d.get("quote", "")), "spot", None,
                      status == "online")


_OKX_KIND = {"SPOT": "spot", "MARGIN": "spot", "SWAP": "swap", "FUTURES": "future",
             "OPTION": "option"}


def _okx_entry(d: Mapping) -> Instrument | None:
    inst = d.get("instId")
    tick, lot = _positive_text(d.get("tickSz")), _positive_text(d.get("lotSz"))
    if not isinstance(inst, str) or tick is None or lot is None:
        return None
    kind = _OKX_KIND.get(str(d.get("instType")), "spot")
    base = d.get("baseCcy") or d.get("ctValCcy") or ""
    quote = d.get("quoteCcy") or d.get("settleCcy") or ""
    return Instrument(tick, lot, None, _positive_text(d.get("minSz")), inst, inst, str(base),
                      str(quote), kind, _positive_text(d.get("ctVal")), d.get("state") == "live")


def _coinbase_entry(d: Mapping) -> Instrument | None:
    pid = d.get("product_id")
    tick = _positive_text(d.get("price_increment")) or _positive_text(d.get("quote_increment"))
    lot = _positive_text(d.get("base_increment"))
    if not isinstance(pid, str) or tick is None or lot is None:
        return None
    kind = "spot" if d.get("product_type", "SPOT") == "SPOT" else "future"
    active = d.get("status", "online") == "online" and not d.get("trading_disabled") \
        and not d.get("is_disabled")
    return Instrument(tick, lot, _positive_text(d.get("quote_min_size")),
                      _positive_text(d.get("base_min_size")), pid, pid,
                      str(d.get("base_currency_id") or d.get("base_display_symbol") or ""),
                      str(d.get("quote_currency_id") or d.get("quote_display_symbol") or ""),
                      kind, None, bool(active))


# -- whole responses ----------------------------------------------------------------------------
def _collect(entries: Iterable[Instrument | None], what: str) -> dict[str, Instrument]:
    out: dict[str, Instrument] = {}
    skipped = 0
    for inst in entries:
        if inst is None:
            skipped += 1
        else:
            out[inst.symbol] = inst
    if skipped:
        log.warning("%s: %d entries without a usable tick/lot were skipped", what, skipped)
    return out


def _loads(data: bytes | str) -> object:
    """JSON, or JSON Lines (a list of the lines' values)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        if len(lines) < 2:
            raise
        return [orjson.loads(ln) for ln in lines]


def from_exchange_info(data: object, venue: str | None = None) -> dict[str, Instrument]:
    """Parse a venue's own instrument-metadata response (JSON text, bytes, or parsed):

    Binance spot/USD-M/COIN-M `exchangeInfo` ({"symbols": [...]}), Kraken `AssetPairs`
    ({"error": [], "result": {...}}), OKX `public/instruments` ({"code": "0", "data": [...]},
    or a list of them / of recorded `{"url", "ts", "msg"}` lines), Coinbase Advanced
    `market/products` ({"products": [...]}). The format is recognised from the content;
    `venue` only names it in messages. Entries that lack a usable tick or lot are skipped and
    counted in one warning; a response of no known shape raises ValueError.
    """
    if isinstance(data, (bytes, str)):
        data = _loads(data)
    name = venue or "instruments"
    if isinstance(data, Mapping):
        if "msg" in data and "url" in data:               # one recorded line
            return from_exchange_info(data["msg"], venue)
        if isinstance(data.get("symbols"), list):
            return _collect((_binance_entry(s) if isinstance(s, Mapping) else None
                             for s in data["symbols"]), name)
        if isinstance(data.get("result"), Mapping) and "error" in data:
            if data.get("error"):
                raise ValueError(f"{name}: the response reports errors: {data['error']!r:.200}")
            return _collect((_kraken_entry(k, v) if isinstance(v, Mapping) else None
                             for k, v in data["result"].items()), name)
        if isinstance(data.get("products"), list):
            return _collect((_coinbase_entry(p) if isinstance(p, Mapping) else None
                             for p in data["products"]), name)
        if isinstance(data.get("data"), list):
            if str(data.get("code", "0")) != "0":
                raise ValueError(f"{name}: OKX error code {data.get('code')!r}: "
                                 f"{data.get('msg')!r:.200}")
            return _collect((_okx_entry(i) if isinstance(i, Mapping) else None
                             for i in data["data"]), name)
    elif isinstance(data, list):
        out: dict[str, Instrument] = {}
        for part in data:
            out.update(from_exchange_info(part, venue))
        return out
    raise ValueError(f"{name}: not a known instrument-metadata response "
                     f"(expected Binance exchangeInfo, Kraken AssetPairs, OKX instruments or "
                     f"Coinbase products), got {str(data)[:120]!r}")


def load_instruments_file(path: str | Path, venue: str | None = None) -> dict[str, Instrument]:
    """from_exchange_info over a recorded file (plain or gzip, JSON or JSON Lines)."""
    path = Path(path)
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return from_exchange_info(raw, venue or str(path))
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON or JSON Lines: {e}") from None


# -- ccxt ---------------------------------------------------------------------------------------
_RAW_PARSERS: dict[str, Callable[[Mapping, Mapping], Instrument | None]] = {
    "binance": lambda m, info: _binance_entry(info),
    "binance_usdm": lambda m, info: _binance_entry(info),
    "binance_coinm": lambda m, info: _binance_entry(info),
    "kraken": lambda m, info: _kraken_entry(str(m.get("id", "")), info),
    "okx": lambda m, info: _okx_entry(info),
    "coinbase": lambda m, info: _coinbase_entry(info),
}


def _from_ccxt_floats(m: Mapping) -> Instrument | None:
    prec = m.get("precision") or {}
    limits = m.get("limits") or {}
    tick, lot = float_text(prec.get("price")), float_text(prec.get("amount"))
    mid = m.get("id")
    if tick is None or lot is None or not isinstance(mid, str):
        return None
    return Instrument(tick, lot, float_text((limits.get("cost") or {}).get("min")),
                      float_text((limits.get("amount") or {}).get("min")), mid, mid,
                      str(m.get("base") or ""), str(m.get("quote") or ""),
                      str(m.get("type") or "spot"), float_text(m.get("contractSize")),
                      m.get("active") is not False)


def from_ccxt_markets(venue: str, markets: Mapping[str, Mapping]) -> dict[str, Instrument]:
    """ccxt's `exchange.markets` -> Instruments: the raw `info` entry where this module knows
    the venue (exact text), ccxt's floats turned back into text otherwise."""
    raw_parser = _RAW_PARSERS.get(venue)

    def one(m: Mapping) -> Instrument | None:
        info = m.get("info")
        if raw_parser is not None and isinstance(info, Mapping):
            inst = raw_parser(m, info)
            if inst is not None:
                return inst
        return _from_ccxt_floats(m)

    return _collect((one(m) for m in markets.values() if isinstance(m, Mapping)),
                    f"{venue} (ccxt)")


async def load_instruments(venue: str, exchange=None, *, limiter=None,
                           reload: bool = False) -> dict[str, Instrument]:
    """Instrument metadata of `venue` via ccxt's load_markets.

    exchange: a ccxt.async_support exchange to use (left open); without one, one is made for
    the venue (CCXT_IDS) and closed afterwards, and `limiter` defaults to the venue's
    process-wide one. With a limiter, the calls ccxt will make are charged to it beforehand (an
    estimate: ccxt sends them itself, paced by its own throttle), and a rate-limit error from
    ccxt is reported to it as a 429.
    """
    own = exchange is None
    if own:
        import ccxt.async_support as ccxt_async

        try:
            cls = getattr(ccxt_async, CCXT_IDS[venue])
        except KeyError:
            raise ValueError(f"venue {venue!r}: expected one of {', '.join(CCXT_IDS)}") from None
        exchange = cls({"enableRateLimit": True, "options": _CCXT_OPTIONS.get(venue, {})})
        if limiter is None:
            from tradecore.venues.ratelimit import limiter_for

            limiter = limiter_for(venue)
    try:
        if limiter is not None and venue in _MARKETS_COST:
            endpoint, calls = _MARKETS_COST[venue]
            for _ in range(calls):
                await limiter.acquire_for(endpoint)
        try:
            markets = await exchange.load_markets(reload)
        except Exception as e:
            if limiter is not None and type(e).__name__ in ("RateLimitExceeded", "DDoSProtection"):
                limiter.on_response(429, {})
            raise
    finally:
        if own:
            await exchange.close()
    return from_ccxt_markets(venue, markets or {})


def kraken_precisions(instruments: Mapping[str, Instrument]) -> dict[str, tuple[int, int]]:
    """pair -> (price decimals, lot decimals): the KrakenNormalizer's `precisions`."""
    return {sym: (i.price_decimals, i.size_decimals) for sym, i in instruments.items()}


__all__ = ["CCXT_IDS", "Instrument", "float_text", "from_ccxt_markets", "from_exchange_info",
           "kraken_precisions", "load_instruments", "load_instruments_file"]
