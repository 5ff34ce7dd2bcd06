# cython: freethreading_compatible = False
"""Arbitrage detectors (see arb.pxd for the definitions they implement)."""
cimport cython
from libc.math cimport ceil, fabs, floor, fmin, nearbyint
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free
from cpython.ref cimport PyObject
from tradecore._fast.book cimport L2Book

cdef double EPS = 1e-12          # relative slack when comparing sizes built from sums of doubles
cdef double DEEP_MARGIN = 1e-3  # triangular: tops mispriced by more than this walk deep at once


cdef inline double _floor_to(double x, double lot) noexcept:
    """x rounded down to a multiple of lot (lot > 0); a hair of slack absorbs the error of
    sums of doubles that are exact multiples in decimal."""
    if lot <= 0.0:
        return x
    return floor(x / lot + 1e-9) * lot


cdef inline int64_t _near(double x, double step, bint up) noexcept:
    """x / step as an integer, exactly as Instrument.lots_near / ticks_near compute it:
    the nearest integer when within float error of it (nearbyint under the default rounding
    mode rounds halves to even, as Python's round does), else down (up: up); 0 without a
    step."""
    cdef double t, r
    if step <= 0.0:
        return 0
    t = x / step
    r = nearbyint(t)
    if fabs(t - r) <= 1e-9 * (fabs(t) + 1.0):
        return <int64_t>r
    return <int64_t>(ceil(t) if up else floor(t))


