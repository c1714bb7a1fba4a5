"""`python -m confgen`."""

import sys

from confgen.cli import main

sys.exit(main())
