"""Apache Airflow provider for the Gemini Batch API."""

__version__ = "0.1.0"
