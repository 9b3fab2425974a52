"""``python -m lolip``: the command line ``lolip`` (:mod:`lolip.cli`)."""

import sys

from lolip.cli import main

sys.exit(main())
