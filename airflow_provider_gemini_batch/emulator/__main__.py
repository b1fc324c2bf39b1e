"""python -m airflow_provider_gemini_batch.emulator --host 127.0.0.1 --port 0"""

from .config import EmulatorConfig
from .server import serve

if __name__ == "__main__":
    serve(EmulatorConfig.parse_args())
