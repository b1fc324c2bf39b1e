"""What an operator reads of Airflow's context when a test drives it by hand (execute() up to its deferral,
a retry after a crash): the task instance's identity and XCom pushes, and the task state store."""

from __future__ import annotations

import json


class TaskInstanceStandIn:
    def __init__(self, try_number: int = 1, *, dag_id: str, task_id: str = "submit", run_id: str = "manual__1",
                 map_index: int = -1):
        self.dag_id, self.task_id, self.run_id, self.map_index = dag_id, task_id, run_id, map_index
        self.try_number = try_number
        self.pushed: dict = {}

    def xcom_push(self, key, value):
        self.pushed[key] = value


class StoreStandIn(dict):
    """Airflow's task state store keeps JSON: what is set comes back as JSON would bring it."""

    def set(self, key, value):
        self[key] = json.loads(json.dumps(value))
