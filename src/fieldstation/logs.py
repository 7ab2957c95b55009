"""The hub's logs: one stream (standard error), text for people or JSON lines for log collectors, and
never a blocking write on the event loop.

A record is turned into its final message where it is logged (cheap), then handed to a queue; a thread of
its own formats and writes it. A terminal or a pipe that stalls (a full journald buffer, a slow SSH
session) then delays only that thread, never a request. The hub's own loggers (`fieldstation.*`) and
uvicorn's (`uvicorn.error`, and `uvicorn.access` when the access log is on) all go through it."""

from __future__ import annotations

import atexit
import copy
import datetime
import logging
import logging.handlers
import queue
import sys
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]
ACCESS_FIELDS = ("client", "method", "path", "http_version", "status")
"""uvicorn's access record carries these, in this order, as its arguments."""
_BUILT_IN = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time` (ISO 8601, UTC, ms), `level`, `logger`, `message`, `exception`
    when there is one, the access log's fields (`client`, `method`, `path`, `http_version`, `status`), and
    whatever a caller passed as `extra=`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _BUILT_IN and not key.startswith("_"):
                line[key] = value
        if record.exc_text:
            line["exception"] = record.exc_text
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")


class _Enqueue(logging.handlers.QueueHandler):
    """Hands a record to the writing thread with its message made final here (its arguments may be
    objects that change later) and its traceback as text; the access log's arguments become fields."""

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        record = copy.copy(record)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            for field, value in zip(ACCESS_FIELDS, record.args, strict=False):
                setattr(record, field, value)
        record.msg = record.getMessage()
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        return record


def setup_logging(level: str, log_format: LogFormat) -> logging.handlers.QueueListener:
    """Route every logger to standard error through a queue and a writing thread; returns the listener
    (stopped, and the queue flushed, at exit)."""
    write = logging.StreamHandler(sys.stderr)
    write.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(records, write, respect_handler_level=False)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(_Enqueue(records))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    if root.level > logging.DEBUG:  # Alembic says what it is at every start; the hub says what it upgraded
        logging.getLogger("alembic").setLevel(logging.WARNING)
    listener.start()
    atexit.register(_stop_once, listener)
    return listener


def _stop_once(listener: logging.handlers.QueueListener) -> None:
    """At exit, unless stopped already (`serve` stops it itself before a signal ends the process)."""
    if listener._thread is not None:
        listener.stop()
