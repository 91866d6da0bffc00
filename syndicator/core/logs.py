"""Logging: one line per event, readable on a terminal, JSON lines for log collectors."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def configure_logging(log_format: str, level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level"},
                json_ensure_ascii=False,  # names and titles are CJK: keep them readable
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter (connection pools, the scheduler's every job) is not an event that matters.
    for noisy in ("urllib3", "apscheduler", "watchdog", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
