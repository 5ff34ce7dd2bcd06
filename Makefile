# tradecore: every target sets itself up on a fresh machine (venv, install, compiled kernels).
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
PYX     := $(wildcard src/tradecore/_fast/*.pyx src/tradecore/_fast/*.pxd)

.PHONY: run test bench build clean asv help

help:
	@echo "make run    paper trading over the bundled real recordings, summary + HTML report"
	@echo "make test   build everything and run the test suite"
	@echo "make bench  latency budget and feed throughput benchmarks (slow)"

$(STAMP): pyproject.toml setup.py
	test -x $(VPY) || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip setuptools wheel
	$(VPY) -m pip install -q "cython>=3.3"
	$(VPY) -m pip install -q --no-build-isolation -e ".[dev]"
	touch $(STAMP)

BUILT   := $(VENV)/.built

# Editable installs do not rebuild extensions: rebuild in place whenever a .pyx/.pxd changed.
$(BUILT): $(STAMP) $(PYX)
	$(VPY) setup.py -q build_ext --inplace
	touch $(BUILT)

build: $(BUILT)

run: build
	$(VENV)/bin/tradecore paper

test: build
	@.ci/install-system
	$(VPY) -m pytest

bench: build
	$(VPY) benchmarks/budget.py
	$(VPY) benchmarks/feed_throughput.py
	$(VPY) benchmarks/bench_arb.py
	$(VPY) benchmarks/bench_risk.py
	$(VPY) benchmarks/bench_order_path.py
	$(VPY) benchmarks/bench_paper.py
	$(VPY) benchmarks/bench_backtest.py
	$(VENV)/bin/tradecore bench tick-to-order

asv: build
	$(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --python=same --quick --show-stderr

clean:
	rm -rf build dist src/*.egg-info src/tradecore/_fast/*.c src/tradecore/_fast/*.so $(BUILT)
