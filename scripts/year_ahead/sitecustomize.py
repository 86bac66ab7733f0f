"""Python start-up hook of ``./scripts/test-year-ahead`` (on PYTHONPATH only there).

Debian 12's libfaketime (0.9.10), with monotonic time left real, answers Python's
``time.sleep`` (``clock_nanosleep`` on the monotonic clock with an absolute deadline) with
EINVAL. Waiting on an event sleeps as long on the same real monotonic clock; everything else
about time stays as libfaketime fakes it.
"""

import os
import threading
import time

if "faketime" in os.environ.get("LD_PRELOAD", ""):

    def _sleep(seconds: float) -> None:
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        threading.Event().wait(seconds)

    time.sleep = _sleep
