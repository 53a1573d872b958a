"""`python -m slim.cli`: the command line, as the `slim` script runs it."""

import sys

from slim.cli import main

sys.exit(main())
