# The pre-trade risk gate kernel: one call per order, before anything leaves the process.
#
# What it holds. Per symbol (an index handed out by add_symbol), one `Sym` record: the grid
# (tick and lot size as floats, for money only), the latest mid and its time, the position and
# the open (working) buy and sell lots, the asset indexes of its base and quote balances, the
# correlation cluster it belongs to, and its limits. Per asset, the free balance the gate believes
# is available. Portfolio limits (gross, net), two GCRA throttles (orders, cancels), the trading
# state, the reconciling flag and one denial counter per reason.
#
# What a check touches. `check`: its arguments (all C scalars) and these arrays; no Python object
# is created or read. `check_order` (the facade's path) also reads the Order's fields, looks the
# symbol up in a dict of dicts and calls the clock; it creates nothing. The portfolio sums
# (gross, net, cluster) walk every symbol: a few ns per symbol, which keeps them exact without
# re-marking totals on every mid change.
#
# Units. Prices are int ticks and quantities int lots (core.instrument.Instrument); money is
# float quote currency (every symbol's quote is taken as the account currency); times are int64
# ns since the epoch.
#
# The order of the checks, the reduce rule and the throttle are specified in docs/risk.md and in
# tradecore.risk.reference (the plain-Python reference the tests hold this kernel against).
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t
from tradecore._fast.slots cimport SlotLayout

# -- enums mirrored from tradecore.core.orders (tests assert they are equal) -------------------
cpdef enum State:
    STATE_ACTIVE = 0
    STATE_REDUCING = 1
    STATE_HALTED = 2

cpdef enum Deny:
    DENY_NONE = 0
    DENY_HALTED = 1
    DENY_REDUCING_ONLY = 2
    DENY_RECONCILING = 3
    DENY_UNKNOWN_INSTRUMENT = 4
    DENY_BAD_QUANTITY = 5
    DENY_BAD_PRICE = 6
    DENY_PRICE_BAND = 7
    DENY_NO_MARKET_DATA = 8
    DENY_MAX_ORDER_QTY = 9
    DENY_MAX_ORDER_NOTIONAL = 10
    DENY_MIN_NOTIONAL = 11
    DENY_MAX_POSITION = 12
    DENY_MAX_SYMBOL_EXPOSURE = 13
    DENY_MAX_GROSS_EXPOSURE = 14
    DENY_MAX_NET_EXPOSURE = 15
    DENY_INSUFFICIENT_BALANCE = 16
    DENY_ORDER_RATE = 17
    DENY_CANCEL_RATE = 18
    DENY_REDUCE_ONLY_VIOLATION = 19
    DENY_CLUSTER_EXPOSURE = 20
    DENY_DUPLICATE_ID = 21
    DENY_STALE_MARKET_DATA = 22
    DENY_JOURNAL_UNWRITABLE = 23          # set by the execution engine, never by the kernel

cpdef enum OType:
    OTYPE_MARKET = 0
    OTYPE_LIMIT = 1
    OTYPE_STOP_MARKET = 2
    OTYPE_STOP_LIMIT = 3
    OTYPE_TAKE_PROFIT = 4
    OTYPE_TAKE_PROFIT_LIMIT = 5
    OTYPE_TRAILING_STOP = 6

cdef enum:
    N_DENY = 24            # size of the counter array (DenyReason values 0..23; the kernel never
                           # sets JOURNAL_UNWRITABLE: the engine does, after the check)
    N_OTYPE = 7

# Side is core.events.BUY (+1) / SELL (-1): it multiplies lots into positions.


cdef struct Sym:
    # grid and fees
    double tick_size             # price of one tick
    double lot_size              # base units of one lot
    double mult                  # tick_size * lot_size: quote money of one tick x one lot
    double taker_fee             # fraction, added to the money a buy reserves
    int64_t min_lots             # venue minimum quantity (0 = none)
    double min_notional          # venue minimum order value (0 = none)
    # market
    double mid                   # float price; 0 = never seen
    int64_t mid_ts               # ns
    # exposure
    int64_t pos                  # signed lots
    int64_t open_buy             # lots of working buy orders (leaves)
    int64_t open_sell            # lots of working sell orders (leaves)
    # balances: asset indexes (-1 = none); spot buys spend quote, spot sells spend base,
    # derivatives spend quote margin = notional / leverage on either side
    int32_t base_asset
    int32_t quote_asset
    bint spot
    double leverage
    # correlation cluster (-1 = none) and the sign of this symbol's correlation with the
    # cluster's anchor (+1/-1): negatively correlated members offset each other
    int32_t cluster
    int8_t cluster_sign
    # limits; 0 (or <= 0) disables a limit
    int64_t max_order_lots
    double max_order_notional
    int64_t max_position_lots
    double max_symbol_notional
    double price_band            # fraction of mid: |price - mid| <= band * mid
    int64_t max_mid_age_ns       # older mid -> STALE_MARKET_DATA


