"""Fixtures for the real DAG runs in tests/airflow/."""

from __future__ import annotations

import pytest

from tests.airflow.failures import listening, stop_listening


@pytest.fixture
def task_errors():
    """The exceptions failed tasks raise during this test (tests/airflow/failures.py)."""
    errors = listening()
    try:
        yield errors
    finally:
        stop_listening(errors)
