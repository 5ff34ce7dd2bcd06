"""Logging set-up: plain or JSON lines, a level per component, writing off the event loop.

Why: the engine logs only on state changes (never per frame; DESIGN.md), but even those must not
format or write on the loop's thread. `configure` installs a QueueHandler whose `prepare` keeps
the record as is (the stdlib one formats the message on the caller's thread), and a
QueueListener thread formats and writes. A record below its logger's level costs one
`isEnabledFor` check and no formatting at all, which is what the hot path relies on.

Levels: `levels=["INFO", "tradecore.api=DEBUG", "tradecore.risk=WARNING"]`: a bare level is the
default for every `tradecore` logger; `name=LEVEL` sets one component (a logger and its
children). Unknown level names are refused with the choices.

JSON lines carry ts (ISO 8601 UTC), level, logger, msg and, when present, exc; extra fields
given with `extra={...}` are included. Secrets are never passed to loggers (credentials are
`Secret` objects whose str is *** and the API token stays inside api.auth).
"""
from __future__ import annotations

import atexit
import datetime as _dt
import logging
import logging.handlers
import queue
import sys
from collections.abc import Iterable
from typing import TextIO

import orjson

__all__ = ["JsonFormatter", "configure", "parse_levels"]

_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_STD = set(vars(logging.makeLogRecord({})))  # attributes every record has
_listener: logging.handlers.QueueListener | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": _dt.datetime.fromtimestamp(record.created, _dt.timezone.utc)
               .isoformat(timespec="microseconds").replace("+00:00", "Z"),
               "level": record.levelname, "logger": record.name,
               "msg": record.getMessage()}
        for k, v in vars(record).items():
            if k not in _STD and k not in out and not k.startswith("_"):
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(out, default=str).decode()


class _KeepRecord(logging.handlers.QueueHandler):
    """Hands the record over unformatted: formatting happens on the listener thread."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


def parse_levels(levels: Iterable[str]) -> tuple[int | None, dict[str, int]]:
    default: int | None = None
    per: dict[str, int] = {}
    for item in levels:
        name, sep, lvl = item.rpartition("=")
        lvl = lvl.strip().upper()
        if lvl not in _LEVELS:
            raise ValueError(f"log level {item!r}: expected LEVEL or component=LEVEL with LEVEL "
                             f"one of {list(_LEVELS)}")
        if sep:
            if not name.strip():
                raise ValueError(f"log level {item!r}: the component name is empty")
            per[name.strip()] = getattr(logging, lvl)
        else:
            default = getattr(logging, lvl)
    return default, per


def configure(*, default: int = logging.WARNING, levels: Iterable[str] = (),
              json_lines: bool = False, stream: TextIO | None = None,
              threaded: bool = True) -> logging.Handler:
    """Install the root handler (replacing earlier ones); returns the handler that writes."""
    global _listener
    lvl, per = parse_levels(levels)
    out = logging.StreamHandler(stream or sys.stderr)
    out.setFormatter(JsonFormatter() if json_lines else
                     logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    if _listener is not None:
        _listener.stop()
        _listener = None
    if threaded:
        q: queue.SimpleQueue = queue.SimpleQueue()
        root.addHandler(_KeepRecord(q))
        _listener = logging.handlers.QueueListener(q, out, respect_handler_level=True)
        _listener.start()
        atexit.register(_stop)
    else:
        root.addHandler(out)
    root.setLevel(lvl if lvl is not None else default)
    logging.getLogger("tradecore").setLevel(lvl if lvl is not None else default)
    for name, n in per.items():
        logging.getLogger(name).setLevel(n)
    return out


def _stop() -> None:
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None
