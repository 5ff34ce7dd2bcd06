"""L2Book.prefault: the window's pages made present up front, no value changed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from tradecore._fast.book import L2Book

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_prefault_when_called_on_a_loaded_book_changes_no_level():
    a, b = L2Book("0.01", "0.001"), L2Book("0.01", "0.001")
    for bk in (a, b):
        bk.apply_levels(0, [("100.00", "1.5"), ("99.00", "2"), ("50.00", "3")])
        bk.apply_levels(1, [("100.01", "1"), ("250.00", "4")])
    pages = b.prefault()
    assert pages >= 2 * (b.window * 8 // 4096)
    for side in (0, 1):
        assert np.array_equal(a.depth_ticks(side, 100), b.depth_ticks(side, 100))
    assert (a.best_bid(), a.best_ask()) == (b.best_bid(), b.best_ask())
    b.apply_levels(0, [("99.50", "7")])
    assert b.depth_ticks(0, 2).tolist() == [[10000, 1500], [9950, 7000]]


def test_prefault_when_levels_land_all_over_the_window_takes_their_page_faults_first():
    """In a fresh interpreter: in this one, a book's calloc may reuse memory earlier tests
    freed (already present), and the cold book would take no fault to compare with."""
    code = textwrap.dedent("""
        import json, resource
        import numpy as np
        from tradecore._fast.book import L2Book

        def faults():
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

        def spread_levels(book, mid, n, step):
            # n levels a side, `step` ticks apart: with step = 512 every level is on a page
            # of its own (512 slots x 8 bytes = one 4 KiB page)
            book.apply_many(np.array([0] * n + [1] * n),
                            np.array([(mid - 1 - i * step) * book.tick_size for i in range(n)]
                                     + [(mid + 1 + i * step) * book.tick_size
                                        for i in range(n)]),
                            np.array([0.5] * (2 * n)))

        out = {}
        books = []
        for prefault in (False, True):
            b = L2Book("0.01", "0.001")
            b.apply_levels(0, [("60000.00", "1")])
            b.apply_levels(1, [("60000.01", "1")])
            if prefault:
                b.prefault()
            f0 = faults()
            spread_levels(b, 6_000_000, 60, 512)
            out[str(prefault)] = faults() - f0
            books.append(b)
        out["same"] = all(np.array_equal(books[0].depth_ticks(s, 200), books[1].depth_ticks(s, 200))
                          for s in (0, 1))
        print(json.dumps(out))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": SRC}, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    cold, warm = out["False"], out["True"]
    assert cold >= 100                   # a page each (the numpy arrays' own are few)
    assert warm < cold // 4
    assert out["same"]
