"""`python -m bot` runs the command line."""

import logging
import sys

from bot.cli import main

log = logging.getLogger(__name__)

sys.exit(main())
