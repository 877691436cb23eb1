"""`python -m listsync`."""

import sys

from listsync.cli import main

sys.exit(main())
