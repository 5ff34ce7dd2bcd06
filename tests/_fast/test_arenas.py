"""_fast/arenas.pyx: obmalloc's arenas kept mapped and faulted in while installed.

Each case runs in a fresh interpreter (subprocess): the arena allocator is process-wide, and a
fresh process starts with no arena freed yet, so the counts below are exact."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

# A burst of small objects: ~40 MiB of 2-element lists and their ints, all freed at once.
BURST = """
def burst(n=400_000):
    xs = [[i, i + 1] for i in range(n)]
    total = sum(x[1] - x[0] for x in xs)
    del xs
    return total
"""


# Big blocks (over obmalloc's 512 bytes go to the C heap): an 8 MiB buffer and a dict table of
# ~3 MiB, made and freed.
BIG = """
def big():
    b = bytearray(8 << 20)
    d = {i: i for i in range(60_000)}
    n = len(b) + len(d)
    del b, d
    return n
"""

# install() with only 24 MiB of address space to spare: the MemoryError's text, or None
LIMITED = """
def install_limited(**sizes):
    vm = next(int(line.split()[1]) for line in open("/proc/self/status")
              if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (24 << 20), resource.RLIM_INFINITY))
    try:
        arenas.install(**sizes)
        return None
    except MemoryError as e:
        return str(e)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
