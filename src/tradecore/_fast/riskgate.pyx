"""The pre-trade risk gate kernel (layout and reasons in riskgate.pxd; the rules in docs/risk.md).

tradecore.risk.reference.ReferenceKernel is the same gate in plain Python with the same methods;
the tests drive both with the same random states and orders and require the same answer, so any
change here goes there too, in the same order of operations (the float results must be identical
at the limits, which they are when both evaluate the same expressions in the same order).
"""
cimport cython
from libc.math cimport fabs, isfinite
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memset


cdef inline int64_t _abs64(int64_t x) noexcept nogil:
    return -x if x < 0 else x


cdef inline bint _priced(int otype) noexcept nogil:
    return otype == OTYPE_LIMIT or otype == OTYPE_STOP_LIMIT or otype == OTYPE_TAKE_PROFIT_LIMIT


cdef inline bint _triggered(int otype) noexcept nogil:
    return (otype == OTYPE_STOP_MARKET or otype == OTYPE_STOP_LIMIT
            or otype == OTYPE_TAKE_PROFIT or otype == OTYPE_TAKE_PROFIT_LIMIT)


cdef inline bint _throttle_take(Throttle* t, int64_t now) noexcept nogil:
    # GCRA: conforming iff now >= tat - (burst - 1) * period; a conforming event moves tat on
    if t.period_ns <= 0:
        return True
    if now < t.tat - (t.burst - 1) * t.period_ns:
        return False
    t.tat = (t.tat if t.tat > now else now) + t.period_ns
    return True


