"""Adapters that plug this provider into other Airflow packages (common-ai's @task.llm_batch)."""