@cython.final
cdef class CrossVenueDetector:

    def __cinit__(self, int n_venues):
        if n_venues < 2 or n_venues > 64:
            raise ValueError(f"n_venues must be in [2, 64], got {n_venues}")
        self.n = n_venues
        self._books = [None] * n_venues
        self.fee = <double*>calloc(n_venues, sizeof(double))
        self.lot = <double*>calloc(n_venues, sizeof(double))
        self.tick = <double*>calloc(n_venues, sizeof(double))
        self.base_avail = <double*>calloc(n_venues, sizeof(double))
        self.quote_avail = <double*>calloc(n_venues, sizeof(double))
        if not (self.fee and self.lot and self.tick and self.base_avail and self.quote_avail):
            raise MemoryError()
        for i in range(n_venues):
            self.base_avail[i] = 1e300
            self.quote_avail[i] = 1e300
        self.max_qty = 1e300
        self.min_edge = 0.0
        self.min_edge_bps = 0.0
        self.depth = 20
        self.buy_venue = -1
        self.sell_venue = -1

    def __dealloc__(self):
        free(self.fee)
        free(self.lot)
        free(self.tick)
        free(self.base_avail)
        free(self.quote_avail)

    def _venue(self, int i):
        if i < 0 or i >= self.n:
            raise IndexError(f"venue index {i} out of range [0, {self.n})")

    def set_venue(self, int i, L2Book book, double taker_fee, double lot, double tick=0.0):
        """Attach venue i's book (None detaches), its taker fee (fraction), lot (base units)
        and the order price tick (0: no integer prices are computed for it)."""
        self._venue(i)
        if not (0.0 <= taker_fee < 1.0):
            raise ValueError(f"venue {i}: taker_fee must be in [0, 1), got {taker_fee}")
        if not (lot >= 0.0):
            raise ValueError(f"venue {i}: lot must be >= 0, got {lot}")
        if not (tick >= 0.0):
            raise ValueError(f"venue {i}: tick must be >= 0, got {tick}")
        self._books[i] = book
        self.fee[i] = taker_fee
        self.lot[i] = lot
        self.tick[i] = tick

    def set_inventory(self, int i, double base_available, double quote_available):
        """What can be sold (base) and spent (quote) on venue i; inf for no limit."""
        self._venue(i)
        if base_available < 0.0 or quote_available < 0.0:
            raise ValueError(f"venue {i}: inventory must be >= 0, got base {base_available}, "
                             f"quote {quote_available}")
        self.base_avail[i] = base_available
        self.quote_avail[i] = quote_available

    cpdef bint check(self, int changed):
        """Re-check every pair that includes venue `changed`, both ways; True when an
        opportunity passes the minimum edge (the best one is in the readonly fields)."""
        cdef int j
        cdef L2Book bc, bj
        cdef bint found = False
        cdef double best = -1e300
        cdef int bv = -1, sv = -1
        cdef double q = 0, bl = 0, sl = 0, bc_ = 0, sp = 0
        if changed < 0 or changed >= self.n:
            return False
        o = self._books[changed]
        if o is None:
            return False
        bc = <L2Book>o
        if not bc.valid:
            return False
        for j in range(self.n):
            if j == changed:
                continue
            o = self._books[j]
            if o is None:
                continue
            bj = <L2Book>o
            if not bj.valid:
                continue
            if self._pair(changed, j, bc, bj) and self.edge > best:
                best = self.edge
                bv, sv, q, bl, sl, bc_, sp = (self.buy_venue, self.sell_venue, self.qty,
                                             self.buy_limit, self.sell_limit, self.buy_cost,
                                             self.sell_proceeds)
                found = True
            if self._pair(j, changed, bj, bc) and self.edge > best:
                best = self.edge
                bv, sv, q, bl, sl, bc_, sp = (self.buy_venue, self.sell_venue, self.qty,
                                             self.buy_limit, self.sell_limit, self.buy_cost,
                                             self.sell_proceeds)
                found = True
        if found:
            self.buy_venue, self.sell_venue, self.qty = bv, sv, q
            self.buy_limit, self.sell_limit = bl, sl
            self.buy_cost, self.sell_proceeds, self.edge = bc_, sp, best
            self._grid()
        return found

    cdef void _grid(self) noexcept:
        """The integer lots and ticks of the opportunity in the fields (arb.pxd)."""
        self.buy_lots = _near(self.qty, self.lot[self.buy_venue], False)
        self.sell_lots = _near(self.qty, self.lot[self.sell_venue], False)
        if self.buy_lots * self.lot[self.buy_venue] != \
                self.sell_lots * self.lot[self.sell_venue]:
            self.buy_lots = self.sell_lots = 0      # the legs would not be the same quantity
        self.buy_price_ticks = _near(self.buy_limit, self.tick[self.buy_venue], True)
        self.sell_price_ticks = _near(self.sell_limit, self.tick[self.sell_venue], False)

    cpdef tuple orders(self):
        """See arb.pxd."""
        return (self.buy_venue, self.sell_venue, self.buy_lots, self.sell_lots,
                self.buy_price_ticks, self.sell_price_ticks, self.edge)

    cpdef bint check_all(self):
        """Every ordered pair (a start-up scan)."""
        cdef int i
        cdef bint found = False
        cdef double best = -1e300
        cdef tuple keep = None
        for i in range(self.n):
            if self.check(i) and self.edge > best:
                best = self.edge
                keep = (self.buy_venue, self.sell_venue, self.qty, self.buy_limit,
                        self.sell_limit, self.buy_cost, self.sell_proceeds, self.edge)
                found = True
        if found:
            (self.buy_venue, self.sell_venue, self.qty, self.buy_limit, self.sell_limit,
             self.buy_cost, self.sell_proceeds, self.edge) = keep
            self._grid()
        return found

    cdef double _optimum(self, Py_ssize_t na, Py_ssize_t nb, double fa, double fb, double cap,
                         double quote_left, bint* ran_out) noexcept:
        """The continuous optimum: every unit while the marginal buy (with fee) is below the
        marginal sell (with fee), within the caps. ran_out: stopped for lack of loaded levels."""
        cdef Py_ssize_t i = 0, j = 0, guard = na + nb + 3
        cdef double filled = 0.0, ra = self.asz[0], rb = self.bsz[0], pa, pb, step
        ran_out[0] = False
        # every pass either exhausts a level or hits a cap (then the next pass ends the loop):
        # `guard` bounds it even if float rounding were to stall both
        while filled < cap and quote_left > 0.0 and guard > 0:
            guard -= 1
            if i >= na or j >= nb:
                ran_out[0] = True
                break
            pa = self.apx[i] * (1.0 + fa)
            pb = self.bpx[j] * (1.0 - fb)
            if pa >= pb:
                break
            step = ra if ra < rb else rb
            if cap - filled < step:
                step = cap - filled
            if step * pa > quote_left:
                step = quote_left / pa
            if step <= 1e-15 * (filled + 1.0):
                break           # what is left is float dust: adding it would not move `filled`
            filled += step
            quote_left -= step * pa
            ra -= step
            rb -= step
            if ra <= EPS * (filled + 1.0):
                i += 1
                if i < na:
                    ra = self.asz[i]
            if rb <= EPS * (filled + 1.0):
                j += 1
                if j < nb:
                    rb = self.bsz[j]
        return filled

    cdef bint _pair(self, int a, int b, L2Book ba, L2Book bb):
        """Buy on a, sell on b. Leaves the result in the fields, True when it passes."""
        cdef int64_t t1, q1, t2, q2
        cdef double fa = self.fee[a], fb = self.fee[b]
        cdef double ask, bid, filled, cap, lot, qr, cost, proceeds, left, take, last_a, last_b
        cdef Py_ssize_t na, nb, i, j, depth, n
        cdef bint ran_out
        self.checks += 1
        if not ba.best(1, &t1, &q1) or not bb.best(0, &t2, &q2):
            return False
        ask = ba._price(t1)
        bid = bb._price(t2)
        if ask * (1.0 + fa) >= bid * (1.0 - fb):
            return False
        self.walks += 1
        depth = self.depth if 0 < self.depth <= MAX_DEPTH else MAX_DEPTH
        cap = self.max_qty
        if self.base_avail[b] < cap:
            cap = self.base_avail[b]
        # most opportunities end within a few levels: load 4, reload the full depth only when
        # the walk ran past them
        n = 4 if depth > 4 else depth
        while True:
            na = ba.walk(1, n, self.tt, self.qq)
            for i in range(na):
                self.apx[i] = ba._price(self.tt[i])
                self.asz[i] = ba._size(self.qq[i])
            nb = bb.walk(0, n, self.tt, self.qq)
            for j in range(nb):
                self.bpx[j] = bb._price(self.tt[j])
                self.bsz[j] = bb._size(self.qq[j])
            filled = self._optimum(na, nb, fa, fb, cap, self.quote_avail[a], &ran_out)
            if not ran_out or n >= depth or (na < n and nb < n):
                break
            n = depth
        # down to the coarser lot: no unit beyond the continuous optimum is profitable
        lot = self.lot[a] if self.lot[a] > self.lot[b] else self.lot[b]
        qr = _floor_to(filled, lot)
        if qr <= 0.0:
            return False
        # the cost and proceeds of exactly qr, walking each side
        cost = 0.0
        left = qr
        last_a = 0.0
        i = 0
        while i < na and left > EPS * qr:
            take = self.asz[i] if self.asz[i] < left else left
            last_a = self.apx[i]
            cost += take * last_a
            left -= take
            i += 1
        proceeds = 0.0
        left = qr
        last_b = 0.0
        j = 0
        while j < nb and left > EPS * qr:
            take = self.bsz[j] if self.bsz[j] < left else left
            last_b = self.bpx[j]
            proceeds += take * last_b
            left -= take
            j += 1
        cost *= 1.0 + fa
        proceeds *= 1.0 - fb
        self.buy_venue = a
        self.sell_venue = b
        self.qty = qr
        self.buy_limit = last_a
        self.sell_limit = last_b
        self.buy_cost = cost
        self.sell_proceeds = proceeds
        self.edge = proceeds - cost
        return self.edge > 0.0 and self.edge >= self.min_edge and \
            self.edge * 1e4 >= self.min_edge_bps * cost


