"""common-ai's ``@task.llm_batch`` on Gemini: ``model_id="google:gemini-2.5-flash"`` with our ``gemini``
connection, through the adapter this package registers (install ``airflow-provider-gemini-batch[common-ai]``).
The structured output goes through pydantic; on the emulator one prompt answers with something that is
not JSON, so its row comes back ``invalid_output``. Without the extra installed this file defines nothing.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import datetime

from airflow.sdk import dag, task
from pydantic import BaseModel

sys.path.append(os.path.dirname(os.path.abspath(__file__)))  # Airflow 3.0 parses without the dags folder on sys.path
from _settings import GENERATE_MODEL, OUTPUT_DIR, POLL_SECONDS  # noqa: E402

ON_EMULATOR = not os.environ.get("GEMINI_API_KEY")


class Sentiment(BaseModel):
    label: str
    score: float


if importlib.util.find_spec("airflow.providers.common.ai") is not None:

    @dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["gemini", "example", "common-ai"])
    def gemini_batch_common_ai():
        @task.llm_batch(llm_conn_id="gemini_default", model_id=f"google:{GENERATE_MODEL}", output_type=Sentiment,
                        result_path=f"file://{OUTPUT_DIR}/common_ai/{{{{ run_id }}}}",
                        system_prompt="Label the sentiment and score it from 0 to 1.", poll_interval=max(30, int(POLL_SECONDS)))  # common-ai's minimum
        def prompts() -> list[str]:
            return ["What a lovely day.", "This is the worst service ever.",
                    "Meh." + (" EMULATOR:INVALID_JSON" if ON_EMULATOR else "")]

        prompts()

    gemini_batch_common_ai()
