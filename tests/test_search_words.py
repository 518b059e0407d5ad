"""The title vocabulary's word families, and the ranking that leans on them: common words, title phrases."""

from __future__ import annotations

import bisect
import datetime as dt
import random
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Paper
from bot.query import Filter, fold_tokens, parse, stem
from bot.search import Search, TitleWords, answer, title_vocab, titles
from bot.store import Store, search_read

DAY = dt.date(2026, 6, 12)

# Endings that Porter's steps rewrite or remove, the longest rewrites included ("biliti" -> "ble").
ENDINGS = (
    "", "s", "es", "ed", "ing", "ly", "y", "e", "ational", "tional", "enci", "anci", "izer", "bli", "alli",
    "entli", "eli", "ousli", "ization", "ation", "ator", "alism", "iveness", "fulness", "ousness", "aliti",
    "iviti", "biliti", "bility", "logi", "icate", "ative", "alize", "iciti", "ical", "ful", "ness", "al",
    "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ism", "ate", "iti",
    "ous", "ive", "ize", "ies", "ied", "ingly", "ities", "ations",
)  # fmt: skip


def test_a_family_is_the_words_with_the_same_stem() -> None:
    words = TitleWords()
    words.add_titles(["Modeling Happy Models", "The Model of Happiness", "Modern Modes", "A Mode"])
    forms, complete = words.family("models")
    assert complete and sorted(forms) == ["model", "modeling", "models"] and forms[0] == "models"
    assert sorted(words.family("happiness")[0]) == ["happiness", "happy"]
    assert words.family("mode")[0] == ["mode", "modes"]


def test_a_family_is_incomplete_until_the_vocabulary_is_read() -> None:
    assert TitleWords().family("models") == (["models"], False)


@settings(max_examples=200, deadline=None)
@given(
    roots=st.lists(st.text(alphabet="abcdefghilmnoprstuv", min_size=2, max_size=7), min_size=1, max_size=4),
    endings=st.lists(st.sampled_from(ENDINGS), min_size=2, max_size=12),
)
def test_every_word_sharing_a_stem_is_in_the_family(roots: list[str], endings: list[str]) -> None:
    """Porter rewrites at most the last two letters of a stem, which the family's reading relies on."""
    vocabulary = sorted({root + ending for root in roots for ending in endings})
    words = TitleWords()
    words.add_titles(vocabulary)
    for word in vocabulary:
        forms, complete = words.family(word)
        same_stem = {other for other in vocabulary if stem(other) == stem(word)}
        assert complete and set(forms) == same_stem, word


def _scanned_family(vocabulary: list[str], word: str, span: int) -> tuple[list[str], bool]:
    """A family found by stemming the sorted vocabulary from the stem's first letters, `span` words at most."""
    root = stem(word)
    prefix = root[: max(2, len(root) - 2)]
    start = bisect.bisect_left(vocabulary, prefix)
    forms = [word]
    for other in vocabulary[start : start + span]:
        if not other.startswith(prefix):
            return forms, True
        if other != word and stem(other) == root:
            forms.append(other)
    return forms, start + span >= len(vocabulary)


async def _vocabulary_of(path: Path, titles: list[str]) -> TitleWords:
    """The title vocabulary read from a new cache holding papers with these titles."""
    store = await Store.open(path)
    try:
        await store.bulk_insert_papers(Paper(id=f"2601.{n:05d}", title=t, day=DAY) for n, t in enumerate(titles))
        return await store.read(TitleWords.read)
    finally:
        await store.close()


