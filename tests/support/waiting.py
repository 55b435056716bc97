"""One poll-until-true loop for the tests, the demo and the benchmarks."""
from __future__ import annotations

import time


def until(what: str, check, timeout: float, every: float = 1.0, error: type[BaseException] = AssertionError,
          hint: str = ""):
    """CHECK's first truthy value, polled every EVERY seconds; ERROR naming WHAT (and HINT) after TIMEOUT seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise error(f"still waiting for {what} after {timeout:.0f}s{'; ' + hint if hint else ''}")
