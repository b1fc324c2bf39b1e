"""Where `deferrable=None` (the default of every operator and the sensor) gets its value: Airflow's config.

Deferrable unless a site says otherwise, because holding a worker slot through a 24-hour batch is what
users come to this provider to avoid. A site says otherwise in one of two visible places:

- ``[gemini_batch] default_deferrable`` (AIRFLOW__GEMINI_BATCH__DEFAULT_DEFERRABLE), this provider's own
  option, declared in get_provider_info()["config"] so `airflow config list` shows it; default True.
- ``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=False``, the Airflow-wide switch of a deployment without a
  triggerer, when it is set as an environment variable. Only set values count, and only the environment
  can tell: Airflow's own default for it is False, and the airflow.cfg Airflow generates on first use
  writes every default out uncommented (`default_deferrable = false` included), so a value in the file
  looks the same whether a site chose it or not. Honouring the file would turn deferral off for every
  site that never asked; in a file, set ``[gemini_batch] default_deferrable = False`` instead.
"""

from __future__ import annotations

import os

SECTION = "gemini_batch"
OPTION = "default_deferrable"
AIRFLOW_WIDE_ENV = "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"


def _airflow_wide_switch_set() -> bool:
    return any(name in os.environ for name in (AIRFLOW_WIDE_ENV, AIRFLOW_WIDE_ENV + "_CMD",
                                               AIRFLOW_WIDE_ENV + "_SECRET"))


def default_deferrable() -> bool:
    """The deferrable default, read when an operator or sensor is built (so a changed setting counts)."""
    from .compat import conf

    if _airflow_wide_switch_set() and not conf.getboolean("operators", "default_deferrable", fallback=True):
        return False
    return conf.getboolean(SECTION, OPTION, fallback=True)
