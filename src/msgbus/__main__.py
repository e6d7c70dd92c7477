"""``python -m msgbus``: the same as the ``msgbus`` command."""

import sys

from ._cli import main

sys.exit(main())