@cython.final
cdef class RiskKernel:
    """Per-symbol arrays, portfolio limits, throttles, state and counters of one risk gate.

    Not thread-safe: call from the event loop's thread (as every engine component)."""

    def __cinit__(self, Py_ssize_t capacity=16):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.syms = <Sym*>calloc(capacity, sizeof(Sym))
        self.avail = <double*>calloc(capacity, sizeof(double))
        self.known = <bint*>calloc(capacity, sizeof(bint))
        self.cluster_limit = <double*>calloc(capacity, sizeof(double))
        if not self.syms or not self.avail or not self.known or not self.cluster_limit:
            raise MemoryError()
        self.cap_syms = capacity
        self.cap_assets = capacity
        self.n_syms = 0
        self.n_assets = 0
        self.n_clusters = 0
        memset(self.counts, 0, sizeof(self.counts))
        self.state = STATE_ACTIVE
        self.reconciling = False
        self.require_balance = False
        self.symbols = {}
        self.strategy_states = {}
        self.clock_ns = None
        self.reasons = tuple(range(N_DENY))

    def __dealloc__(self):
        free(self.syms)
        free(self.avail)
        free(self.known)
        free(self.cluster_limit)

    # -- set-up (not on the hot path) ------------------------------------------------------------
    cdef int _grow_syms(self) except -1:
        cdef Py_ssize_t cap = self.cap_syms * 2
        cdef Sym* s = <Sym*>realloc(self.syms, cap * sizeof(Sym))
        if not s:
            raise MemoryError()
        self.syms = s
        cdef double* cl = <double*>realloc(self.cluster_limit, cap * sizeof(double))
        if not cl:
            raise MemoryError()
        self.cluster_limit = cl
        memset(&self.cluster_limit[self.cap_syms], 0, (cap - self.cap_syms) * sizeof(double))
        self.cap_syms = cap
        return 0

    cdef int _grow_assets(self) except -1:
        cdef Py_ssize_t cap = self.cap_assets * 2
        cdef double* a = <double*>realloc(self.avail, cap * sizeof(double))
        if not a:
            raise MemoryError()
        self.avail = a
        cdef bint* k = <bint*>realloc(self.known, cap * sizeof(bint))
        if not k:
            raise MemoryError()
        self.known = k
        self.cap_assets = cap
        return 0

    cdef Sym* _sym(self, Py_ssize_t idx) except NULL:
        if idx < 0 or idx >= self.n_syms:
            raise IndexError(f"symbol index {idx} is not in 0..{self.n_syms - 1}")
        return &self.syms[idx]

    def add_symbol(self, double tick_size, double lot_size, *, int64_t min_lots=0,
                   double min_notional=0.0, double taker_fee=0.0, int base_asset=-1,
                   int quote_asset=-1, bint spot=True, double leverage=1.0,
                   int64_t max_order_lots=0, double max_order_notional=0.0,
                   int64_t max_position_lots=0, double max_symbol_notional=0.0,
                   double price_band=0.0, int64_t max_mid_age_ns=0) -> int:
        """A new symbol; returns its index. Values were validated by risk.limits."""
        if not (tick_size > 0 and lot_size > 0 and isfinite(tick_size) and isfinite(lot_size)):
            raise ValueError(f"tick_size and lot_size must be positive, got {tick_size}, "
                             f"{lot_size}")
        if not leverage > 0:
            raise ValueError(f"leverage must be > 0, got {leverage}")
        for a in (base_asset, quote_asset):
            if a < -1 or a >= self.n_assets:
                raise ValueError(f"asset index {a} is not -1 or in 0..{self.n_assets - 1}")
        if self.n_syms == self.cap_syms:
            self._grow_syms()
        cdef Sym* s = &self.syms[self.n_syms]
        memset(s, 0, sizeof(Sym))
        s.tick_size = tick_size
        s.lot_size = lot_size
        s.mult = tick_size * lot_size
        s.taker_fee = taker_fee
        s.min_lots = min_lots
        s.min_notional = min_notional
        s.base_asset = base_asset
        s.quote_asset = quote_asset
        s.spot = spot
        s.leverage = leverage
        s.cluster = -1
        s.cluster_sign = 1
        self.n_syms += 1
        self.set_symbol_limits(self.n_syms - 1, max_order_lots=max_order_lots,
                               max_order_notional=max_order_notional,
                               max_position_lots=max_position_lots,
                               max_symbol_notional=max_symbol_notional,
                               price_band=price_band, max_mid_age_ns=max_mid_age_ns)
        return self.n_syms - 1

    def set_symbol_limits(self, Py_ssize_t idx, *, int64_t max_order_lots=0,
                          double max_order_notional=0.0, int64_t max_position_lots=0,
                          double max_symbol_notional=0.0, double price_band=0.0,
                          int64_t max_mid_age_ns=0) -> None:
        """Replace a symbol's limits (0 disables a limit)."""
        cdef Sym* s = self._sym(idx)
        s.max_order_lots = max_order_lots
        s.max_order_notional = max_order_notional
        s.max_position_lots = max_position_lots
        s.max_symbol_notional = max_symbol_notional
        s.price_band = price_band
        s.max_mid_age_ns = max_mid_age_ns

    @property
    def n_symbols(self) -> int:
        return self.n_syms

    def add_asset(self) -> int:
        """A new balance slot (balance unknown until set_balance); returns its index."""
        if self.n_assets == self.cap_assets:
            self._grow_assets()
        self.avail[self.n_assets] = 0.0
        self.known[self.n_assets] = False
        self.n_assets += 1
        return self.n_assets - 1

    def set_portfolio_limits(self, double max_gross, double max_net) -> None:
        self.max_gross = max_gross
        self.max_net = max_net

    def set_order_rate(self, int64_t period_ns, int64_t burst) -> None:
        """period_ns between orders on average, `burst` back to back; period 0 = no limit."""
        if period_ns < 0 or burst < 1:
            raise ValueError(f"order rate: period_ns >= 0 and burst >= 1, got {period_ns}, "
                             f"{burst}")
        self.order_rate.period_ns = period_ns
        self.order_rate.burst = burst
        self.order_rate.tat = 0

    def set_cancel_rate(self, int64_t period_ns, int64_t burst) -> None:
        if period_ns < 0 or burst < 1:
            raise ValueError(f"cancel rate: period_ns >= 0 and burst >= 1, got {period_ns}, "
                             f"{burst}")
        self.cancel_rate.period_ns = period_ns
        self.cancel_rate.burst = burst
        self.cancel_rate.tat = 0

    def set_state(self, int state) -> None:
        if state < STATE_ACTIVE or state > STATE_HALTED:
            raise ValueError(f"trading state must be 0, 1 or 2, got {state}")
        self.state = state

    # -- clusters --------------------------------------------------------------------------------
    def clear_clusters(self) -> None:
        cdef Py_ssize_t i
        for i in range(self.n_syms):
            self.syms[i].cluster = -1
            self.syms[i].cluster_sign = 1
        self.n_clusters = 0

    def set_cluster(self, Py_ssize_t idx, int cluster, int sign, double limit) -> None:
        """Put a symbol in a cluster (ids 0..n_symbols-1) with its correlation sign (+1/-1) and
        set that cluster's limit (<= 0: none)."""
        cdef Sym* s = self._sym(idx)
        if cluster < 0 or cluster >= self.cap_syms:
            raise ValueError(f"cluster id {cluster} is not in 0..{self.cap_syms - 1}")
        if sign != 1 and sign != -1:
            raise ValueError(f"cluster sign must be +1 or -1, got {sign}")
        s.cluster = cluster
        s.cluster_sign = <int8_t>sign
        self.cluster_limit[cluster] = limit
        if cluster >= self.n_clusters:
            self.n_clusters = cluster + 1

    # -- market, positions, open orders, balances --------------------------------------------------
    cpdef int set_mid(self, Py_ssize_t idx, double mid, int64_t ts_ns) except -1:
        cdef Sym* s = self._sym(idx)
        s.mid = mid
        s.mid_ts = ts_ns
        return 0

    cpdef int flush_mids(self, dict pending, dict index) except -1:
        cdef object key, val, idx
        cdef Sym* s
        for key, val in pending.items():
            idx = index.get(key)
            if idx is not None:
                s = self._sym(<Py_ssize_t>idx)
                s.mid = <double>(<tuple>val)[0]
                s.mid_ts = <int64_t>(<tuple>val)[1]
        pending.clear()
        return 0

    def set_position(self, Py_ssize_t idx, int64_t lots) -> None:
        self._sym(idx).pos = lots

    def add_open(self, Py_ssize_t idx, int side, int64_t lots) -> None:
        """Working lots on a side change by `lots` (negative releases); never below 0."""
        cdef Sym* s = self._sym(idx)
        if side > 0:
            s.open_buy = s.open_buy + lots if s.open_buy + lots > 0 else 0
        else:
            s.open_sell = s.open_sell + lots if s.open_sell + lots > 0 else 0

    def apply_fill(self, Py_ssize_t idx, int side, int64_t lots) -> None:
        """A fill: the position moves by side * lots (open lots are released by the caller)."""
        self._sym(idx).pos += side * lots

    def set_balance(self, Py_ssize_t asset, double free) -> None:
        if asset < 0 or asset >= self.n_assets:
            raise IndexError(f"asset index {asset} is not in 0..{self.n_assets - 1}")
        self.avail[asset] = free
        self.known[asset] = True

    def add_balance(self, Py_ssize_t asset, double delta) -> None:
        if asset < 0 or asset >= self.n_assets:
            raise IndexError(f"asset index {asset} is not in 0..{self.n_assets - 1}")
        self.avail[asset] += delta

    def balance(self, Py_ssize_t asset):
        """The free balance, or None when it was never set."""
        if asset < 0 or asset >= self.n_assets:
            raise IndexError(f"asset index {asset} is not in 0..{self.n_assets - 1}")
        return self.avail[asset] if self.known[asset] else None

    def symbol(self, Py_ssize_t idx) -> dict:
        """A symbol's state (for tests, reports and recovery checks)."""
        cdef Sym* s = self._sym(idx)
        return {"pos": s.pos, "open_buy": s.open_buy, "open_sell": s.open_sell, "mid": s.mid,
                "mid_ts": s.mid_ts, "cluster": s.cluster, "cluster_sign": s.cluster_sign}

    def counters(self) -> list:
        """Checks per Deny code (index 0 counts the checks that passed)."""
        return [self.counts[i] for i in range(N_DENY)]

    # -- the checks -------------------------------------------------------------------------------
    cpdef bint reduces(self, Py_ssize_t idx, int side, int64_t qty,
                       int64_t replace_lots=0) noexcept:
        if idx < 0 or idx >= self.n_syms:
            return False
        cdef Sym* s = &self.syms[idx]
        if s.pos == 0 or (side > 0) == (s.pos > 0):
            return False
        cdef int64_t same = (s.open_buy if side > 0 else s.open_sell) - replace_lots
        return qty + same <= _abs64(s.pos)

    cpdef int check(self, Py_ssize_t idx, int side, int otype, int64_t qty, int64_t price,
                    int64_t trigger, bint reduce_only, int64_t now_ns,
                    int64_t replace_lots=0, int strategy_state=0) noexcept:
        cdef int r = self._check(idx, side, otype, qty, price, trigger, reduce_only, now_ns,
                                 replace_lots, strategy_state)
        self.counts[r] += 1
        return r

    cpdef void set_order_layout(self, SlotLayout layout) except *:
        cdef Py_ssize_t j
        for j, name in enumerate(("venue", "symbol", "side", "type", "qty", "price",
                                  "trigger_price", "reduce_only", "strategy_id")):
            self.oi[j] = layout.index(name)
        self.order_layout = layout

    cpdef object check_order(self, object order):
        return self.check_order_at(order, self.clock_ns())

    cdef object check_order_at(self, object order, int64_t now_ns):
        cdef SlotLayout L = self.order_layout
        cdef object i
        cdef int r
        if L is not None and type(order) is L.cls:
            venue, symbol, sid = L.get(order, self.oi[0]), L.get(order, self.oi[1]), \
                L.get(order, self.oi[8])
            side, otype, qty = L.get(order, self.oi[2]), L.get(order, self.oi[3]), \
                L.get(order, self.oi[4])
            price, trig, red = L.get(order, self.oi[5]), L.get(order, self.oi[6]), \
                L.get(order, self.oi[7])
        else:
            venue, symbol, sid = order.venue, order.symbol, order.strategy_id
            side, otype, qty = order.side, order.type, order.qty
            price, trig, red = order.price, order.trigger_price, order.reduce_only
        cdef dict by_symbol = self.symbols.get(venue)
        i = by_symbol.get(symbol) if by_symbol is not None else None
        cdef Py_ssize_t idx = -1 if i is None else <Py_ssize_t>i
        cdef int sst = 0
        if self.strategy_states:
            i = self.strategy_states.get(sid)
            if i is not None:
                sst = <int>i
        r = self._check(idx, side, otype, qty, price, trig, red, now_ns, 0, sst)
        self.counts[r] += 1
        return self.reasons[r]

    cpdef int check_cancel(self, int64_t now_ns) noexcept:
        cdef int r = DENY_NONE if _throttle_take(&self.cancel_rate, now_ns) else DENY_CANCEL_RATE
        self.counts[r] += 1
        return r

    cdef int _check(self, Py_ssize_t idx, int side, int otype, int64_t qty, int64_t price,
                    int64_t trigger, bint reduce_only, int64_t now_ns, int64_t repl,
                    int strategy_state) noexcept:
        if self.reconciling:
            return DENY_RECONCILING
        if idx < 0 or idx >= self.n_syms:
            return DENY_UNKNOWN_INSTRUMENT
        cdef int state = self.state if self.state > strategy_state else strategy_state
        if state >= STATE_HALTED:
            return DENY_HALTED
        cdef Sym* s = &self.syms[idx]
        if (side != 1 and side != -1) or qty <= 0 or qty < s.min_lots:
            return DENY_BAD_QUANTITY
        if otype < 0 or otype >= N_OTYPE:
            return DENY_BAD_PRICE
        cdef bint priced = _priced(otype)
        cdef bint triggered = _triggered(otype)
        if (priced and price <= 0) or (triggered and trigger <= 0):
            return DENY_BAD_PRICE
        cdef bint red = self.reduces(idx, side, qty, repl)
        if state == STATE_REDUCING and not red:
            return DENY_REDUCING_ONLY
        if reduce_only and not red:
            return DENY_REDUCE_ONLY_VIOLATION
        cdef double mid = s.mid
        cdef double band
        # an exit at market never waits for market data: it has no price to check
        if not (red and otype == OTYPE_MARKET):
            if mid <= 0.0:
                return DENY_NO_MARKET_DATA
            if s.max_mid_age_ns > 0 and now_ns - s.mid_ts > s.max_mid_age_ns:
                return DENY_STALE_MARKET_DATA
            if s.price_band > 0.0:
                band = s.price_band * mid
                if priced and fabs(price * s.tick_size - mid) > band:
                    return DENY_PRICE_BAND
                if triggered and fabs(trigger * s.tick_size - mid) > band:
                    return DENY_PRICE_BAND
        if s.max_order_lots > 0 and qty > s.max_order_lots:
            return DENY_MAX_ORDER_QTY
        cdef double px
        if priced:
            px = price * s.tick_size
        elif triggered:
            px = trigger * s.tick_size
        else:
            px = mid
        cdef double notional = px * <double>qty * s.lot_size
        if s.max_order_notional > 0.0 and notional > s.max_order_notional:
            return DENY_MAX_ORDER_NOTIONAL
        if s.min_notional > 0.0 and px > 0.0 and notional < s.min_notional:
            return DENY_MIN_NOTIONAL
        cdef int64_t worst
        cdef int asset
        cdef double need
        if not red:
            if side > 0:
                worst = s.pos + (s.open_buy - repl) + qty
            else:
                worst = s.pos - (s.open_sell - repl) - qty
            if s.max_position_lots > 0 and _abs64(worst) > s.max_position_lots:
                return DENY_MAX_POSITION
            if (s.max_symbol_notional > 0.0
                    and <double>_abs64(worst) * s.lot_size * mid > s.max_symbol_notional):
                return DENY_MAX_SYMBOL_EXPOSURE
            if self.max_gross > 0.0 and self._gross_after(idx, side, qty, repl) > self.max_gross:
                return DENY_MAX_GROSS_EXPOSURE
            if self.max_net > 0.0 and self._over_directional(idx, side, qty, repl, -1,
                                                             self.max_net):
                return DENY_MAX_NET_EXPOSURE
            if (s.cluster >= 0 and self.cluster_limit[s.cluster] > 0.0
                    and self._over_directional(idx, side, qty, repl, s.cluster,
                                               self.cluster_limit[s.cluster])):
                return DENY_CLUSTER_EXPOSURE
            if s.spot:
                if side > 0:
                    asset = s.quote_asset
                    need = notional * (1.0 + s.taker_fee)
                else:
                    asset = s.base_asset
                    need = <double>qty * s.lot_size
            else:
                asset = s.quote_asset
                need = notional / s.leverage
            if asset < 0 or not self.known[asset]:
                if self.require_balance:
                    return DENY_INSUFFICIENT_BALANCE
            elif self.avail[asset] < need:
                return DENY_INSUFFICIENT_BALANCE
        if not _throttle_take(&self.order_rate, now_ns):
            return DENY_ORDER_RATE
        return DENY_NONE

    cdef double _gross_after(self, Py_ssize_t idx, int side, int64_t qty,
                             int64_t repl) noexcept:
        # sum over symbols of the larger of |pos + buys| and |pos - sells|, valued at the mid
        cdef double total = 0.0
        cdef Py_ssize_t i
        cdef Sym* t
        cdef int64_t ob, os, up, dn
        for i in range(self.n_syms):
            t = &self.syms[i]
            ob = t.open_buy
            os = t.open_sell
            if i == idx:
                if side > 0:
                    ob = ob - repl + qty
                else:
                    os = os - repl + qty
            up = _abs64(t.pos + ob)
            dn = _abs64(t.pos - os)
            total += <double>(up if up > dn else dn) * t.lot_size * t.mid
        return total

    cdef bint _over_directional(self, Py_ssize_t idx, int side, int64_t qty, int64_t repl,
                                int cluster, double limit) noexcept:
        # The net exposure (cluster -1: every symbol, sign +1) or a cluster's signed sum, taken
        # in the direction this order pushes it, with every working order that pushes the same
        # way assumed filled; over the limit in that direction -> True.
        cdef int d = side if cluster < 0 else side * self.syms[idx].cluster_sign
        cdef double total = 0.0
        cdef Py_ssize_t i
        cdef Sym* t
        cdef int64_t ob, os, lots
        cdef int sg
        for i in range(self.n_syms):
            t = &self.syms[i]
            if cluster >= 0 and t.cluster != cluster:
                continue
            sg = t.cluster_sign if cluster >= 0 else 1
            ob = t.open_buy
            os = t.open_sell
            if i == idx:
                if side > 0:
                    ob = ob - repl + qty
                else:
                    os = os - repl + qty
            if d > 0:
                lots = sg * t.pos + (ob if sg > 0 else os)
            else:
                lots = sg * t.pos - (os if sg > 0 else ob)
            total += <double>lots * t.lot_size * t.mid
        return total * d > limit
