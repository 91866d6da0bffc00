"""Logging: one line per event, readable on a terminal, JSON lines for log collectors.

An event is logged with ``log_event``: a name (``poll``, ``build``, ``post_skipped``…), a
message for people and fields for machines. In JSON each line is one object: ``time`` (ISO
8601 with the UTC offset), ``level``, ``event`` (the logger's name for a plain log call),
``message``, then the fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonEventFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "event": getattr(record, "event", record.name),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update((key, value) for key, value in fields.items() if key not in line)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        # Names and titles are CJK: keep them readable.
        return json.dumps(line, ensure_ascii=False, default=str)


def log_event(
    logger: logging.Logger, level: int, event: str, message: str, **fields: object
) -> None:
    """Log ``message`` as the event ``event`` with ``fields`` (shown in JSON only)."""
    logger.log(level, "%s", message, extra={"event": event, "fields": fields})


def configure_logging(log_format: str, level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonEventFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (connection pools, the scheduler's every job) is not an event that matters.
    for noisy in ("urllib3", "apscheduler", "watchdog", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
