"""Secrets that clients must put in URLs stay out of the access log."""

from __future__ import annotations

import logging

from fieldstation.http.connection import RedactSecrets


def test_access_tokens_are_hidden_in_access_log_lines() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/instathings/ws?project=p1&access_token=abc.def.ghi", "1.1", 101),
        None,
    )
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert "abc.def.ghi" not in line
    assert "/instathings/ws?project=p1&access_token=(hidden)" in line
    actility = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, "%s", ("/awt/v2/actility?LrnDevEui=1&Token=f00",), None
    )
    RedactSecrets().filter(actility)
    assert actility.getMessage() == "/awt/v2/actility?LrnDevEui=1&Token=(hidden)"