@cython.final
cdef class TriangularDetector:

    def __cinit__(self, int n_markets):
        if n_markets < 3 or n_markets > 100000:
            raise ValueError(f"n_markets must be in [3, 100000], got {n_markets}")
        self.n_markets = n_markets
        self._books = [None] * n_markets
        self.fee = <double*>calloc(n_markets, sizeof(double))
        self.lot = <double*>calloc(n_markets, sizeof(double))
        self.min_qty = <double*>calloc(n_markets, sizeof(double))
        self.base_ccy = <int*>calloc(n_markets, sizeof(int))
        self.quote_ccy = <int*>calloc(n_markets, sizeof(int))
        self.by_market_start = <int*>calloc(n_markets + 1, sizeof(int))
        if not (self.fee and self.lot and self.min_qty and self.base_ccy and self.quote_ccy
                and self.by_market_start):
            raise MemoryError()
        for m in range(n_markets):
            self.base_ccy[m] = -1
            self.quote_ccy[m] = -1
        self.max_start = 1e300
        self.min_edge = 0.0
        self.depth = 20
        self.start_ccy = -1
        self.cycle = -1

    def __dealloc__(self):
        free(self.fee)
        free(self.lot)
        free(self.min_qty)
        free(self.base_ccy)
        free(self.quote_ccy)
        free(self.cyc)
        free(self.by_market)
        free(self.by_market_start)

    def set_market(self, int m, L2Book book, int base, int quote, double taker_fee,
                   double lot, double min_qty=0.0):
        """Market m: its book, base and quote currency ids (>= 0), taker fee, lot, min size."""
        if m < 0 or m >= self.n_markets:
            raise IndexError(f"market index {m} out of range [0, {self.n_markets})")
        if base < 0 or quote < 0 or base == quote:
            raise ValueError(f"market {m}: currencies must be distinct ids >= 0, got "
                             f"{base}/{quote}")
        if not (0.0 <= taker_fee < 1.0):
            raise ValueError(f"market {m}: taker_fee must be in [0, 1), got {taker_fee}")
        if not (lot >= 0.0) or not (min_qty >= 0.0):
            raise ValueError(f"market {m}: lot and min_qty must be >= 0, got {lot}, {min_qty}")
        self._books[m] = book
        self.base_ccy[m] = base
        self.quote_ccy[m] = quote
        self.fee[m] = taker_fee
        self.lot[m] = lot
        self.min_qty[m] = min_qty

    def set_book(self, int m, L2Book book):
        if m < 0 or m >= self.n_markets:
            raise IndexError(f"market index {m} out of range [0, {self.n_markets})")
        self._books[m] = book

    def build(self, int start_ccy):
        """Enumerate every cycle start -> X -> Y -> start over three distinct markets (both
        directions of each triangle are separate cycles). Returns the number of cycles."""
        cycles = []
        n = self.n_markets
        for m1 in range(n):
            if self.base_ccy[m1] < 0:
                continue
            for d1 in (1, 0):
                x = self._out(m1, d1, start_ccy)
                if x < 0:
                    continue
                for m2 in range(n):
                    if m2 == m1 or self.base_ccy[m2] < 0:
                        continue
                    for d2 in (1, 0):
                        y = self._out(m2, d2, x)
                        if y < 0 or y == start_ccy:
                            continue
                        for m3 in range(n):
                            if m3 == m1 or m3 == m2 or self.base_ccy[m3] < 0:
                                continue
                            for d3 in (1, 0):
                                if self._out(m3, d3, y) == start_ccy:
                                    cycles.append(((m1, d1), (m2, d2), (m3, d3)))
        free(self.cyc)
        free(self.by_market)
        self.cyc = <Leg*>calloc(max(1, 3 * len(cycles)), sizeof(Leg))
        per = [[] for _ in range(n)]
        for c, legs in enumerate(cycles):
            for k, (m, d) in enumerate(legs):
                self.cyc[3 * c + k].market = m
                self.cyc[3 * c + k].buy = d
                if c not in per[m]:
                    per[m].append(c)
        total = sum(len(p) for p in per)
        self.by_market = <int*>calloc(max(1, total), sizeof(int))
        if not self.cyc or not self.by_market:
            raise MemoryError()
        k = 0
        for m in range(n):
            self.by_market_start[m] = k
            for c in per[m]:
                self.by_market[k] = c
                k += 1
        self.by_market_start[n] = k
        self.n_cycles = len(cycles)
        self.start_ccy = start_ccy
        return self.n_cycles

    def _out(self, int m, int buy, int ccy_in):
        """Currency a leg yields from ccy_in, or -1 when the leg cannot take ccy_in."""
        if buy:
            return self.base_ccy[m] if self.quote_ccy[m] == ccy_in else -1
        return self.quote_ccy[m] if self.base_ccy[m] == ccy_in else -1

    def cycle_legs(self, int c):
        """[(market, buy), ...] of cycle c."""
        if c < 0 or c >= self.n_cycles:
            raise IndexError(f"cycle {c} out of range [0, {self.n_cycles})")
        return [(self.cyc[3 * c + k].market, bool(self.cyc[3 * c + k].buy)) for k in range(3)]

    @property
    def leg_qty(self):
        return (self.leg_qty_[0], self.leg_qty_[1], self.leg_qty_[2])

    @property
    def leg_limit(self):
        return (self.leg_limit_[0], self.leg_limit_[1], self.leg_limit_[2])

    cpdef bint check(self, int market):
        """Re-evaluate the cycles that use `market` (both directions); True when the best one
        passes min_edge (its figures are in the readonly fields; _cycle writes them only when
        it beats the best so far, so the fields end up holding the best)."""
        cdef int k, c
        cdef double best = -1e300
        cdef int bc = -1
        if market < 0 or market >= self.n_markets or self.n_cycles == 0:
            return False
        for k in range(self.by_market_start[market], self.by_market_start[market + 1]):
            c = self.by_market[k]
            if self._cycle(c, &best):
                bc = c
        if bc < 0:
            return False
        self.cycle = bc
        self.edge = best
        return True

    cpdef bint check_all(self):
        """Every cycle (a start-up scan)."""
        cdef int c
        cdef double best = -1e300
        cdef int bc = -1
        for c in range(self.n_cycles):
            if self._cycle(c, &best):
                bc = c
        if bc < 0:
            return False
        self.cycle = bc
        self.edge = best
        return True

    cdef double _optimum(self, int* buy, double* f, bint* ran_out) noexcept:
        """The continuous optimum of the loaded levels: walk the three legs together while the
        product of their marginal rates exceeds 1. Returns the start amount;
        ran_out: stopped for lack of loaded levels.

        Each level's marginal rate and its capacity in the leg's input currency (quote for a
        buy, base for a sell) were computed once when it was loaded (`rt`, `cin`), so a step
        of the walk reads them and multiplies: what is left of each leg's level is kept in
        input units, and the only division left is the one that sizes a step by the leg that
        limits it."""
        cdef double rem[3]          # input units left at the current level of each leg
        cdef Py_ssize_t i0 = 0, i1 = 0, i2 = 0
        cdef Py_ssize_t n0 = self.nlev[0], n1 = self.nlev[1], n2 = self.nlev[2]
        cdef double s = 0.0, step, x1, x2, r0, r1, r2
        cdef double max_start = self.max_start
        cdef Py_ssize_t guard = n0 + n1 + n2 + 3
        ran_out[0] = False
        rem[0] = self.cin[0][0]
        rem[1] = self.cin[1][0]
        rem[2] = self.cin[2][0]
        while s < max_start and guard > 0:
            guard -= 1
            if i0 >= n0 or i1 >= n1 or i2 >= n2:
                ran_out[0] = True
                break
            r0 = self.rt[0][i0]
            r1 = self.rt[1][i1]
            r2 = self.rt[2][i2]
            x1 = r0                   # leg 1's input per start unit
            x2 = r0 * r1              # leg 2's
            if x2 * r2 <= 1.0:
                break
            # the step: the start amount that exhausts the first of the three current levels
            step = fmin(fmin(max_start - s, rem[0]), fmin(rem[1] / x1, rem[2] / x2))
            if step <= 1e-15 * (s + 1.0):
                break           # float dust (it would not move s): the optimum is reached
            s += step
            rem[0] -= step
            rem[1] -= step * x1
            rem[2] -= step * x2
            if rem[0] <= EPS * (self.cin[0][i0] + self.unit[0][i0]):
                i0 += 1
                if i0 < n0:
                    rem[0] = self.cin[0][i0]
            if rem[1] <= EPS * (self.cin[1][i1] + self.unit[1][i1]):
                i1 += 1
                if i1 < n1:
                    rem[1] = self.cin[1][i1]
            if rem[2] <= EPS * (self.cin[2][i2] + self.unit[2][i2]):
                i2 += 1
                if i2 < n2:
                    rem[2] = self.cin[2][i2]
        return s

    cdef bint _cycle(self, int c, double* best_edge):
        """Evaluate cycle c; when its edge passes min_edge and beats *best_edge, store it in the
        fields, update *best_edge and return True."""
        cdef PyObject* bk[3]        # borrowed: self._books keeps them alive
        cdef int mk[3]
        cdef int buy[3]
        cdef double f[3]
        cdef double rate[3]
        cdef int64_t tq, qq
        cdef int k
        cdef Py_ssize_t i, n, depth
        cdef double s, amount, used, got, qty, lim, p, take, left, start_used
        cdef double lim_k[3]
        cdef double qty_k[3]
        cdef double one_f
        cdef Py_ssize_t conv, prev_n
        cdef bint ran_out, short
        self.checks += 1
        for k in range(3):
            mk[k] = self.cyc[3 * c + k].market
            buy[k] = self.cyc[3 * c + k].buy
            o = self._books[mk[k]]
            if o is None:
                return False
            bk[k] = <PyObject*>o
            if not (<L2Book>bk[k]).valid:
                return False
            f[k] = self.fee[mk[k]]
            # quick reject on the tops: the product of the best marginal rates must exceed 1
            if not (<L2Book>bk[k]).best(1 if buy[k] else 0, &tq, &qq):
                return False
            p = (<L2Book>bk[k])._price(tq)
            rate[k] = (1.0 - f[k]) / p if buy[k] else p * (1.0 - f[k])
        if rate[0] * rate[1] * rate[2] <= 1.0:
            return False
        depth = self.depth if 0 < self.depth <= MAX_DEPTH else MAX_DEPTH
        # 1. the continuous optimum, over 4 levels per book first and the full depth only when
        #    the walk runs past them; when the tops alone are mispriced by more than
        #    DEEP_MARGIN the walk will go deep, and the full depth is loaded at once (the
        #    result does not depend on this: only how many levels are read twice)
        n = 4 if depth > 4 and rate[0] * rate[1] * rate[2] <= 1.0 + DEEP_MARGIN else depth
        prev_n = 0
        for k in range(3):
            self.nlev[k] = 0
        while True:
            short = True
            for k in range(3):
                if self.nlev[k] < prev_n:
                    continue        # the book had fewer levels than asked: all are loaded
                conv = self.nlev[k]     # the top levels already converted (the book is the same)
                self.nlev[k] = (<L2Book>bk[k]).walk(1 if buy[k] else 0, n, self.tt, self.qq)
                if self.nlev[k] == n:
                    short = False
                one_f = 1.0 - f[k]
                for i in range(conv, self.nlev[k]):
                    p = (<L2Book>bk[k])._price(self.tt[i])
                    self.px[k][i] = p
                    self.sz[k][i] = (<L2Book>bk[k])._size(self.qq[i])
                    if buy[k]:          # quote in, base out
                        self.rt[k][i] = one_f / p
                        self.cin[k][i] = self.sz[k][i] * p
                        self.unit[k][i] = p
                    else:               # base in, quote out
                        self.rt[k][i] = p * one_f
                        self.cin[k][i] = self.sz[k][i]
                        self.unit[k][i] = 1.0
            s = self._optimum(buy, f, &ran_out)
            if not ran_out or n >= depth or short:
                break
            prev_n = n
            n = depth
        if s <= 0.0:
            return False
        # 2. the orders: each leg's size rounded down to its lot, re-walked from the top
        amount = s
        start_used = 0.0
        for k in range(3):
            used = 0.0
            got = 0.0
            lim = 0.0
            if buy[k]:
                # base affordable with `amount` quote, down to the lot, then its exact cost
                left = amount
                qty = 0.0
                for i in range(self.nlev[k]):
                    p = self.px[k][i]
                    take = self.sz[k][i]
                    if take * p > left:
                        qty += left / p
                        break
                    qty += take
                    left -= take * p
                qty = _floor_to(qty, self.lot[mk[k]])
                left = qty
                for i in range(self.nlev[k]):
                    if left <= EPS * qty:
                        break
                    p = self.px[k][i]
                    take = self.sz[k][i] if self.sz[k][i] < left else left
                    used += take * p
                    lim = p
                    left -= take
                got = qty * (1.0 - f[k])
            else:
                qty = _floor_to(amount, self.lot[mk[k]])
                left = qty
                for i in range(self.nlev[k]):
                    if left <= EPS * qty:
                        break
                    p = self.px[k][i]
                    take = self.sz[k][i] if self.sz[k][i] < left else left
                    got += take * p
                    lim = p
                    left -= take
                used = qty
                got *= 1.0 - f[k]
            if qty <= 0.0 or qty < self.min_qty[mk[k]] or left > EPS * qty + 1e-15:
                return False
            if k == 0:
                start_used = used
            qty_k[k] = qty
            lim_k[k] = lim
            amount = got
        s = amount - start_used
        if s <= 0.0 or s < self.min_edge or s <= best_edge[0]:
            return False
        best_edge[0] = s
        self.start_amount = start_used
        self.end_amount = amount
        for k in range(3):
            self.leg_qty_[k] = qty_k[k]
            self.leg_limit_[k] = lim_k[k]
        return True
