"""BibTeX entries for papers: `@misc` with the arXiv eprint fields, safe for any title or author name.

Decisions:
- Non-ASCII text (accents, other scripts) is kept as UTF-8: biber, bibtexu and LaTeX since 2018 read it
  as it is, and mapping it to TeX accent macros would lose scripts that have none. Citation keys alone are
  ASCII (accents folded, other letters dropped), since LaTeX and most tools want them so.
- TeX's special characters are written as text macros (`%` → `\\%`, `\\` → `\\textbackslash{}`, ...).
  Braces in the text become `\\textbraceleft{}` and `\\textbraceright{}`, not `\\{`: BibTeX counts even an
  escaped brace when it looks for the end of a value, so one unbalanced `\\{` would end the entry early.
  Every brace the entry holds is then one it put there itself, in balanced pairs.
- Whitespace runs (newlines included) become one space and control characters are dropped, so a field
  is one line; the entry holds no backtick, so it can sit inside a Markdown code block.
- Title words with a capital after their first letter (LLM, GPT-4, WebAgent) are wrapped in braces so
  that bibliography styles keep their case.
- An author name is turned to "Last, First" (a lower-case particle such as "van" or "de" stays with the
  last name); a name holding the word "and" is braced whole, so it stays one author.
- arXiv has no category field in the cache, so `primaryClass` is left out.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

from bot.models import Paper
from bot.query import canonical_category

log = logging.getLogger(__name__)

_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "%": r"\%",
    "&": r"\&",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "`": r"\textasciigrave{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
# Characters that change the direction of the text around them: dropped, so a field reads as it is.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PARTICLES = frozenset(str.split("van von der den de del della di da du dos das le la ten ter zu af av bin ibn"))
_KEY_SKIPPED_WORDS = frozenset(str.split("a an the on of in for to towards toward with"))
# Letters NFKD leaves alone but that have a usual ASCII spelling.
_ASCII_SPELLINGS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "œ": "oe",
        "Œ": "OE",
        "ı": "i",
    }
)
_SAFE_ID = re.compile(r"[^A-Za-z0-9./-]")
_OLD_STYLE_YEAR = re.compile(r"/(\d{2})\d{2}")
_NEW_STYLE_YEAR = re.compile(r"^(\d{2})\d{2}\.")


def plain_text(text: str) -> str:
    """`text` on one line: whitespace runs made one space, control and direction characters dropped."""
    kept = []
    for char in text:
        if char in _BIDI_CONTROLS:
            continue
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zl", "Zp"):
            kept.append(" ")
        elif category not in ("Cc", "Cs"):
            kept.append(char)
    return " ".join("".join(kept).split())


def escape(text: str) -> str:
    """`text` as a BibTeX field value: one line, TeX specials as macros, no brace of its own."""
    return "".join(_TEX_ESCAPES.get(char, char) for char in plain_text(text))


def _protect_case(word: str) -> str:
    escaped = escape(word)
    return "{" + escaped + "}" if any(char.isupper() for char in word[1:]) else escaped


def title_value(title: str) -> str:
    """The title as a field value, words with inner capitals braced so styles keep their case."""
    return " ".join(_protect_case(word) for word in plain_text(title).split(" ") if word)


def author_name(name: str) -> str:
    """One author as BibTeX reads names: "Last, First", or braced whole when it cannot be split safely."""
    words = plain_text(name).split(" ")
    words = [w for w in words if w]
    if not words:
        return ""
    if any(w.lower() == "and" for w in words):
        # "and" separates authors in BibTeX: keep this one name whole.
        return "{" + escape(" ".join(words)) + "}"
    if "," in " ".join(words) or len(words) == 1:
        # Already "Last, First", or a single name: BibTeX reads it as it is; braces keep stray commas inert.
        text = " ".join(words)
        return escape(text) if text.count(",") <= 1 else "{" + escape(text) + "}"
    last_start = len(words) - 1
    while last_start > 1 and words[last_start - 1].lower() in _PARTICLES:
        last_start -= 1
    last, first = " ".join(words[last_start:]), " ".join(words[:last_start])
    return f"{escape(last)}, {escape(first)}"


def authors_value(authors: Iterable[str]) -> str:
    """The authors joined with " and ", each in "Last, First" form."""
    return " and ".join(name for name in (author_name(a) for a in authors) if name)


def ascii_fold(text: str) -> str:
    """Letters and digits of `text` in ASCII, accents folded (é → e, ß → ss), anything else dropped."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_ASCII_SPELLINGS))
    return "".join(char for char in decomposed if char.isascii() and char.isalnum())


def paper_year(paper: Paper) -> int | None:
    """The year of publication: the published date, else the Daily Papers day, else from the arXiv id."""
    if paper.published is not None:
        return paper.published.year
    if paper.day is not None:
        return paper.day.year
    match = _NEW_STYLE_YEAR.match(paper.id) or _OLD_STYLE_YEAR.search(paper.id)
    if match is None:
        return None
    short = int(match.group(1))
    return 2000 + short if short < 91 else 1900 + short


def _last_name(name: str) -> str:
    formatted = author_name(name)
    if formatted.startswith("{"):
        return ascii_fold(name.split()[0]) if name.split() else ""
    return ascii_fold(formatted.split(",")[0].split(" ")[-1])


def citation_key(paper: Paper) -> str:
    """A stable key: first author's last name + year + first title word (ASCII, lower case)."""
    last = _last_name(paper.authors[0]).lower() if paper.authors else ""
    year = paper_year(paper)
    words = [ascii_fold(word).lower() for word in plain_text(paper.title).replace("-", " ").split(" ")]
    meaningful = [w for w in words if w and w not in _KEY_SKIPPED_WORDS]
    word = meaningful[0] if meaningful else next((w for w in words if w), "")
    key = f"{last}{year or ''}{word}"
    if not last and not word:
        key = "arxiv" + ascii_fold(paper.id)
    return key or "paper"


def bibtex_entry(paper: Paper, key: str | None = None) -> str:
    """The paper as a BibTeX `@misc` entry with its arXiv eprint (and primary class); `key` overrides the key."""
    safe_id = _SAFE_ID.sub("", paper.id)
    year = paper_year(paper)
    fields = [("title", title_value(paper.title))]
    authors = authors_value(paper.authors)
    if authors:
        fields.append(("author", authors))
    if year is not None:
        fields.append(("year", str(year)))
    fields += [("eprint", safe_id), ("archivePrefix", "arXiv")]
    primary = canonical_category(paper.primary_category or "")
    if primary is not None and not primary.endswith("*"):  # only a well-formed category goes into the file
        fields.append(("primaryClass", primary))
    if paper.journal_ref:
        fields.append(("note", escape(paper.journal_ref)))
    fields.append(("url", f"https://arxiv.org/abs/{safe_id}"))
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields)
    return f"@misc{{{key or citation_key(paper)},\n{body}\n}}\n"


def bibtex_file(papers: Iterable[Paper]) -> str:
    """Entries for several papers (each once), keys made unique with a letter suffix (b, c, ...)."""
    entries: list[str] = []
    used: set[str] = set()
    seen: set[str] = set()
    for paper in papers:
        if paper.id in seen:
            continue
        seen.add(paper.id)
        base = key = citation_key(paper)
        suffix = 1
        while key in used:
            suffix += 1
            key = base + (chr(ord("a") + suffix - 1) if suffix <= 26 else str(suffix))
        used.add(key)
        entries.append(bibtex_entry(paper, key))
    return "\n".join(entries)
