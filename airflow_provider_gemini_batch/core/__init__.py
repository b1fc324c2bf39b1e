"""The pure core: what a request, a result, a job state, an event and a wait decision are.

Nothing here imports Airflow, an HTTP client or the emulator (tests/unit/test_import_contract.py checks it),
so every decision can be read and table-tested on its own. The one exception is `..exceptions`: the typed
errors derive from AirflowException so that Airflow reports them as task failures.
"""
