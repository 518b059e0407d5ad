"""Managing a guild's alert subscriptions: adding within the limits, listing, choosing one to remove."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from bot import alerts
from bot.config import AlertsConfig
from bot.errors import UserError
from bot.models import Delivery, Subscription
from bot.render import discord_time, escape_plain, plural, when
from bot.store import AnyStore, DuplicateSubscription, LimitReached

log = logging.getLogger(__name__)

CHOICE_LIMIT = 100  # Discord's limit for an autocomplete choice's name
CHOICES = 25
MESSAGE_LIMIT = 2000


def inline_query(text: str, limit: int = 200) -> str:
    """A query shown to users: in a code span (where markdown is inert), cut to `limit`, mentions defused."""
    # Nothing is escaped inside a code span, so a backtick is replaced rather than escaped.
    shown = escape_plain(" ".join(text.replace("`", "ˋ").split()), max(1, limit - 2))
    return f"`{shown or ' '}`"


def describe_subscription(subscription: Subscription) -> str:
    """One line about a subscription for /alerts list."""
    line = f"**#{subscription.id}** {inline_query(subscription.query)}"
    if subscription.skip_digest_papers:
        line += " · skips papers its digest posted"
    return line


def describe_batch(delivery: Delivery) -> str:
    """How the latest alert post of a channel went, its time as a Discord timestamp."""
    if delivery.status == "sent":
        moment = delivery.updated_at or delivery.created_at
        posted = f" {when(moment)}" if moment else ""
        return f"Last post{posted}: {delivery.outcome or 'sent'}."
    if delivery.status == "pending":
        if delivery.error and delivery.next_attempt_at:
            return f"Last post: retrying {discord_time(delivery.next_attempt_at, 'R')} ({delivery.error})."
        return "Last post: sending now."
    return f"Last post failed: {delivery.error or delivery.status}."


def _limit_message(exc: LimitReached, mention: str) -> str:
    if exc.scope == "channel":
        return (
            f"{mention} already has {plural(exc.limit, 'alert')}, the most a channel may have. "
            "Remove one with `/alerts remove`, or combine queries with OR."
        )
    return (
        f"This server already has {plural(exc.limit, 'alert')}, the most a server may have. "
        "Remove one with `/alerts remove` first."
    )


async def add_subscription(
    store: AnyStore,
    limits: AlertsConfig,
    *,
    guild_id: int,
    channel_id: int,
    mention: str,
    query: str,
    normalized: str,
    created_by: int,
    skip_digest_papers: bool,
) -> Subscription:
    """Add a checked standing query to a channel; UserError for a duplicate or a full channel or guild."""
    try:
        subscription = await store.add_subscription(
            guild_id=guild_id,
            channel_id=channel_id,
            query=query.strip(),
            normalized=normalized,
            created_by=created_by,
            skip_digest_papers=skip_digest_papers,
            max_per_channel=limits.max_per_channel,
            max_per_guild=limits.max_per_guild,
        )
    except DuplicateSubscription as exc:
        existing = next(
            (s for s in await store.list_subscriptions(channel_id=channel_id) if s.normalized == normalized), None
        )
        name = f" as #{existing.id} ({inline_query(existing.query)})" if existing else ""
        raise UserError(f"{mention} already has this alert{name}; nothing was added.") from exc
    except LimitReached as exc:
        raise UserError(_limit_message(exc, mention)) from exc
    log.info("alert #%s added in channel %s: %r", subscription.id, channel_id, subscription.query)
    return subscription


async def removable(store: AnyStore, subscription_id: int, guild_id: int) -> Subscription:
    """A subscription of this guild by number; UserError if there is none."""
    subscription = await store.get_subscription(subscription_id)
    if subscription is None or subscription.guild_id != guild_id:
        raise UserError(f"There is no alert #{subscription_id} in this server: `/alerts list` shows the numbers.")
    return subscription


async def remove_subscription(store: AnyStore, subscription_id: int, guild_id: int) -> Subscription:
    """Delete a subscription of this guild; UserError if it was already removed."""
    removed = await store.remove_subscription(subscription_id, guild_id=guild_id)
    if removed is None:
        raise UserError(f"Alert #{subscription_id} was already removed.")
    log.info("alert #%s removed from channel %s", subscription_id, removed.channel_id)
    return removed


def subscription_choices(
    subscriptions: Sequence[Subscription], typed: str, channel_name: Callable[[int], str | None]
) -> list[tuple[str, int]]:
    """(label, id) for the subscriptions whose number, channel or query contains what was typed."""
    needle = typed.strip().lower().lstrip("#")
    choices: list[tuple[str, int]] = []
    for subscription in subscriptions:
        name = channel_name(subscription.channel_id)
        where = f"#{name}" if name is not None else "deleted channel"
        label = f"#{subscription.id} in {where}: {subscription.query}"
        if needle and needle not in label.lower():
            continue
        shown = label if len(label) <= CHOICE_LIMIT else label[: CHOICE_LIMIT - 1] + "…"
        choices.append((shown, subscription.id))
        if len(choices) == CHOICES:
            break
    return choices


async def channel_listing(store: AnyStore, channel_id: int, mention: str, limit: int) -> str:
    """The text of /alerts list for one channel."""
    subscriptions = await store.list_subscriptions(channel_id=channel_id)
    if not subscriptions:
        return (
            f"{mention} has no alerts. Someone with Manage Channels can add one with "
            "`/alerts add`; try a query first with `/alerts test`."
        )
    lines = [f"Alerts in {mention} ({len(subscriptions)} of {limit}):"]
    lines.extend(describe_subscription(s) for s in subscriptions)
    last = await store.latest_delivery(channel_id, alerts.BATCH_KIND)
    if last is not None:
        lines.append(describe_batch(last))
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_LIMIT else text[: MESSAGE_LIMIT - 1] + "…"