@pytest.mark.parametrize("family_span", [title_vocab.FAMILY_SPAN, 1, 2, 3])
async def test_a_family_is_what_stemming_the_vocabulary_finds(
    tmp_path: Path, family_span: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Families come from an index of the words by stem, in the vocabulary read and in one counted."""
    monkeypatch.setattr(title_vocab, "FAMILY_SPAN", family_span)
    named = _titles(random.Random(3), 300) + ["Modeling Happy Models", "The Model of Happiness", "Modern Modes"]
    read = await _vocabulary_of(tmp_path / "families.db", named)
    counted = TitleWords()
    counted.add_titles(named)
    vocabulary = sorted({w for t in named for w in fold_tokens(t)})
    for word in [*vocabulary, "modelling", "happier", "mod", "zebra", "a", "o"]:
        expected = _scanned_family(vocabulary, word, family_span)
        assert read.family(word) == counted.family(word) == expected, word


async def test_a_family_takes_in_the_words_of_titles_counted_after_the_vocabulary_is_read(tmp_path: Path) -> None:
    """Words first seen after the read (a stem's own word among them, and words with diacritics) join the
    families found by stem as if they had been read."""
    first = ["Modeling Happy Models", "Modern Modes", "Über Graphs"]
    later = ["The Model of Happiness", "Modelled Graph", "A Mode", "Übers Naïve Models", "Naive Happiest"]
    grown = await _vocabulary_of(tmp_path / "grown.db", first)
    assert grown.family("models")[0] == ["models", "modeling"]
    assert grown.add_titles(later) == 11  # every word but "models", read already
    vocabulary = sorted({w for t in [*first, *later] for w in fold_tokens(t)})
    for word in [*vocabulary, "modelling", "happier", "ubers"]:
        assert grown.family(word) == _scanned_family(vocabulary, word, title_vocab.FAMILY_SPAN), word
    assert grown.family("models")[0] == ["models", "model", "modeling", "modelled"]
    assert grown.family("naive")[0] == ["naive"] and grown.family("uber")[0] == ["uber", "ubers"]


async def test_a_title_holding_the_words_in_another_form_is_still_a_phrase_match(tmp_path: Path) -> None:
    """The older paper titled with the words typed (as other forms of them) comes first, above the newer
    papers holding the words only scattered, and above the window of the most recent matches."""
    store = await Store.open(tmp_path / "words.db")
    try:
        titled = Paper(id="2401.00001", title="Evaluating Large Models Fairly", day=DAY - dt.timedelta(days=400))
        scattered = [
            Paper(
                id=f"2606.{n:05d}",
                title=f"Filler Study Number {n}",
                summary="We evaluate a model that is large, among other things.",
                day=DAY,
                upvotes=n % 50,
            )
            for n in range(700)
        ]
        await store.bulk_insert_papers([titled, *scattered])
        finder = Search(store)
        await finder.warm()
        results = await finder.search("evaluate large model")
        assert results.papers[0].id == titled.id
        # Words no title holds together: nothing is promoted, the scattered papers rank as before.
        results = await finder.search("evaluate large things")
        assert results.papers and all(p.id != titled.id for p in results.papers)
    finally:
        await store.close()


# Word forms sharing stems, as titles hold them, and fillers that are common in titles.
FORMS = (
    ("model", "models", "modeling"), ("graph", "graphs"), ("efficient", "efficiency"),
    ("reason", "reasoning", "reasons"), ("network", "networks"), ("agent", "agents"), ("video",),
)  # fmt: skip
FILLERS = ("a", "of", "for", "the", "with", "new")


def _titles(rng: random.Random, count: int) -> list[str]:
    return [
        " ".join(rng.choice([*rng.choice(FORMS), *FILLERS]) for _ in range(rng.randint(2, 7))).title()
        for _ in range(count)
    ]


@pytest.mark.parametrize("papers", [150, 1_200])  # few titles hold the words (checked here), and many
# A short reading span leaves the families of words sharing their first letters with many others unknown.
@pytest.mark.parametrize("family_span", [title_vocab.FAMILY_SPAN, 1])
async def test_title_phrases_from_the_title_only_index_equal_those_of_the_whole_index(
    tmp_path: Path, papers: int, family_span: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(title_vocab, "FAMILY_SPAN", family_span)
    rng = random.Random(papers)
    store = await Store.open(tmp_path / "phrases.db")
    try:
        await store.bulk_insert_papers(
            Paper(id=f"2601.{n:05d}", title=title, day=DAY, upvotes=n % 7, github_repo="o/r" if n % 3 else None)
            for n, title in enumerate(_titles(rng, papers))
        )
        finder = Search(store)
        await finder.warm()
        typed_phrases = [[rng.choice(rng.choice(FORMS)) for _ in range(rng.randint(2, 3))] for _ in range(60)]
        for typed in typed_phrases:
            for text in (" ".join(typed), " ".join(typed) + " code:yes"):
                filters = parse(text).filters

                def both(
                    db: sqlite3.Connection, filters: tuple[Filter, ...] = filters, typed: list[str] = typed
                ) -> tuple[list[int], list[int]]:
                    whole = search_read.matching_rowids(
                        db, titles.phrase_match(typed), limit=answer.PHRASE_MATCHES, filters=filters
                    )
                    ours = titles.phrase_rowids(db, finder.words, typed, limit=answer.PHRASE_MATCHES, filters=filters)
                    return ours, whole

                ours, whole = await store.read(both)
                assert ours == whole, text
    finally:
        await store.close()


async def _first_found(path: Path, target: str, newer: str, count: int, query: str) -> bool:
    """Whether `query` finds first the oldest of: a paper titled `target`, then `count` newer ones titled
    `newer` plus a number, among 600 fillers whose words (for, a, we) are common in titles."""
    store = await Store.open(path)
    try:
        oldest = Paper(id="2401.00001", title=target, day=DAY)
        newer_papers = [Paper(id=f"2501.{n:05d}", title=f"{newer} {n}", day=DAY) for n in range(count)]
        fillers = [Paper(id=f"2601.{n:05d}", title=f"For a Filler We Write {n}", day=DAY) for n in range(600)]
        await store.bulk_insert_papers([oldest, *newer_papers, *fillers])
        finder = Search(store)
        await finder.warm()
        results = await finder.search(query)
        return bool(results.papers) and results.papers[0].id == oldest.id
    finally:
        await store.close()


async def test_a_typod_title_older_than_the_titles_sharing_its_rarer_words_is_still_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a large cache many newer titles hold the rarer words typed and not the common ones; the title
    typed, older than all of them, is then looked for among every title holding all the words.
    (The cache is small here: the number of titles checked is made small to match.)"""
    monkeypatch.setattr(titles, "COMMON_CHECKED", 5)
    monkeypatch.setattr(titles, "RARE_WORDS_CANDIDATES", 5)
    monkeypatch.setattr(titles, "RARE_BUDGET", 30)
    target, newer = "Motion Video Generation for a Robot We Build", "Motion Video Generation Robot Build Study"
    assert await _first_found(tmp_path / "older.db", target, newer, 20, "motion vidoe generation for a robot we build")


async def test_a_title_typed_in_part_is_found_by_its_first_words(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Newer titles hold the same words in another order: the one starting with the words typed wins."""
    monkeypatch.setattr(titles, "RARE_WORDS_CANDIDATES", 5)
    monkeypatch.setattr(titles, "RARE_BUDGET", 30)
    monkeypatch.setattr(titles, "ALL_WORDS_CANDIDATES", 5)
    target, newer = "Jailbreak Refusal Adversarial Harmful Prompts", "Adversarial Refusal Under Jailbreak Study"
    assert await _first_found(tmp_path / "start.db", target, newer, 30, "Jailbreak refusal adversarial")


async def test_every_page_of_a_title_like_search_is_a_slice_of_the_whole_order(tmp_path: Path) -> None:
    """Close title matches and title phrases go ahead of the full-text matches; a page at any offset is the
    same slice of that order as the whole list shows."""
    rng = random.Random(7)
    store = await Store.open(tmp_path / "pages.db")
    try:
        older = [
            Paper(id=f"2401.{n:05d}", title=title, day=DAY - dt.timedelta(days=300))
            for n, title in enumerate(_titles(rng, 40))
        ]
        newer = [
            Paper(id=f"2601.{n:05d}", title=title, summary="A model of graphs for agents.", day=DAY, upvotes=n % 9)
            for n, title in enumerate(_titles(rng, 900))
        ]
        await store.bulk_insert_papers([*older, *newer])
        finder = Search(store)
        await finder.warm()
        # Titles typed whole (close matches go first), and words of titles in any order.
        queries = [p.title for p in older if len(parse(p.title).typed_words) >= answer.TITLE_LIKE_WORDS][:10]
        queries += [" ".join(rng.choice(rng.choice(FORMS)) for _ in range(rng.randint(3, 5))) for _ in range(20)]
        checked = 0
        for text in queries:
            whole = await finder.search(text, limit=80)
            ids = [p.id for p in whole.papers]
            assert len(ids) == len(set(ids)), text  # a paper found both ways is shown once
            for offset, limit in ((0, 3), (2, 5), (4, 5), (12, 10), (55, 10)):
                page = await finder.search(text, limit=limit, offset=offset)
                assert [p.id for p in page.papers] == ids[offset : offset + limit], (text, offset)
                assert (page.total, page.total_exact) == (whole.total, whole.total_exact), text
                checked += bool(page.papers)
        assert checked > 60  # most pages are not empty
    finally:
        await store.close()


async def test_a_long_typed_title_matching_more_papers_than_the_window_is_ranked_within_the_newest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long title-like queries read their matches oldest first (faster in FTS5, and usually few); when
    they are more than the window, the window is still the newest matches."""
    monkeypatch.setattr(answer, "DENSE_WINDOW", 20)
    store = await Store.open(tmp_path / "window.db")
    try:
        await store.bulk_insert_papers(
            Paper(
                id=f"2601.{n:05d}",
                title=f"Filler Paper {n}",
                summary=f"We study scaling, routing and sparse experts in trial {n}.",
                day=DAY - dt.timedelta(days=60 - n),
            )
            for n in range(30)
        )
        finder = Search(store)
        await finder.warm()
        dense = await finder.search("sparse routing experts scaling", limit=30)
        assert not dense.total_exact and dense.total == 20
        assert sorted(p.id for p in dense.papers) == [f"2601.{n:05d}" for n in range(10, 30)]
        few = await finder.search("sparse routing experts scaling trial 7", limit=30)
        assert few.total_exact and [p.id for p in few.papers] == ["2601.00007"]
    finally:
        await store.close()


async def test_reading_few_matches_in_stored_order_gives_the_newest_as_a_backward_read_does(tmp_path: Path) -> None:
    rng = random.Random(11)
    store = await Store.open(tmp_path / "order.db")
    try:
        await store.bulk_insert_papers(
            Paper(id=f"2601.{n:05d}", title=title, summary=title, day=DAY, github_repo="o/r" if n % 3 else None)
            for n, title in enumerate(_titles(rng, 600))
        )
        expressions = [
            " AND ".join(f'"{rng.choice(rng.choice(FORMS))}"' for _ in range(rng.randint(1, 4))) for _ in range(30)
        ]

        def both_ways(db: sqlite3.Connection) -> int:
            compared = 0
            for match in expressions:
                for limit in (1, 5, 40, 1000):
                    for filters in ((), parse("code:yes").filters):
                        titled = [
                            search_read.title_hits(db, match, limit=limit, filters=filters, likely_few=few)
                            for few in (True, False)
                        ]
                        assert titled[0] == titled[1], (match, limit)
                        hits = [
                            search_read.match_hits(db, match, limit=limit, filters=filters, likely_few=few)
                            for few in (True, False)
                        ]
                        assert hits[0] == hits[1], (match, limit)
                        compared += len(titled[0]) > limit // 2
            return compared

        assert await store.read(both_ways) > 50  # many reads found more than half their limit, some all of it
    finally:
        await store.close()


def test_a_phrase_is_held_only_adjacent_and_in_order_whatever_the_word_forms() -> None:
    stems = [stem("models"), stem("of"), stem("graphs")]
    assert titles.holds_phrase(["new", "modeling", "of", "graph"], stems)
    assert titles.holds_phrase(["model", "of", "graphs"], stems)
    assert not titles.holds_phrase(["graphs", "of", "models"], stems)
    assert not titles.holds_phrase(["models", "and", "of", "graphs"], stems)
    assert not titles.holds_phrase(["models", "of"], stems)  # cut short at the title's end
    assert titles.holds_phrase(["anything"], [])


async def test_a_vocabulary_brought_up_to_date_is_a_copy_and_the_one_searches_read_stays_whole(tmp_path: Path) -> None:
    """New titles make a new vocabulary, as if counted in place; the one a search under way reads is unchanged."""
    first = ["Modeling Happy Models", "Modern Modes", "Über Graphs"]
    later = ["The Model of Happiness", "Modelled Graph", "A Mode", "Übers Naïve Models", "Modest Graphs"]
    read = await _vocabulary_of(tmp_path / "first.db", first)
    words = sorted({w for t in [*first, *later] for w in fold_tokens(t)})

    def seen(vocabulary: TitleWords) -> list[object]:
        return [
            len(vocabulary),
            [vocabulary.count(w) for w in words],
            [vocabulary.family(w) for w in [*words, "modelling"]],
            [vocabulary.completions(p) for p in ("mod", "gra", "ub")],
            [vocabulary.similar(w) for w in ("modelz", "grapsh", "happines")],
        ]

    before = seen(read)
    grown = read.with_titles(later)
    assert grown is not read and seen(read) == before
    counted = await _vocabulary_of(tmp_path / "counted.db", first)
    counted.add_titles(later)
    assert seen(grown) == seen(counted) != before
    assert grown.family("models")[0] == ["models", "model", "modeling", "modelled"]
    assert read.with_titles([]) is read
