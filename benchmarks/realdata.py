"""A real recorded Binance depth stream as numpy arrays, for the benchmarks.

Source (first that exists; TRADECORE_BENCH_DATA=<path> overrides):
  1. ../shared/data/binance/hbt_usdm_btcusdt_20240808.gz  -- the reference stream of
     ../shared/PERF-ANCHORS.md (6 551 depth diffs, 443 521 level updates)
  2. src/tradecore/data/samples/hbt_spot_btcusdt_20240808.gz  -- the copy bundled with the
     project (for machines without ../shared)
  3. ../shared/data/binance/hbt_spot_btcusdt_20240808.gz
The shared data directory is ../shared/data next to the repository, or TRADECORE_SHARED_DATA.

Format (../shared/data/README.md section 1.1): gzip text, each line `<local ns> <raw message>`;
one line is the REST depth snapshot (`lastUpdateId`), the depth diffs are combined-stream
wrappers `{"stream": .., "data": {"e": "depthUpdate", "U", "u", ["pu"], "b": [[p, q]..],
"a": [..]}}`. The snapshot arrives after some diffs; those are kept in order and filtered by the
Binance sync rule (spot: drop u <= lastUpdateId; futures, which carry `pu`: drop
u < lastUpdateId), and the chain of the kept diffs is checked (no gaps), so the stream is
exactly what a correct feed handler applies after the snapshot.

The parse takes about a second; the arrays are cached in .benchcache/ (TRADECORE_BENCH_CACHE
overrides), keyed by the source's name, size and mtime, so later runs load in milliseconds.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import sys
from dataclasses import dataclass, field
from math import gcd
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE_VERSION = 1

# Make `import tradecore` work when the package is not installed (in-place builds under src/,
# as in the development venv and under asv's "existing" environment).
try:  # pragma: no cover - depends on the environment
    import tradecore  # noqa: F401
except ImportError:  # pragma: no cover
    sys.path.insert(0, str(REPO / "src"))


def shared_data_dir() -> Path:
    env = os.environ.get("TRADECORE_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def candidate_sources() -> list[Path]:
    env = os.environ.get("TRADECORE_BENCH_DATA")
    if env:
        return [Path(env)]
    shared = shared_data_dir() / "binance"
    return [shared / "hbt_usdm_btcusdt_20240808.gz",
            REPO / "src" / "tradecore" / "data" / "samples" / "hbt_spot_btcusdt_20240808.gz",
            shared / "hbt_spot_btcusdt_20240808.gz"]


def find_source() -> Path | None:
    """The stream file the benchmarks use, or None when none is present."""
    for p in candidate_sources():
        if p.is_file():
            return p
    return None


def cache_dir() -> Path:
    env = os.environ.get("TRADECORE_BENCH_CACHE")
    return Path(env) if env else REPO / ".benchcache"


@dataclass
class Stream:
    """Snapshot + synced diffs of one book. Level arrays are the diffs' levels in wire order
    (within a message: all bids, then all asks); message m owns levels
    bounds[m]:bounds[m + 1] and frame m."""
    source: str
    tick: str                    # price grid as decimal text (gcd of all prices)
    lot: str                     # size grid (finest size decimals)
    last_update_id: int          # of the snapshot
    snap_sides: np.ndarray       # int8, bids then asks, best first
    snap_prices: np.ndarray      # float64
    snap_sizes: np.ndarray       # float64
    sides: np.ndarray            # int8 (0 bid, 1 ask)
    prices: np.ndarray           # float64
    sizes: np.ndarray            # float64
    bounds: np.ndarray           # int64, n_messages + 1
    msg_ts: np.ndarray           # int64 local receive ns of each diff
    snapshot_bytes: bytes        # the REST response body as recorded
    snapshot_ts: int
    frame_buf: np.ndarray        # uint8: every diff's raw frame, concatenated
    frame_offsets: np.ndarray    # int64, n_messages + 1
    # bookTicker top-of-book oracle: after message oracle_msg[k], best bid/ask equal these
    oracle_msg: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    oracle_bid: np.ndarray = field(default_factory=lambda: np.zeros(0))
    oracle_ask: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _frames: list | None = field(default=None, repr=False)

    # -- sizes -------------------------------------------------------------------------------
    @property
    def n_messages(self) -> int:
        return len(self.bounds) - 1

    @property
    def n_levels(self) -> int:
        return len(self.sides)

    @property
    def msg_levels(self) -> np.ndarray:
        return np.diff(self.bounds)

    @property
    def sides64(self) -> np.ndarray:
        return self.sides.astype(np.int64)

    @property
    def snap_sides64(self) -> np.ndarray:
        return self.snap_sides.astype(np.int64)

    # -- raw bytes ---------------------------------------------------------------------------
    @property
    def frames(self) -> list[bytes]:
        """Each diff's raw frame (the combined-stream wrapper, as received)."""
        if self._frames is None:
            buf = self.frame_buf.tobytes()
            off = self.frame_offsets.tolist()
            self._frames = [buf[off[i]:off[i + 1]] for i in range(len(off) - 1)]
        return self._frames

    # -- Python-object views (what a Python feed handler holds) -------------------------------
    def level_tuples(self) -> list[tuple[int, float, float]]:
        return list(zip(self.sides.tolist(), self.prices.tolist(), self.sizes.tolist()))

    def snapshot_tuples(self) -> list[tuple[int, float, float]]:
        return list(zip(self.snap_sides.tolist(), self.snap_prices.tolist(),
                        self.snap_sizes.tolist()))

    def message_tuples(self) -> list[list[tuple[int, float, float]]]:
        lv = self.level_tuples()
        b = self.bounds.tolist()
        return [lv[b[i]:b[i + 1]] for i in range(len(b) - 1)]

    def head(self, n_messages: int) -> "Stream":
        """The first n messages (same snapshot); for quick runs and tests."""
        n = max(0, min(int(n_messages), self.n_messages))
        e = int(self.bounds[n])
        fe = int(self.frame_offsets[n])
        keep = self.oracle_msg < n
        return Stream(self.source, self.tick, self.lot, self.last_update_id,
                      self.snap_sides, self.snap_prices, self.snap_sizes,
                      self.sides[:e], self.prices[:e], self.sizes[:e], self.bounds[:n + 1],
                      self.msg_ts[:n], self.snapshot_bytes, self.snapshot_ts,
                      self.frame_buf[:fe], self.frame_offsets[:n + 1],
                      self.oracle_msg[keep], self.oracle_bid[keep], self.oracle_ask[keep])

    def describe(self) -> str:
        return (f"{Path(self.source).name}: snapshot {int((self.snap_sides == 0).sum())} bids + "
                f"{int((self.snap_sides == 1).sum())} asks, {self.n_messages} diffs, "
                f"{self.n_levels} level updates (tick {self.tick}, lot {self.lot})")


