"""What `paperboy invite` needs: the permissions the bot uses, and its application id asked from Discord."""

from __future__ import annotations

import logging

import httpx

from bot.config import Config
from bot.sources.http import unreachable_reason

log = logging.getLogger(__name__)


class ApplicationLookupError(Exception):
    """Discord could not be asked, or would not say, which application the token belongs to."""


# Every permission the bot uses in a channel, and what for. The invite asks for these and no more.
BOT_PERMISSIONS: dict[str, str] = {
    "view_channel": "see the channels it posts in",
    "send_messages": "post digests, alerts and /paper answers shared in the channel",
    "embed_links": "post digests and alerts as embeds",
    "read_message_history": "after a crash, look for a digest it may already have posted, so as not to post twice",
    "create_public_threads": "open a discussion thread on a digest or on each paper (/digest set threads)",
    "send_messages_in_threads": "post in the discussion threads it opens",
}
CHECKED_AT_RUN_TIME = (
    "checked at run time: /digest set and /alerts add refuse a channel where the bot lacks View Channel, "
    "Send Messages or Embed Links there, and a member needs Manage Channels in a channel to change its "
    "digest or alerts"
)
INVITE_SCOPES = ("bot", "applications.commands")


def permission_name(flag: str) -> str:
    """A permission flag as Discord's settings show it: read_message_history -> Read Message History."""
    return flag.replace("_", " ").title()


async def fetch_application_id(config: Config) -> int:
    """The id of the application the configured token belongs to, asked from Discord's API."""
    url = f"{config.discord.api_base.rstrip('/')}/oauth2/applications/@me"
    headers = {"Authorization": f"Bot {config.discord.token}", "User-Agent": "DiscordBot (paperboy)"}
    try:
        async with httpx.AsyncClient(timeout=10.0) as http:
            response = await http.get(url, headers=headers)
    except httpx.HTTPError as exc:
        reason = unreachable_reason(exc) or type(exc).__name__
        raise ApplicationLookupError(f"cannot reach Discord at {config.discord.api_base}: {reason}") from exc
    if response.status_code == 401:
        raise ApplicationLookupError("Discord rejected the token (401 Unauthorized): check DISCORD_TOKEN")
    if response.status_code != 200:
        raise ApplicationLookupError(f"Discord answered HTTP {response.status_code} when asked for the application")
    try:
        return int(response.json()["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ApplicationLookupError("Discord's answer about the application has no id") from exc
