"""Instructions per tick of each stage of the tick-to-order path, counted by callgrind.

    python benchmarks/tick_instructions.py [--frames N] [--stages 0,1,2,3,4,5]

`tradecore bench tick-to-order` times the path on a shared machine whose speed moves by
+-30 % between runs; an instruction count does not move, so this is the like-for-like figure
for a change to the path. It replays the recording through the same node, strategy and
serializing venue as the bench (tradecore/bench/tick_to_order.py, journal on) twice: the first
pass finds the frames that produce an order (the ticks), the second, identical, counts the
instructions between a stage's two timestamps on those frames only, the first leg's, as the
bench times them. Collection is switched by CALLGRIND_TOGGLE_COLLECT from a tiny C library
built here (valgrind's callgrind.h; the `valgrind` package has it). The switching itself
costs ~2.6k instructions a stage, measured as the "harness" row (stage 6: on and off at once)
and subtracted in the `net` column.

Stages: 0 parse + book (t0 -> t1), 1 engine hooks, 2 detect + decide, 3 risk + OMS,
4 serialize, 5 end to end (t0 -> t5; its own switching counted once).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

NAMES = ("parse_book", "engine_hooks", "detect_decide", "risk_oms", "serialize", "end_to_end",
         "harness")
MARKS = ["t0", "t1", "t2", "t3", "t4", "t5"]
C_SRC = """#include <valgrind/callgrind.h>
void cg_toggle(void) { CALLGRIND_TOGGLE_COLLECT; }
"""


def _toggle_lib(tmp: str) -> str:
    src, lib = os.path.join(tmp, "cgt.c"), os.path.join(tmp, "libcgt.so")
    Path(src).write_text(C_SRC)
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", lib, src], check=True)
    return lib


def _replay(stage: int, frames: int, journal: str, ticks_at: set[int], collect: bool,
            toggle) -> list[int]:
    """One pass of the bench's path; returns the indices of the frames that were ticks."""
    from tradecore.bench import tick_to_order as t
    from tradecore.engine import TradingNode
    start, end = (MARKS[stage], MARKS[stage + 1]) if stage < 5 else ("t0", "t5")
    if stage == 6:
        start, end = "t0", "tz"

    class Marks(dict):
        on = False
        enabled = False

        def __setitem__(self, k, v):
            if k == end and self.on:
                toggle()
                self.on = False
            dict.__setitem__(self, k, v)
            if k == start and self.enabled and not self.on:
                self.on = True
                toggle()

        def stop(self):
            if self.on:
                toggle()
                self.on = False

    class PlainMarks(dict):
        """End to end: the intermediate marks stay a dict's own stores, as in the bench (a
        Python __setitem__ would count ~2.7k instructions a mark); on at t0 by the loop, off
        by the venue once the first order's bytes are ready."""
        on = False
        enabled = False

        def stop(self):
            if self.on:
                toggle()
                self.on = False

    class Venue(t.SerializingVenue):
        def submit(self, order):
            t.SerializingVenue.submit(self, order)
            marks.stop()

    e2e = stage == 5
    marks = PlainMarks() if e2e else Marks()
    venues = {}

    def factory(name, clock, insts):
        v = (Venue if e2e else t.SerializingVenue)(name, clock, insts, marks, "ed25519")
        venues[name] = v
        return v
    node = TradingNode(t.bench_config(journal), venue_factory=factory)
    strat = node.strategies[0]
    inner_on_book, inner_submit = strat.on_book, strat.submit

    def timed_on_book(venue, symbol, book, _f=inner_on_book):
        if "t2" not in marks:
            marks["t2"] = 0
        _f(venue, symbol, book)

    def timed_submit(order, _f=inner_submit):
        if "t3" not in marks:
            marks["t3"] = 0
        return _f(order)
    strat.on_book, strat.submit = timed_on_book, timed_submit
    for n in node.normalizers.values():
        def hooked(key, book, _f=n.on_book):
            if "t1" not in marks:
                marks["t1"] = 0
            _f(key, book)
        n.on_book = hooked
    node.start()
    ticks, count = [], 0
    with node.gc_policy("off"):
        for venue, rec in node.records():
            if count >= frames:
                break
            if rec.ts_ns > node.clock.time_ns():
                node.clock.advance_to(rec.ts_ns)
            dict.clear(marks)
            n = node.normalizers[venue]
            if rec.kind == "rest":
                n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
                continue
            if rec.kind != "ws":
                continue
            marks.enabled = collect and count in ticks_at
            if e2e and marks.enabled:
                marks.on = True
                toggle()
            marks["t0"] = 0
            if stage == 6:
                marks["tz"] = 0
            n.on_frame(rec.payload, rec.conn, rec.ts_ns)
            marks.stop()
            if "t5" in marks:
                ticks.append(count)
            count += 1
            for v in venues.values():
                if v.pending:
                    v.expire_all()
    node.stop()
    return ticks


def child(stage: int, frames: int, lib: str, out: str) -> None:
    toggle = ctypes.CDLL(lib).cg_toggle
    with tempfile.TemporaryDirectory() as tmp:
        ticks = _replay(stage, frames, os.path.join(tmp, "a"), set(), False, toggle)
        again = _replay(stage, frames, os.path.join(tmp, "b"), set(ticks), True, toggle)
    if again != ticks:
        raise SystemExit("the replay is not deterministic: the two passes' ticks differ")
    Path(out).write_text(str(len(ticks)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--stages", default="0,1,2,3,4,5")
    ap.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--lib", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child is not None:
        child(a.child, a.frames, a.lib, a.out)
        return 0
    if not shutil.which("valgrind") or not Path("/usr/include/valgrind/callgrind.h").exists():
        print("needs valgrind with its headers (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    stages = [int(s) for s in a.stages.split(",")] + [6]
    rows = {}
    with tempfile.TemporaryDirectory(prefix="tradecore-cg-") as tmp:
        lib = _toggle_lib(tmp)
        for s in stages:
            prof, ticks_f = os.path.join(tmp, f"cg.{s}"), os.path.join(tmp, f"ticks.{s}")
            subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=no",
                            f"--callgrind-out-file={prof}", sys.executable, __file__,
                            "--child", str(s), "--frames", str(a.frames), "--lib", lib,
                            "--out", ticks_f], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            total = next(int(line.split()[1]) for line in open(prof)
                         if line.startswith("totals:"))
            rows[s] = (total, int(Path(ticks_f).read_text()))
    harness = rows[6][0] / rows[6][1]
    print(f"instructions per tick, first {a.frames} frames ({rows[6][1]} ticks), callgrind")
    print(f"  {'stage':<15} {'counted':>9} {'net':>9}")
    for s in stages:
        per = rows[s][0] / rows[s][1]
        net = per - harness if s != 6 else per
        print(f"  {NAMES[s]:<15} {per:>9,.0f} {net:>9,.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