"""


def run(body: str) -> dict:
    code = "import json, resource\nfrom tradecore._fast import arenas\n" + BURST + BIG + LIMITED + \
        textwrap.dedent(body)
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_install_keeps_the_arenas_a_burst_frees_and_reuses_them_for_the_next():
    out = run("""
        arenas.install(cache_bytes=64 << 20, prefault_bytes=0)
        assert burst() == 400_000
        a = arenas.stats()
        assert burst() == 400_000
        b = arenas.stats()
        print(json.dumps({"a": a, "b": b}))
    """)
    a, b = out["a"], out["b"]
    assert a["installed"] and a["kept"] > 10 and a["cached"] > 10
    assert a["cached_bytes"] == a["cached"] * (1 << 20) <= a["cache_bytes"] == 64 << 20
    # the second burst is served from the arenas the first freed: (almost) nothing new mapped
    assert b["reused"] - a["reused"] >= a["cached"] - 1
    assert b["mapped"] - a["mapped"] <= 2


def test_install_prefaults_the_cache_so_a_burst_takes_few_page_faults():
    out = run("""
        def faults():
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        burst(50_000)                       # warm the interpreter's own paths first
        f0 = faults(); burst(200_000); plain = faults() - f0
        arenas.install(cache_bytes=64 << 20, prefault_bytes=32 << 20)
        s = arenas.stats()
        f0 = faults(); burst(200_000); cached = faults() - f0
        print(json.dumps({"plain": plain, "cached": cached, "stats": s}))
    """)
    assert out["stats"]["cached"] >= 16         # the prefaulted ones (plus any freed since)
    # ~20 MiB of objects: ~5,000 pages to fault in without the cache; their arenas were
    # either kept by the first burst's frees or prefaulted at install
    assert out["plain"] > 2000
    assert out["cached"] < out["plain"] / 4


def test_cache_never_holds_more_than_its_size_and_unmaps_the_rest():
    out = run("""
        arenas.install(cache_bytes=4 << 20, prefault_bytes=0)
        burst()
        print(json.dumps(arenas.stats()))
    """)
    assert out["cached"] == 4 and out["cached_bytes"] == 4 << 20
    assert out["unmapped"] == out["frees"] - out["kept"] > 0


def test_uninstall_restores_pythons_allocator_and_unmaps_the_cache():
    out = run("""
        keep = [[i] for i in range(300_000)]     # arenas mapped before install ...
        arenas.install(cache_bytes=64 << 20, prefault_bytes=8 << 20)
        mid = [[i] for i in range(300_000)]      # ... and while installed
        del keep                                 # freed through the cache
        arenas.uninstall()
        u = arenas.stats()
        del mid                                  # freed by Python's own allocator
        burst()
        after = arenas.stats()
        print(json.dumps({"u": u, "after": after, "ok": sum(len(x) for x in [[1, 2]] * 3)}))
    """)
    u, after = out["u"], out["after"]
    assert not u["installed"] and u["cached"] == 0 and u["cached_bytes"] == 0
    # nothing passes through the cache once uninstalled
    assert (after["allocs"], after["frees"]) == (u["allocs"], u["frees"])
    assert out["ok"] == 6


def test_install_again_changes_the_sizes_and_tops_the_cache_up():
    out = run("""
        arenas.install(cache_bytes=8 << 20, prefault_bytes=2 << 20)
        a = arenas.stats()
        arenas.install(cache_bytes=16 << 20, prefault_bytes=6 << 20)
        b = arenas.stats()
        print(json.dumps({"a": a, "b": b}))
    """)
    assert out["a"]["cached"] == 2 and out["a"]["cache_bytes"] == 8 << 20
    assert out["b"]["cached"] == 6 and out["b"]["cache_bytes"] == 16 << 20


@pytest.mark.parametrize("cache, prefault, match", [
    (-1, 0, "cache_bytes -1"),
    (1 << 40, 0, "cache_bytes 1099511627776"),
    (4 << 20, 8 << 20, "prefault_bytes 8388608"),
    (4 << 20, -1, "prefault_bytes -1"),
])
def test_install_when_sizes_are_out_of_range_raises_and_installs_nothing(cache, prefault, match):
    out = run(f"""
        try:
            arenas.install(cache_bytes={cache}, prefault_bytes={prefault})
            err = None
        except ValueError as e:
            err = str(e)
        print(json.dumps({{"err": err, "stats": arenas.stats()}}))
    """)
    assert out["err"] is not None and match in out["err"]
    assert not out["stats"]["installed"] and out["stats"]["cached"] == 0


def test_install_when_the_prefault_cannot_be_mapped_raises_and_leaves_pythons_allocator():
    out = run("""
        err = install_limited(cache_bytes=256 << 20, prefault_bytes=128 << 20)
        s = arenas.stats()
        burst()                                   # Python's own allocator still works
        print(json.dumps({"err": err, "stats": s}))
    """)
    assert out["err"] is not None and "could not map 134217728 bytes" in out["err"]
    assert not out["stats"]["installed"] and out["stats"]["cached"] == 0


def test_install_keeps_the_c_heap_faulted_in_so_big_blocks_take_no_page_faults():
    out = run("""
        def faults():
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        big()
        f0 = faults(); big(); plain = faults() - f0
        arenas.install(prefault_bytes=0, heap_prefault_bytes=32 << 20)
        f0 = faults(); big(); first = faults() - f0        # the prefaulted heap serves it
        f0 = faults(); big(); again = faults() - f0
        s = arenas.stats()
        arenas.uninstall()
        f0 = faults(); big(); after = faults() - f0
        print(json.dumps({"plain": plain, "first": first, "again": again, "after": after,
                          "kept": s["heap_kept"], "kept_after": arenas.stats()["heap_kept"]}))
    """)
    # without it each 4 KiB page of the fresh mappings faults: ~2,000 for the 8 MiB alone
    assert out["plain"] > 2000 and out["after"] > 2000
    assert out["first"] < out["plain"] // 10 and out["again"] < out["plain"] // 10
    assert out["kept"] and not out["kept_after"]


def test_install_when_the_heap_prefault_cannot_be_had_raises_and_changes_nothing():
    out = run("""
        err = install_limited(prefault_bytes=0, heap_prefault_bytes=100 << 20)
        s = arenas.stats()
        burst()
        print(json.dumps({"err": err, "stats": s}))
    """)
    assert out["err"] is not None and "104857600 bytes of the C heap" in out["err"]
    assert not out["stats"]["installed"] and not out["stats"]["heap_kept"]


def test_install_when_the_heap_prefault_is_out_of_range_raises_and_installs_nothing():
    out = run("""
        errs = []
        for n in (-1, (128 << 20) + 1):
            try:
                arenas.install(heap_prefault_bytes=n)
            except ValueError as e:
                errs.append(str(e))
        print(json.dumps({"errs": errs, "stats": arenas.stats()}))
    """)
    assert len(out["errs"]) == 2 and all("heap_prefault_bytes" in e for e in out["errs"])
    assert not out["stats"]["installed"] and not out["stats"]["heap_kept"]