# GCRA ("virtual scheduling") throttle on int64 ns: `period_ns` per event on average, up to
# `burst` back to back. Conforming iff now >= tat - (burst - 1) * period; then
# tat = max(tat, now) + period. period_ns == 0 disables it.
cdef struct Throttle:
    int64_t period_ns
    int64_t burst
    int64_t tat


cdef class RiskKernel:
    cdef Sym* syms
    cdef Py_ssize_t n_syms
    cdef Py_ssize_t cap_syms
    cdef double* avail             # free balance per asset
    cdef bint* known               # balance ever set for the asset
    cdef Py_ssize_t n_assets
    cdef Py_ssize_t cap_assets
    cdef double* cluster_limit     # per cluster id; <= 0 = no limit
    cdef Py_ssize_t n_clusters
    cdef Throttle order_rate
    cdef Throttle cancel_rate
    cdef uint64_t counts[N_DENY]
    cdef readonly int state        # State
    cdef public bint reconciling
    cdef public bint require_balance    # an asset with no balance set denies instead of passing
    cdef readonly double max_gross
    cdef readonly double max_net
    # For check_order (the facade's one-call path): {venue: {symbol: index}}, {strategy_id:
    # State} of strategies held stricter than the gate, the clock (a callable giving int ns),
    # and the objects returned per Deny code (the facade puts DenyReason members here).
    cdef public dict symbols
    cdef public dict strategy_states
    cdef public object clock_ns
    cdef public tuple reasons
    # check_order reads an Order of this layout's class by slot offset (set_order_layout;
    # anything else, or no layout, by attribute): indices of venue, symbol, side, type, qty,
    # price, trigger_price, reduce_only, strategy_id in the layout
    cdef SlotLayout order_layout
    cdef Py_ssize_t oi[9]

    # -- the checks (hot path) -------------------------------------------------------------------
    # One new order (or a replacement of a working one: replace_lots = the leaves of the order it
    # replaces, taken out of the open lots for this check). strategy_state raises the effective
    # state for this order's strategy (max of the two). Returns a Deny code; counts it.
    cpdef int check(self, Py_ssize_t idx, int side, int otype, int64_t qty, int64_t price,
                    int64_t trigger, bint reduce_only, int64_t now_ns,
                    int64_t replace_lots=*, int strategy_state=*) noexcept
    # The same for an Order-like object (reads venue, symbol, side, type, qty, price,
    # trigger_price, reduce_only, strategy_id); time from clock_ns(); returns reasons[code].
    cpdef object check_order(self, object order)
    # check_order at a time the caller has read (the compiled submit's one clock read)
    cdef object check_order_at(self, object order, int64_t now_ns)
    cpdef void set_order_layout(self, SlotLayout layout) except *
    # One cancel: only the cancel-rate throttle can refuse it (HALTED allows cancels).
    cpdef int check_cancel(self, int64_t now_ns) noexcept
    # A new mid (float price) and its time, from the book (once per book change).
    cpdef int set_mid(self, Py_ssize_t idx, double mid, int64_t ts_ns) except -1
    # set_mid for every {key: (mid, ts_ns)} of `pending` whose key `index` maps to a symbol
    # index (others are ignored), then pending.clear(): the facade's noted mids, one C call.
    cpdef int flush_mids(self, dict pending, dict index) except -1
    # Would this order reduce the position (the reduce rule)? Pure, no counting.
    cpdef bint reduces(self, Py_ssize_t idx, int side, int64_t qty,
                       int64_t replace_lots=*) noexcept

    # -- internals ---------------------------------------------------------------------------------
    cdef int _check(self, Py_ssize_t idx, int side, int otype, int64_t qty, int64_t price,
                    int64_t trigger, bint reduce_only, int64_t now_ns, int64_t replace_lots,
                    int strategy_state) noexcept
    cdef bint _over_directional(self, Py_ssize_t idx, int side, int64_t qty, int64_t repl,
                                int cluster, double limit) noexcept
    cdef double _gross_after(self, Py_ssize_t idx, int side, int64_t qty,
                             int64_t repl) noexcept
    cdef int _grow_syms(self) except -1
    cdef int _grow_assets(self) except -1
    cdef Sym* _sym(self, Py_ssize_t idx) except NULL
