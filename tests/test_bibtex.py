"""BibTeX entries: fields, escaping of hostile titles and names, stable keys, files; read back by a strict parser."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.bibtex import author_name, bibtex_entry, bibtex_file, citation_key, plain_text
from bot.models import Paper

# The macros the entry may use, as a reader of the entry turns them back into text.
MACROS = {
    "textbackslash": "\\",
    "textbraceleft": "{",
    "textbraceright": "}",
    "textasciitilde": "~",
    "textasciicircum": "^",
    "textasciigrave": "`",
    "textless": "<",
    "textgreater": ">",
}


def paper(
    title: str = "Attention Is All You Need",
    authors: tuple[str, ...] = ("Ashish Vaswani", "Noam Shazeer"),
    **extra: object,
) -> Paper:
    return Paper(id="1706.03762", title=title, authors=authors, published=dt.date(2017, 6, 12), **extra)  # type: ignore[arg-type]


def parse_entries(text: str) -> list[tuple[str, str, dict[str, str]]]:
    """A strict BibTeX reader: (type, key, raw field values); fails on anything out of place."""
    entries: list[tuple[str, str, dict[str, str]]] = []
    at = 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return entries
        header = re.compile(r"@(\w+)\{([^,\s{}]+),").match(text, at)
        assert header, f"no entry header at {text[at : at + 40]!r}"
        kind, key, at = header.group(1), header.group(2), header.end()
        fields: dict[str, str] = {}
        while True:
            name = re.compile(r"\s*(\w+) = \{").match(text, at)
            if name is None:
                closing = re.compile(r"\s*\}").match(text, at)
                assert closing, f"expected a field or the end at {text[at : at + 40]!r}"
                at = closing.end()
                break
            at = name.end()
            depth, start = 1, at
            while depth:
                assert at < len(text), "value never closed"
                char = text[at]
                if char == "\\" and text[at + 1 : at + 2] in ("{", "}"):
                    raise AssertionError("an escaped brace: BibTeX would still count it")
                depth += {"{": 1, "}": -1}.get(char, 0)
                at += 1
            value = text[start : at - 1]
            assert "\n" not in value
            fields[name.group(1)] = value
            comma = re.compile(r",\n").match(text, at)
            if comma:
                at = comma.end()
        entries.append((kind, key, fields))


def read_text(value: str) -> str:
    """A field value back as plain text: macros and escapes read, grouping braces dropped."""
    out, at = [], 0
    while at < len(value):
        char = value[at]
        if char == "\\":
            macro = re.compile(r"\\([a-z]+)\{\}").match(value, at)
            if macro:
                out.append(MACROS[macro.group(1)])
                at = macro.end()
                continue
            assert value[at + 1] in "%&$#_", f"unknown escape {value[at : at + 5]!r}"
            out.append(value[at + 1])
            at += 2
            continue
        assert char not in "%&$#_~^`<>\\", f"unescaped {char!r}"
        if char not in "{}":
            out.append(char)
        at += 1
    return "".join(out)


DIRECTION_MARKS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def expected_text(text: str) -> str:
    kept = "".join(
        " " if c.isspace() or unicodedata.category(c) in ("Zl", "Zp") else c
        for c in text
        if unicodedata.category(c) not in ("Cc", "Cs") or c.isspace()
    )
    kept = "".join(c for c in kept if c not in DIRECTION_MARKS)
    return " ".join(kept.split())


def test_an_entry_has_the_arxiv_fields_in_bibtex_form() -> None:
    entry = bibtex_entry(paper())
    [(kind, key, fields)] = parse_entries(entry)
    assert (kind, key) == ("misc", "vaswani2017attention")
    assert fields == {
        "title": "Attention Is All You Need",
        "author": "Vaswani, Ashish and Shazeer, Noam",
        "year": "2017",
        "eprint": "1706.03762",
        "archivePrefix": "arXiv",
        "url": "https://arxiv.org/abs/1706.03762",
    }
    assert "primaryClass" not in entry  # the cache knows no arXiv category


def test_tex_specials_are_escaped_and_braces_become_macros() -> None:
    title = "100% of {unbalanced \\ $x$ & #1 under_score ~ ^ `code` <@123> @everyone"
    [(_, _, fields)] = parse_entries(bibtex_entry(paper(title=title)))
    assert r"100\% of \textbraceleft{}unbalanced \textbackslash{} \$x\$ \& \#1 under\_score" in fields["title"]
    assert read_text(fields["title"]) == title


def test_a_hostile_title_cannot_end_the_entry_or_start_another() -> None:
    title = "x}\n,\n  author = {Evil},\n}\n@misc{evil,\n  title = {pwned"
    text = bibtex_entry(paper(title=title))
    entries = parse_entries(text)
    assert len(entries) == 1 and entries[0][2]["author"] == "Vaswani, Ashish and Shazeer, Noam"
    assert read_text(entries[0][2]["title"]) == plain_text(title)
    assert "```" not in bibtex_entry(paper(title="``` code block ```"))


def test_newlines_controls_and_direction_marks_are_made_one_line() -> None:
    title = "Line one\r\nline\ttwo\x00\x07 \u202eevil\u2028end"
    [(_, _, fields)] = parse_entries(bibtex_entry(paper(title=title)))
    assert read_text(fields["title"]) == "Line one line two evil end"


def test_accents_and_other_scripts_stay_utf8_but_keys_are_ascii() -> None:
    p = paper(title="Über Äpfel: 深度学习", authors=("Zoë Ångström", "Łukasz Kaiser", "张伟"))
    [(_, key, fields)] = parse_entries(bibtex_entry(p))
    assert fields["author"] == "Ångström, Zoë and Kaiser, Łukasz and 张伟"
    assert read_text(fields["title"]) == "Über Äpfel: 深度学习"
    assert key == "angstrom2017uber" and key.isascii()


def test_inner_capitals_are_protected_from_bibliography_styles() -> None:
    [(_, _, fields)] = parse_entries(bibtex_entry(paper(title="LLMs and GPT-4 for WebAgents in the Wild")))
    assert fields["title"] == "{LLMs} and {GPT-4} for {WebAgents} in the Wild"


def test_author_names_in_bibtex_form() -> None:
    assert author_name("Tri Dao") == "Dao, Tri"
    assert author_name("Ludwig van Beethoven") == "van Beethoven, Ludwig"
    assert author_name("Maria de la Cruz") == "de la Cruz, Maria"
    assert author_name("Plato") == "Plato"
    assert author_name("Dao, Tri") == "Dao, Tri"
    assert author_name("  Jean-Luc \n Picard ") == "Picard, Jean-Luc"
    # "and" would split one author into two: the name is kept whole.
    assert author_name("Tom and Jerry") == "{Tom and Jerry}"
    assert author_name("A, B, C") == "{A, B, C}"
    assert author_name("{Evil} }") == r"\textbraceright{}, \textbraceleft{}Evil\textbraceright{}"
    assert author_name("\n\t") == ""


def test_hostile_author_names_give_a_valid_entry() -> None:
    authors = ("}", "@misc{x,", "<@&123>", "**bold** _it_", "a\\b", "x AND y", "", "Ann\nOther")
    [(_, _, fields)] = parse_entries(bibtex_entry(paper(authors=authors)))
    names = fields["author"].split(" and ")
    assert len(names) == 7  # the empty name is dropped; "x AND y" stays one braced name
    assert "{x AND y}" in names


def test_keys_are_stable_and_fall_back_when_parts_are_missing() -> None:
    assert citation_key(paper()) == citation_key(paper(upvotes=99)) == "vaswani2017attention"
    assert citation_key(paper(title="The Art of Scaling")) == "vaswani2017art"
    assert citation_key(paper(title="A-Star Search")) == "vaswani2017star"
    no_date = Paper(id="2406.12345", title="Mamba", authors=("Albert Gu",))
    assert citation_key(no_date) == "gu2024mamba"  # the year from the arXiv id
    assert citation_key(Paper(id="2406.12345", title="深度", authors=("张伟",))) == "arxiv240612345"
    assert citation_key(Paper(id="2406.12345", title="", authors=())) == "arxiv240612345"


def test_a_file_has_each_paper_once_with_unique_keys() -> None:
    first = paper()
    second = Paper(id="1706.99999", title="Attention Again", authors=("Ashish Vaswani",), published=dt.date(2017, 1, 1))
    third = Paper(id="1706.99998", title="Attention, Once More", authors=("A. Vaswani",), published=dt.date(2017, 1, 1))
    text = bibtex_file([first, second, first, third])
    keys = [key for _, key, _ in parse_entries(text)]
    assert keys == ["vaswani2017attention", "vaswani2017attentionb", "vaswani2017attentionc"]
    assert bibtex_file([]) == ""


names = st.text(st.characters(codec="utf-8"), max_size=40)


@settings(max_examples=300, deadline=None)
@given(title=st.text(st.characters(codec="utf-8"), max_size=120), authors=st.lists(names, max_size=5))
def test_any_title_and_authors_give_one_balanced_entry_that_reads_back(title: str, authors: list[str]) -> None:
    text = bibtex_entry(Paper(id="2406.12345", title=title, authors=tuple(authors)))
    entries = parse_entries(text)
    assert len(entries) == 1
    _, key, fields = entries[0]
    assert re.fullmatch(r"[a-z0-9]+", key)
    assert read_text(fields["title"]) == expected_text(title)
    if "author" in fields:
        # Every name given (none empty) is one author: " and " splits only between names.
        given_names = [a for a in authors if plain_text(a)]
        depth, parts, current = 0, [], ""
        value = fields["author"]
        at = 0
        while at < len(value):
            if depth == 0 and value.startswith(" and ", at):
                parts.append(current)
                current, at = "", at + 5
                continue
            depth += {"{": 1, "}": -1}.get(value[at], 0)
            current += value[at]
            at += 1
        parts.append(current)
        assert len(parts) == len(given_names)


def test_an_arxiv_paper_cites_its_primary_class_and_journal() -> None:
    arxiv = Paper(
        id="2606.11111",
        title="Parsing with Sparse Experts",
        authors=("Ada Lovelace",),
        published=dt.date(2026, 6, 10),
        categories=("cs.CL", "cs.LG"),
        sources=("arxiv",),
        journal_ref="ACL 2026 & friends",
    )
    entry = bibtex_entry(arxiv)
    assert "  primaryClass = {cs.CL},\n" in entry
    assert "  note = {ACL 2026 \\& friends},\n" in entry
    assert entry.index("archivePrefix") < entry.index("primaryClass") < entry.index("url")
    hostile = dataclasses.replace(arxiv, categories=("cs.CL},\n  evil = {x",), journal_ref=None)
    assert "primaryClass" not in bibtex_entry(hostile) and "evil" not in bibtex_entry(hostile)
    assert "primaryClass" not in bibtex_entry(dataclasses.replace(arxiv, categories=()))
