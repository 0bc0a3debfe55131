"""A SIGTERM before a service serves (its imports still loading) ends the process with exit code 0."""

from __future__ import annotations

import signal
import subprocess
import sys

CHILD = ("from rabota_common.starting import exit_cleanly_until_served\n"
         "exit_cleanly_until_served()\n"
         "print('armed', flush=True)\n"
         "import time\n"
         "time.sleep(60)\n")


def test_a_sigterm_before_serving_exits_zero() -> None:
    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "armed"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
