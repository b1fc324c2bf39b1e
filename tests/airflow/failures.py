"""The exception a failed task raised in a dag.test() run, as Airflow itself hands it over.

`dr.state == "failed"` passes for any failure, including the wrong one (a TypeError in our code, a bad
test DAG, the base class raised where a subclass was meant). Airflow's task runner passes the raised
exception to the listeners' ``on_task_instance_failed(error=...)`` hook; ``TaskErrors`` is such a
listener, registered for one test, so a test can assert the exact exception class and its words."""

from __future__ import annotations

import pluggy

# Airflow's listener hooks are pluggy hooks of the project "airflow"; a marker of that project is what the
# listener manager looks for (the same as airflow.listeners.hookimpl, without picking its import path).
hookimpl = pluggy.HookimplMarker("airflow")


def _listener_manager():
    try:  # Airflow 3.1+: the task runner calls the Task SDK's manager
        from airflow.sdk.listener import get_listener_manager
    except ImportError:  # Airflow 3.0
        from airflow.listeners.listener import get_listener_manager
    return get_listener_manager()


class TaskErrors:
    """Every exception a task raised when it failed (or went up for retry), by (task_id, map_index)."""

    def __init__(self):
        self.raised: dict[tuple[str, int], list] = {}

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error):
        key = (task_instance.task_id, getattr(task_instance, "map_index", -1))
        self.raised.setdefault(key, []).append(error)

    def clear(self) -> None:
        self.raised.clear()

    def of(self, task_id: str, map_index: int = -1):
        """The last exception `task_id` failed with; fails the test when it did not fail."""
        errors = self.raised.get((task_id, map_index))
        assert errors, f"task {task_id!r} (map_index {map_index}) did not fail; failures seen: {self.raised}"
        return errors[-1]

    def expect(self, task_id: str, exc_type: type[BaseException], *words: str, map_index: int = -1):
        """Assert `task_id` failed with exactly `exc_type` (not a parent, not a sibling) and a message holding
        every one of `words`; return the exception for further checks."""
        error = self.of(task_id, map_index)
        assert type(error) is exc_type, f"{task_id!r} raised {type(error).__name__}: {error}, not {exc_type.__name__}"
        text = str(error)
        missing = [w for w in words if w not in text]
        assert not missing, f"{task_id!r}'s {exc_type.__name__} does not say {missing}: {text}"
        return error


def listening():
    """A TaskErrors registered as an Airflow listener; call `stop_listening` with it afterwards."""
    errors = TaskErrors()
    _listener_manager().add_listener(errors)
    return errors


def stop_listening(errors: TaskErrors) -> None:
    manager = _listener_manager()
    if manager.pm.is_registered(errors):
        manager.pm.unregister(errors)
