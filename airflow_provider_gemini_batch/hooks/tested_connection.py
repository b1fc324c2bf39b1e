"""The id of the connection being tested, when Airflow tests it under a temporary one.

Airflow 3's test endpoint (POST /api/v2/connections/test, behind the UI's Test button) copies the
connection under a random 8-character id (`transient_conn_id`) and builds the hook with that; the id
the user typed never reaches the hook. An error naming "Connection 'x8Kd0qZt'" helps nobody, so the
caller's frame is read for the request body's `connection_id`. Only the frames of the call that is
running are read, only when a frame's `transient_conn_id` equals our id; otherwise the id is kept.
`airflow connections test <id>` already passes the real id.
"""

from __future__ import annotations

import sys
from types import FrameType

MAX_FRAMES = 40


def tested_connection_id(conn_id: str) -> str:
    frame: FrameType | None = sys._getframe(1)
    try:
        for _ in range(MAX_FRAMES):
            if frame is None:
                break
            local = frame.f_locals
            if local.get("transient_conn_id") == conn_id:
                real = getattr(local.get("test_body"), "connection_id", None)
                if isinstance(real, str) and real:
                    return real
            frame = frame.f_back
    finally:
        del frame  # no reference cycle through the frames
    return conn_id
