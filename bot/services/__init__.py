"""Long-running work of the bot as plain classes over the store, the clock and a Transport (no discord.py).

The cogs create these in `cog_load`, stop them in `cog_unload` and translate interactions into calls;
the command line and the tests drive the same classes.
"""

from __future__ import annotations

import logging

from bot.services.alerts import AlertPipeline
from bot.services.digests import DigestScheduler
from bot.services.index import IndexMaintenance
from bot.services.scraping import ScrapeRefresher
from bot.services.tasks import BackgroundTasks

log = logging.getLogger(__name__)

__all__ = ["AlertPipeline", "BackgroundTasks", "DigestScheduler", "IndexMaintenance", "ScrapeRefresher"]
