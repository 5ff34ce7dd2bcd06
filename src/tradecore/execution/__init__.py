"""Order management: the order state machine, journal and recovery, venues (paper, live), routing."""
