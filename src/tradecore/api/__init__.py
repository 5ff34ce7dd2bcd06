"""Operating the engine: metrics, the REST/WebSocket API, alerts, the dashboard, logging.

Everything here runs on the engine's own event loop and reads the node (`TradingNode`) from the
outside; nothing in the engine imports it. Hot-path work is limited to what `metrics.attach`
installs (a clock read and an array append per probe); serialization, fan-out, alert rules and
the Prometheus exposition run in periodic tasks or at request time.
"""
