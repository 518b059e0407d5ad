"""Planning one channel's alert post from the matches: grouping, the hourly cap, batch keys."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from bot.alerts._matcher import PaperMatches
from bot.models import Paper, Subscription
from bot.query import MAX_QUERY_LENGTH, QueryError, parse

log = logging.getLogger(__name__)

ChannelMatches: TypeAlias = list[tuple[Paper, list[Subscription]]]

ALERT_KIND = "alert"
BATCH_KIND = "alert_batch"
CAP_WINDOW = dt.timedelta(hours=1)
_STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """What one channel gets from one scrape: the papers listed and those over the hourly cap."""

    channel_id: int
    key: str
    listed: ChannelMatches
    over_cap: ChannelMatches
    more_query: str | None

    @property
    def paper_ids(self) -> list[str]:
        """Every paper this batch accounts for (listed or summed up in the 'more' line)."""
        return [paper.id for paper, _ in (*self.listed, *self.over_cap)]


def group_by_channel(
    matches: Iterable[PaperMatches], listed_at: Mapping[str, dt.datetime] | None = None
) -> dict[int, ChannelMatches]:
    """Matches per channel: each paper once, with the subscriptions (by id) that matched it there.

    `listed_at` gives when new papers were first listed: such a paper is not news to a subscription
    created after that (unless matched because its upvotes moved); adding an alert shows the recent
    matches instead. Both instants are stored to the second; in a tie the paper counts as news, so that
    nothing listed after an alert is missed.
    """
    grouped: dict[int, dict[str, tuple[Paper, dict[int, Subscription]]]] = {}
    listed_at = listed_at or {}
    for match in matches:
        paper = match.paper
        listed = None if match.changed else listed_at.get(paper.id)
        for group in match.groups:
            for subscription in group:
                if listed is not None and subscription.created_at > listed:
                    continue
                papers = grouped.setdefault(subscription.channel_id, {})
                entry = papers.setdefault(paper.id, (paper, {}))
                entry[1][subscription.id] = subscription
    return {
        channel: [(paper, [subs[i] for i in sorted(subs)]) for paper, subs in papers.values()]
        for channel, papers in grouped.items()
    }


def stamp(moment: dt.datetime) -> str:
    """An instant as the fixed-width UTC text that starts every batch key (so keys sort by time)."""
    return moment.astimezone(dt.UTC).strftime(_STAMP_FORMAT)


def batch_key(channel_id: int, paper_ids: Iterable[str], at: dt.datetime) -> str:
    """The delivery key of one channel's batch: when it was made, then a digest of what it holds."""
    digest = hashlib.sha256(f"{channel_id}:{','.join(sorted(paper_ids))}".encode()).hexdigest()
    return f"{stamp(at)}/{digest[:16]}"


def window_start_key(now: dt.datetime) -> str:
    """The smallest batch key inside the hourly cap's window ending at `now`."""
    return stamp(now - CAP_WINDOW)


def more_query(over_cap: ChannelMatches) -> str | None:
    """A query for `/alerts test` that finds the papers over the cap: the OR of their subscriptions'
    queries when that is a valid query, else the query behind most of them."""
    counts: Counter[int] = Counter()
    by_id: dict[int, Subscription] = {}
    for _, subscriptions in over_cap:
        for subscription in subscriptions:
            counts[subscription.id] += 1
            by_id[subscription.id] = subscription
    if not counts:
        return None
    ranked = [by_id[i] for i, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
    texts = list(dict.fromkeys(s.query.strip() for s in ranked))
    if len(texts) > 1:
        combined = " OR ".join(f"({text})" for text in texts)
        if len(combined) <= MAX_QUERY_LENGTH:
            try:
                parse(combined)
            except QueryError:
                pass
            else:
                return combined
    return texts[0]


def plan_batch(
    channel_id: int,
    matches: ChannelMatches,
    *,
    already_alerted: Iterable[str],
    in_digest: Iterable[str],
    sent_this_hour: int,
    hourly_cap: int,
    now: dt.datetime,
) -> AlertBatch | None:
    """One channel's post: papers not alerted there before (nor left to its digest), most upvoted first,
    as many as the hourly cap still allows, the rest summed up. None when nothing is left to post."""
    seen = set(already_alerted)
    digested = set(in_digest)
    kept: ChannelMatches = []
    for paper, subscriptions in matches:
        if paper.id in seen:
            continue
        if paper.id in digested and all(s.skip_digest_papers for s in subscriptions):
            continue
        kept.append((paper, subscriptions))
    if not kept:
        return None
    kept.sort(key=lambda match: (-match[0].upvotes, match[0].id))
    room = max(0, hourly_cap - sent_this_hour)
    listed, over_cap = kept[:room], kept[room:]
    key = batch_key(channel_id, (paper.id for paper, _ in kept), now)
    return AlertBatch(channel_id, key, listed, over_cap, more_query(over_cap))


def papers_in_digest(papers: Iterable[Paper], digest_payloads: Mapping[str, Sequence[str]]) -> set[str]:
    """Ids of papers whose page link appears in one of the digest payloads posted on their days.

    `digest_payloads` maps a paper id to the stored payload texts of the channel's sent digests of the
    days that paper was featured on.
    """
    found: set[str] = set()
    for paper in papers:
        link = re.compile(re.escape(paper.url) + r"(?![0-9A-Za-z.])")
        if any(link.search(text) for text in digest_payloads.get(paper.id, ())):
            found.add(paper.id)
    return found
