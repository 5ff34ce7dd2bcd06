# Arbitrage detectors over compiled L2 books.
#
# Both detectors re-check only what one book change can affect, walk depth (not just the top)
# with taker fees, and size the opportunity to what the books, the lot grids and the caller's
# inventory allow. Money is double in the quote (cross-venue) or start (triangular) currency;
# sizes are base units as double, rounded DOWN to the lot grids given. Books are read through
# L2Book's C accessors (walk), never through Python objects.
#
# The plain-Python reference of both is tradecore.strategies.arb.reference; tests compare them.
from libc.stdint cimport int64_t
from tradecore._fast.book cimport L2Book

cdef enum:
    MAX_DEPTH = 64           # levels read per book side per check

# ---------------------------------------------------------------------------------------------
# Cross-venue: one instrument on N venues. Buy on venue a (walk its asks), sell on venue b (walk
# its bids), while the marginal ask * (1 + fee_a) < the marginal bid * (1 - fee_b). The size is
# capped by max_qty, by the base inventory available to sell on b, by the quote available to
# buy on a, and rounded down to the coarser of the two venues' lots.
cdef class CrossVenueDetector:
    cdef readonly int n
    cdef list _books                     # L2Book or None per venue
    cdef double* fee                     # taker fee per venue (fraction)
    cdef double* lot                     # order size increment per venue (base units)
    cdef double* tick                    # order price increment per venue (0: not given)
    cdef double* base_avail              # base inventory that can be sold on the venue
    cdef double* quote_avail             # quote balance that can be spent on the venue
    cdef public double max_qty           # cap on one opportunity (base units)
    cdef public double min_edge          # minimum edge in quote currency
    cdef public double min_edge_bps      # minimum edge relative to the buy cost, in bp
    cdef public int depth                # levels read per side (<= MAX_DEPTH)
    # the last opportunity found by check() (valid when check returned True)
    cdef readonly int buy_venue
    cdef readonly int sell_venue
    cdef readonly double qty             # base units, on both venues' lot grids
    cdef readonly double buy_limit       # worst ask taken (limit price of an IOC buy)
    cdef readonly double sell_limit      # worst bid taken (limit price of an IOC sell)
    cdef readonly double buy_cost        # quote paid, fees included
    cdef readonly double sell_proceeds   # quote received, fees deducted
    cdef readonly double edge            # sell_proceeds - buy_cost
    # the same opportunity as the integers an order carries, rounded exactly as
    # core.instrument.Instrument.lots_near / ticks_near round the doubles above (so a strategy
    # does no float -> grid arithmetic in Python): qty in each venue's lots, the buy limit in
    # the buy venue's ticks rounded up, the sell limit in the sell venue's ticks rounded down.
    # 0 where set_venue was given no lot (lots) or no tick (ticks); both lots 0 when
    # buy_lots x buy lot != sell_lots x sell lot (the legs would not be the same quantity).
    cdef readonly int64_t buy_lots
    cdef readonly int64_t sell_lots
    cdef readonly int64_t buy_price_ticks
    cdef readonly int64_t sell_price_ticks
    cdef readonly int64_t checks         # pairs examined
    cdef readonly int64_t walks          # pairs whose tops crossed after fees (depth walked)
    cdef int64_t tt[MAX_DEPTH]           # scratch for L2Book.walk
    cdef int64_t qq[MAX_DEPTH]
    cdef double apx[MAX_DEPTH]           # the buy venue's asks, price and size, best first
    cdef double asz[MAX_DEPTH]
    cdef double bpx[MAX_DEPTH]           # the sell venue's bids
    cdef double bsz[MAX_DEPTH]

    cpdef bint check(self, int changed)
    cpdef bint check_all(self)
    # the last opportunity as (buy_venue, sell_venue, buy_lots, sell_lots, buy_price_ticks,
    # sell_price_ticks, edge): the attributes above in one call (a strategy on the tick-to-order
    # path reads them all; seven attribute reads cost ~1k instructions more)
    cpdef tuple orders(self)
    cdef void _grid(self) noexcept
    cdef bint _pair(self, int a, int b, L2Book ba, L2Book bb)
    cdef double _optimum(self, Py_ssize_t na, Py_ssize_t nb, double fa, double fb, double cap,
                         double quote_left, bint* ran_out) noexcept


# ---------------------------------------------------------------------------------------------
# Triangular: markets of one venue, cycles start -> X -> Y -> start over three markets. A leg
# converts its input currency into its output currency by buying the base (walk asks, spend
# quote) or selling it (walk bids, spend base); the fee is taken from what the leg receives.
# The optimal start amount is found by walking the three books together while the product of
# the marginal rates exceeds 1 (the output is concave in the input, so that is the optimum); the
# legs are then re-walked with every order size rounded down to its market's lot, and the edge
# is what comes back in the start currency minus what was spent (intermediate dust counts as 0).
cdef struct Leg:
    int market
    int buy                              # 1: buy base with quote, 0: sell base for quote

cdef class TriangularDetector:
    cdef readonly int n_markets
    cdef list _books
    cdef double* fee
    cdef double* lot
    cdef double* min_qty
    cdef int* base_ccy
    cdef int* quote_ccy
    cdef Leg* cyc                        # 3 legs per cycle
    cdef readonly int n_cycles
    cdef int* by_market                  # cycles per market, CSR layout
    cdef int* by_market_start
    cdef public double max_start         # cap on the amount of start currency per cycle
    cdef public double min_edge          # in start currency
    cdef public int depth
    cdef readonly int start_ccy
    # best opportunity of the last check()
    cdef readonly int cycle
    cdef readonly double start_amount    # start currency spent on leg 1
    cdef readonly double end_amount      # start currency received from leg 3
    cdef readonly double edge
    cdef double leg_qty_[3]              # order size of each leg, base units
    cdef double leg_limit_[3]            # worst price taken on each leg
    cdef readonly int64_t checks
    cdef int64_t tt[MAX_DEPTH]           # scratch for L2Book.walk
    cdef int64_t qq[MAX_DEPTH]
    cdef double px[3][MAX_DEPTH]         # each leg's levels (asks to buy, bids to sell)
    cdef double sz[3][MAX_DEPTH]
    cdef double rt[3][MAX_DEPTH]         # each level's marginal rate, fee included
    cdef double cin[3][MAX_DEPTH]        # each level's size in the leg's input currency
    cdef double unit[3][MAX_DEPTH]       # input units per base unit (price for a buy, else 1)
    cdef Py_ssize_t nlev[3]

    cpdef bint check(self, int market)
    cpdef bint check_all(self)
    cdef bint _cycle(self, int c, double* best_edge)
    cdef double _optimum(self, int* buy, double* f, bint* ran_out) noexcept
