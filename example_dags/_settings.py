"""Settings the example DAGs share, from the environment so that `make demo` and the tests can
shorten polls and choose where files go. Nothing here is needed in your own DAGs."""

import os

POLL_SECONDS = float(os.environ.get("GEMINI_BATCH_POLL_SECONDS", "30"))
OUTPUT_DIR = os.environ.get("GEMINI_BATCH_OUTPUT_DIR", "/tmp/gemini-batch")
GENERATE_MODEL = os.environ.get("GEMINI_BATCH_MODEL", "gemini-2.5-flash")
EMBED_MODEL = os.environ.get("GEMINI_BATCH_EMBED_MODEL", "gemini-embedding-001")
