"""Provider metadata Airflow reads through the `apache_airflow_provider` entry point."""

from __future__ import annotations

from . import __version__

# The same address as [project.urls] Documentation in pyproject.toml (Airflow's Providers page reads that
# one from the package metadata). The README renders on this page; see README "Links" for the repository.
DOCUMENTATION_URL = "https://pypi.org/project/airflow-provider-gemini-batch/"


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-gemini-batch",
        "name": "Gemini Batch",
        "description": "Submit, wait for (deferred) and fetch Gemini Batch API jobs: generate content and embeddings "
                       "at batch prices, submitted exactly once, results streamed.",
        "versions": [__version__],
        "documentation-url": DOCUMENTATION_URL,
        "integrations": [{
            "integration-name": "Gemini Batch API",
            "external-doc-url": "https://ai.google.dev/gemini-api/docs/batch-mode",
            "tags": ["ai"],
        }],
        "hooks": [{"integration-name": "Gemini Batch API",
                   "python-modules": ["airflow_provider_gemini_batch.hooks.gemini_batch",
                                      "airflow_provider_gemini_batch.hooks.gemini_batch_async"]}],
        "operators": [{"integration-name": "Gemini Batch API",
                       "python-modules": ["airflow_provider_gemini_batch.operators.submit",
                                          "airflow_provider_gemini_batch.operators.housekeeping",
                                          "airflow_provider_gemini_batch.operators.media",
                                          "airflow_provider_gemini_batch.operators.sharding"]}],
        "sensors": [{"integration-name": "Gemini Batch API",
                     "python-modules": ["airflow_provider_gemini_batch.sensors.batch"]}],
        "triggers": [{"integration-name": "Gemini Batch API",
                      "python-modules": ["airflow_provider_gemini_batch.triggers.batch"]}],
        "extra-links": ["airflow_provider_gemini_batch.links.GeminiBatchResultsLink"],
        # Shown by `airflow config list`; read by ..defaults.default_deferrable().
        "config": {
            "gemini_batch": {
                "description": "Defaults of the Gemini Batch provider's operators and sensor.",
                "options": {
                    "default_deferrable": {
                        "description": "Whether GeminiBatch operators and GeminiBatchJobSensor wait in the triggerer "
                                       "when a task does not pass deferrable=. True keeps a 24-hour batch from "
                                       "holding a worker slot; set False where no triggerer runs. The environment "
                                       "variable AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=False also turns it off "
                                       "(in airflow.cfg, Airflow writes that option's default out itself, so "
                                       "only this option is read from the file).",
                        "version_added": "0.1.0",
                        "type": "boolean",
                        "example": "False",
                        "default": "True",
                    },
                },
            },
        },
        "task-decorators": [{"name": "gemini_batch",
                             "class-name": "airflow_provider_gemini_batch.decorators.gemini_batch.gemini_batch_task"}],
        "connection-types": [{
            "connection-type": "gemini",
            "hook-class-name": "airflow_provider_gemini_batch.hooks.gemini_batch.GeminiBatchHook",
            "hook-name": "Gemini Batch",
            "ui-field-behaviour": {
                "hidden-fields": ["schema", "login", "port"],
                "relabeling": {"host": "Base URL (optional)", "password": "API key"},
                "placeholders": {
                    # Short enough to show whole in the form's input box.
                    "host": "empty = Google, or http://127.0.0.1:8000",
                    "password": "Gemini API key",
                },
            },
            "conn-fields": {
                "api_version": {
                    "label": "API version",
                    "description": "Gemini API version path segment; v1beta is what the Batch guide uses.",
                    # No None in the enum: the form showed it as a literal "null" choice.
                    "schema": {"type": "string", "default": "v1beta", "enum": ["v1beta", "v1"]},
                },
                "timeout_seconds": {
                    "label": "Request timeout (seconds)",
                    "description": "Timeout of each HTTP call (not of the batch job).",
                    "schema": {"type": ["number", "null"], "default": 60},
                },
                "max_retries": {
                    "label": "Retries for transient errors",
                    "description": "How often a 429/5xx/timeout/dropped connection is retried, "
                                   "with exponential backoff.",
                    "schema": {"type": ["integer", "null"], "default": 5},
                },
                "retry_max_wait_seconds": {
                    "label": "Longest wait between retries (seconds)",
                    "description": "Cap of the exponential backoff between retries of a transient error.",
                    "schema": {"type": ["number", "null"], "default": 60},
                },
            },
        }],
    }
