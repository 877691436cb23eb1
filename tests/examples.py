"""How many examples a property test of the fast tier draws.

The whole suite draws each test's full count. `scripts/test --fast` sets
LISTSYNC_TEST_EXAMPLES=fast and draws a third of it (never fewer than 20), so
the tier a developer runs after every edit stays under half a minute; the
same properties are then drawn in full by every CI run.
"""

from __future__ import annotations

import os

SHARE = 1 / 3 if os.environ.get("LISTSYNC_TEST_EXAMPLES") == "fast" else 1.0


def examples(full: int) -> int:
    return max(20, round(full * SHARE)) if SHARE < 1 else full