# ----------------------------------------------------------------------------------------------
# parsing

def _decimals(t: str) -> int:
    d = t.find(".")
    return 0 if d < 0 else len(t) - d - 1


def _grid(texts, decimals: int) -> str:
    g = 0
    for t in texts:
        whole, _, frac = t.partition(".")
        g = gcd(g, int(whole + frac.ljust(decimals, "0")))
        if g == 1:
            break
    g = g or 1
    if decimals == 0:
        return str(g)
    s = str(g).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def parse(path: Path) -> Stream:
    """Read a hftbacktest Binance capture into a Stream (about a second for the USD-M file)."""
    import orjson

    pending: list[tuple[int, bytes, dict]] = []      # diffs in arrival order
    tickers: list[tuple[int, str, str]] = []         # (u, bid, ask) of bookTicker messages
    snapshot = None
    snap_raw = b""
    snap_ts = 0
    with gzip.open(path, "rb") as f:
        for raw in f:
            line = raw.rstrip(b"\r\n")
            if not line:
                continue
            ts, _, msg = line.partition(b" ")
            if msg.startswith(b'{"lastUpdateId"'):
                if snapshot is None:
                    snapshot = orjson.loads(msg)
                    snap_raw, snap_ts = msg, int(ts)
                continue
            if b'"depthUpdate"' in msg:
                pending.append((int(ts), msg, orjson.loads(msg)["data"]))
            elif b"@bookTicker" in msg[:64]:
                d = orjson.loads(msg)["data"]
                tickers.append((d["u"], d["b"], d["a"]))
    if snapshot is None:
        raise ValueError(f"{path}: no REST depth snapshot (lastUpdateId) in the file")
    lid = snapshot["lastUpdateId"]
    futures = any("pu" in d for _, _, d in pending[:5])
    diffs = [x for x in pending if (x[2]["u"] >= lid if futures else x[2]["u"] > lid)]
    if not diffs:
        raise ValueError(f"{path}: no depth diff after the snapshot")
    first = diffs[0][2]
    ok = (first["U"] <= lid <= first["u"]) if futures else (first["U"] <= lid + 1 <= first["u"])
    if not ok:
        raise ValueError(f"{path}: first diff U={first['U']} u={first['u']} does not straddle "
                         f"the snapshot's lastUpdateId {lid}")
    prev = first["u"]
    for _, _, d in diffs[1:]:
        if (d["pu"] != prev) if futures else (d["U"] != prev + 1):
            raise ValueError(f"{path}: sequence gap at U={d['U']} (previous u {prev})")
        prev = d["u"]

    all_p = [p for p, _ in snapshot["bids"]] + [p for p, _ in snapshot["asks"]]
    all_q = [q for _, q in snapshot["bids"]] + [q for _, q in snapshot["asks"]]
    for _, _, d in diffs:
        for lv in d["b"]:
            all_p.append(lv[0]); all_q.append(lv[1])
        for lv in d["a"]:
            all_p.append(lv[0]); all_q.append(lv[1])
    pd = max(_decimals(p) for p in all_p)
    qd = max(_decimals(q) for q in all_q)
    tick = _grid(all_p, pd)
    lot = "1" if qd == 0 else "0." + "0" * (qd - 1) + "1"

    sides, prices, sizes, bounds = [], [], [], [0]
    for _, _, d in diffs:
        for lv in d["b"]:
            sides.append(0); prices.append(float(lv[0])); sizes.append(float(lv[1]))
        for lv in d["a"]:
            sides.append(1); prices.append(float(lv[0])); sizes.append(float(lv[1]))
        bounds.append(len(sides))
    frames = [m for _, m, _ in diffs]
    offs = np.zeros(len(frames) + 1, np.int64)
    offs[1:] = np.cumsum([len(m) for m in frames])
    sb = snapshot["bids"]
    sa = snapshot["asks"]

    u_to_msg = {d["u"]: i for i, (_, _, d) in enumerate(diffs)}
    om, ob, oa = [], [], []
    for u, b, a in tickers:
        i = u_to_msg.get(u)
        if i is not None:
            om.append(i); ob.append(float(b)); oa.append(float(a))

    return Stream(
        source=str(path), tick=tick, lot=lot, last_update_id=lid,
        snap_sides=np.array([0] * len(sb) + [1] * len(sa), np.int8),
        snap_prices=np.array([float(p) for p, _ in sb] + [float(p) for p, _ in sa], np.float64),
        snap_sizes=np.array([float(q) for _, q in sb] + [float(q) for _, q in sa], np.float64),
        sides=np.array(sides, np.int8), prices=np.array(prices, np.float64),
        sizes=np.array(sizes, np.float64), bounds=np.array(bounds, np.int64),
        msg_ts=np.array([t for t, _, _ in diffs], np.int64),
        snapshot_bytes=snap_raw, snapshot_ts=snap_ts,
        frame_buf=np.frombuffer(b"".join(frames), np.uint8).copy(), frame_offsets=offs,
        oracle_msg=np.array(om, np.int64), oracle_bid=np.array(ob, np.float64),
        oracle_ask=np.array(oa, np.float64),
    )


