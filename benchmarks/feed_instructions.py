"""Instructions per Binance depth frame through the client, counted by callgrind.

    python benchmarks/feed_instructions.py [--data PATH] [--skip N] [--frames N] [--quiet]

Wall-clock rates on a shared 2-core machine move by +-30 % with the neighbours' load; an
instruction count does not, so this is the like-for-like figure for a change to the depth path
(benchmarks/feed_throughput.py stays the figure the issue's bar is judged on).

Run alone it replays the recording's depth diffs, the snapshot at its recorded place, then
`--frames` diffs after `--skip` warm-up diffs through `BinanceNormalizer.on_frame` exactly as
FeedListener does (bytes, label, a time.time_ns() value), and checks the book ended in sync.
Under `--callgrind` it runs itself under `valgrind --tool=callgrind` collecting only inside
the timed loop, which is `itertools.starmap(on_frame, ...)` drained by a zero-length deque so
that `--toggle-collect=starmap_next` brackets exactly one on_frame call per frame (plus the
starmap/zip step around it, a few dozen instructions); it prints the count / frames and the
functions that cost the most (self cost, per frame).
"""
from __future__ import annotations

import argparse
import gc
import statistics
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import deque
from itertools import repeat, starmap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

SHARED = ROOT.parent / "shared" / "data" / "binance"
BUNDLED = ROOT / "src" / "tradecore" / "data" / "samples"
DEFAULTS = {
    "spot": [SHARED / "hbt_spot_btcusdt_20240808.gz", BUNDLED / "hbt_spot_btcusdt_20240808.gz"],
    "usdm": [SHARED / "hbt_usdm_btcusdt_20240808.gz",
             BUNDLED / "hbt_usdm_btcusdt_20240808_nobookticker.gz"],
}


def _default(market: str) -> Path:
    for p in DEFAULTS[market]:
        if p.is_file():
            return p
    raise SystemExit(f"no {market} recording found in {DEFAULTS[market]}")


def replay(path: Path, skip: int, frames: int, rec=None) -> tuple[int, int, float]:
    """Depth diffs through on_frame: (frames timed, levels in them, CPU seconds of the timed
    part). Everything before the timed part (loading, the pre-snapshot diffs, the snapshot,
    `skip` diffs) is the same whatever `frames` is."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from feed_throughput import load_recording
    from tradecore.venues.binance.normalize import BinanceNormalizer

    rec = rec or load_recording(str(path))
    depth = [(i, p) for i, (t, p) in enumerate(zip(rec.topics, rec.payloads))
             if t == rec.depth_stream]
    pre = [p for i, p in depth if i < rec.snapshot_at]
    post = [p for i, p in depth if i > rec.snapshot_at]
    if skip + frames > len(post):
        raise SystemExit(f"only {len(post)} diffs after the snapshot")
    norm = BinanceNormalizer(symbols=[rec.symbol])
    on_frame, tns, label = norm.on_frame, time.time_ns, "bench#1"
    for f in pre:
        on_frame(f, label, tns())
    norm.on_snapshot(label, rec.symbol, rec.payloads[rec.snapshot_at], tns())
    for f in post[:skip]:
        on_frame(f, label, tns())
    timed = post[skip:skip + frames]
    stamps = [tns() for _ in timed]
    gc.disable()
    c0 = time.process_time()
    deque(starmap(on_frame, zip(timed, repeat(label), stamps)), maxlen=0)
    cpu = time.process_time() - c0
    gc.enable()
    s = norm.stats
    if s.gaps or not norm.synced(label, rec.symbol):
        raise SystemExit(f"book not in sync: {s.gaps} gaps")
    return len(timed), sum(f.count(b'["') for f in timed), cpu


def _callgrind(path: Path, skip: int, frames: int, out: str) -> int:
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
           "--collect-atstart=no", "--toggle-collect=starmap_next",
           sys.executable, __file__, "--data", str(path), "--skip", str(skip),
           "--frames", str(frames), "--quiet"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", r.stderr)
    if r.returncode or not m:
        raise SystemExit(f"callgrind failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return int(m.group(1))


def _top(out: str, frames: int, k: int) -> list[str]:
    """The k functions with the most self cost, per frame."""
    r = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True,
                       text=True)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(\S+?)(?: \[.*)?$", line)
        if m and "PROGRAM TOTALS" not in line:
            name = m.group(2).rsplit(":", 1)[-1]
            rows.append(f"{int(m.group(1).replace(',', '')) / frames:9,.0f}  {name}")
    return rows[:k]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--market", choices=sorted(DEFAULTS), default="spot")
    ap.add_argument("--data", help="a Binance hbt_*.gz capture (default: by --market)")
    ap.add_argument("--skip", type=int, default=400, help="warm-up diffs after the snapshot")
    ap.add_argument("--frames", type=int, default=3000, help="diffs counted")
    ap.add_argument("--callgrind", action="store_true", help="count instructions per frame")
    ap.add_argument("--keep", help="keep the callgrind outputs in this directory")
    ap.add_argument("--cpu", type=int, metavar="N",
                    help="time N fresh passes on process CPU time instead (noisy; A/B only)")
    ap.add_argument("--top", type=int, default=12, help="functions listed (self cost)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    path = Path(a.data) if a.data else _default(a.market)
    if a.cpu:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from feed_throughput import load_recording
        rec = load_recording(str(path))
        rates = []
        for _ in range(a.cpu):
            n, levels, cpu = replay(path, a.skip, a.frames, rec)
            rates.append(n / cpu)
        print(f"{path.name}: {n} depth frames, {a.cpu} passes on CPU time: median "
              f"{statistics.median(rates):,.0f}/s, best {max(rates):,.0f}/s")
        return 0
    if not a.callgrind:
        n, levels, _ = replay(path, a.skip, a.frames)
        if not a.quiet:
            print(f"{path.name}: {n} depth frames, {levels / max(n, 1):.1f} levels each, in sync")
        return 0
    d = a.keep or tempfile.mkdtemp(prefix="feedcg.")
    os.makedirs(d, exist_ok=True)
    out = os.path.join(d, "callgrind.out")
    total = _callgrind(path, a.skip, a.frames, out)
    n, levels, _ = replay(path, a.skip, a.frames)
    per = total / n
    print(f"{path.name}: {n} depth frames after {a.skip} warm-up, {levels / n:.1f} levels each")
    print(f"  instructions per depth frame: {per:,.0f}  ({total / levels:,.0f} per level; "
          f"on_frame end to end, callgrind)")
    for row in _top(out, n, a.top):
        print("   ", row)
    if a.keep:
        print(f"  output: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