# ----------------------------------------------------------------------------------------------
# cache

_ARRAYS = ("snap_sides", "snap_prices", "snap_sizes", "sides", "prices", "sizes", "bounds",
           "msg_ts", "frame_buf", "frame_offsets", "oracle_msg", "oracle_bid", "oracle_ask")


def _cache_path(src: Path) -> Path:
    st = src.stat()
    key = f"{src.resolve()}|{st.st_size}|{st.st_mtime_ns}|{CACHE_VERSION}"
    h = hashlib.sha1(key.encode()).hexdigest()[:12]
    return cache_dir() / f"realdata-{src.name.split('.')[0]}-{h}.npz"


def load(path: str | Path | None = None, *, use_cache: bool = True) -> Stream:
    """The benchmark stream (find_source() unless a path is given), parsed or from the cache.
    FileNotFoundError when no source exists."""
    src = Path(path) if path is not None else find_source()
    if src is None or not src.is_file():
        raise FileNotFoundError("no Binance hbt_* capture found; looked at: "
                                + ", ".join(str(p) for p in candidate_sources()))
    cp = _cache_path(src)
    if use_cache and cp.is_file():
        try:
            with np.load(cp, allow_pickle=False) as z:
                meta = z["meta"].tolist()
                return Stream(source=str(src), tick=meta[0], lot=meta[1],
                              last_update_id=int(meta[2]), snapshot_ts=int(meta[3]),
                              snapshot_bytes=z["snapshot_bytes"].tobytes(),
                              **{k: z[k] for k in _ARRAYS})
        except Exception:           # a stale or truncated cache: parse again
            pass
    s = parse(src)
    if use_cache:
        cp.parent.mkdir(parents=True, exist_ok=True)
        tmp = cp.with_suffix(".tmp.npz")
        np.savez(tmp, meta=np.array([s.tick, s.lot, str(s.last_update_id), str(s.snapshot_ts)]),
                 snapshot_bytes=np.frombuffer(s.snapshot_bytes, np.uint8),
                 **{k: getattr(s, k) for k in _ARRAYS})
        os.replace(tmp, cp)
    return s


if __name__ == "__main__":  # pragma: no cover
    import time
    t = time.perf_counter()
    st = load(sys.argv[1] if len(sys.argv) > 1 else None)
    print(st.describe(), f"({time.perf_counter() - t:.2f} s)")
    print(f"levels per message: median {int(np.median(st.msg_levels))}, "
          f"15-25 levels: {int(((st.msg_levels >= 15) & (st.msg_levels <= 25)).sum())} messages; "
          f"bookTicker oracle points: {len(st.oracle_msg)}")
