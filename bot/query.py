"""The query language of search and alerts: parse text to an AST, then to FTS5 or a Python predicate.

    diffusion video              both words (AND is implicit)
    "mixture of experts"         a phrase
    diffusion OR flow            either
    -survey   NOT survey         exclude
    (llm OR "language model") agent
    title:mamba  author:"Tri Dao"  abstract:retrieval  keyword:rlhf  title:(mamba OR ssm)
    upvotes:>=50  day:>=2025-01-01  day:2026-06-01..2026-06-12  code:yes

Words are read the way the `papers_fts` table reads text (FTS5 `porter unicode61 remove_diacritics 2`):
split into tokens, case and diacritics folded, Porter-stemmed. A word that splits into several tokens
(`state-of-the-art`) is a phrase. The SQL side gets an FTS5 expression in which every term is a quoted
string of folded tokens, so no user text is ever read as FTS5 syntax; the Python side evaluates the same
AST over the same tokens, so both agree on every paper.

Very common words (`the`, `of`, `we`, ...) typed bare are left out of a query that has other words;
in quotes or inside a phrase they count.

Filters (`upvotes:`, `day:`, `code:`) restrict the whole query: they may be combined with AND only, not
inside OR or a negated group. A query of negated words only (`-survey`) means "every paper except".
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any, Literal, TypeAlias

from rapidfuzz.distance import Levenshtein

from bot.models import Paper

log = logging.getLogger(__name__)

MAX_QUERY_LENGTH = 300
MAX_TERMS = 20
MAX_DEPTH = 5

# Text fields a user may name, and the FTS columns each searches (unfielded words search all of them).
FIELD_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "author": ("authors",),
    "abstract": ("summary",),
    "keyword": ("keywords",),
}
_FIELD_ALIASES = {"authors": "author", "keywords": "keyword", "summary": "abstract"}
ALL_COLUMNS = ("title", "authors", "keywords", "summary", "ai_summary")
FILTER_FIELDS = ("upvotes", "day", "code")
# Words in nearly every abstract: a bare one is left out of a query that has other words (it would
# match almost everything and cost the index a full read). Quoted or in a phrase, it counts.
COMMON_WORDS = frozenset(str.split(
    "a also an and are as at based be been both by can for from has have however in into is it its of on "
    "or our such than that the their these this to using via was we were which while with"
))

FilterField: TypeAlias = Literal["upvotes", "day", "code"]
Op: TypeAlias = Literal["=", ">", ">=", "<", "<="]
_INVERSE: dict[str, Op] = {">": "<=", ">=": "<", "<": ">=", "<=": ">"}

_MAX_TOKEN_BYTES = 32768  # FTS5 keeps at most this many bytes of one token
_PORTER_MAX_BYTES = 64  # longer tokens pass the porter stage unstemmed, as do tokens under 3 bytes


class QueryError(ValueError):
    """A query that cannot be parsed: what is wrong, where (0-based character index), and how to fix it."""

    def __init__(self, message: str, position: int, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.hint = hint

    def describe(self) -> str:
        """One line for a user: the problem, its position and the hint."""
        return f"{self.message} (at character {self.position}): {self.hint}"


# ---------------------------------------------------------------- tokenizer

_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_char_folds: dict[str, str | None] = {}


def _learn_chars(text: str) -> None:
    """Ask SQLite how it reads the non-ASCII characters of `text` not seen before."""
    unknown = {c for c in text if c >= "\x80" and c not in _char_folds}
    if not unknown:
        return
    surrogates = {c for c in unknown if "\ud800" <= c <= "\udfff"}
    for char in surrogates:  # cannot be stored as UTF-8, so never part of a stored word
        _char_folds[char] = None
    if unknown - surrogates:
        from bot.store.search import fold_chars  # the store owns the SQLite side

        _char_folds.update(fold_chars(unknown - surrogates))


def fold_tokens(text: str) -> list[str]:
    """The words of `text` as FTS5 unicode61 (remove_diacritics 2) sees them, before stemming."""
    if text.isascii():
        return [word.lower() for word in _ASCII_WORD.findall(text)]
    _learn_chars(text)
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        if char < "\x80":
            if char.isalnum():
                current.append(char.lower())
                continue
            fold = None
        else:
            fold = _char_folds[char]
        if fold is None:
            if current:
                tokens.append("".join(current))
                current = []
        else:
            current.append(fold)
    if current:
        tokens.append("".join(current))
    # A word made only of dropped marks is no word at all.
    return [token for token in tokens if token]


@functools.lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """The Porter stem of one folded token, exactly as FTS5's porter tokenizer computes it."""
    if token.isascii():
        if len(token) < 3 or len(token) > _PORTER_MAX_BYTES:
            return token[:_MAX_TOKEN_BYTES]
        return _porter(token)
    raw = token.encode("utf-8", "surrogateescape")
    if len(raw) > _MAX_TOKEN_BYTES:
        raw = raw[:_MAX_TOKEN_BYTES]
    if 3 <= len(raw) <= _PORTER_MAX_BYTES:
        # FTS5 stems bytes: other bytes than ASCII letters are consonants that match no suffix.
        raw = _porter(raw.decode("latin-1")).encode("latin-1")
    return raw.decode("utf-8", "surrogateescape")


def tokenize(text: str) -> list[str]:
    """The stemmed tokens FTS5 indexes for `text`, in order."""
    return [stem(token) for token in fold_tokens(text)]


# ---------------------------------------------------------------- Porter stemmer (FTS5 variant)
# Rules of M. F. Porter, "An algorithm for suffix stripping" (1980), with the choices of SQLite's
# porter tokenizer: within a step the suffixes sharing their second-to-last letter are tried in a
# fixed order and the first whose stem is non-empty decides (its condition may still fail).


def _consonants(word: str) -> list[bool]:
    """True where `word` has a consonant; y is a vowel after a consonant."""
    pattern: list[bool] = []
    previous_consonant = False
    for char in word:
        if char in "aeiou":
            consonant = False
        elif char == "y":
            consonant = not previous_consonant
        else:
            consonant = True
        pattern.append(consonant)
        previous_consonant = consonant
    return pattern


def _measure(stem_text: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in the stem."""
    pattern = _consonants(stem_text)
    return sum(1 for i in range(1, len(pattern)) if pattern[i] and not pattern[i - 1])


def _has_vowel(stem_text: str) -> bool:
    """Porter's *v*, as FTS5 tests it: y counts as a vowel anywhere but the first letter."""
    return any(c in "aeiou" or (c == "y" and i > 0) for i, c in enumerate(stem_text))


def _ends_cvc(stem_text: str) -> bool:
    """Porter's *o: consonant-vowel-consonant at the end, the last not w, x or y."""
    if len(stem_text) < 3 or stem_text[-1] in "wxy":
        return False
    pattern = _consonants(stem_text)
    return pattern[-1] and not pattern[-2] and pattern[-3]


def _m_gt0(s: str) -> bool:
    return _measure(s) > 0


def _m_gt1(s: str) -> bool:
    return _measure(s) > 1


def _m_gt1_st(s: str) -> bool:
    return s[-1:] in ("s", "t") and _measure(s) > 1


Rule: TypeAlias = tuple[str, str, Callable[[str], bool]]


def _rules(rules: Iterable[Rule]) -> dict[str, list[Rule]]:
    """Group (suffix, replacement, condition) rules by the suffix's second-to-last letter, keeping order."""
    grouped: dict[str, list[Rule]] = {}
    for rule in rules:
        grouped.setdefault(rule[0][-2], []).append(rule)
    return grouped


_STEP2 = _rules((suffix, out, _m_gt0) for suffix, out in (
    ("ational", "ate"), ("tional", "tion"), ("enci", "ence"), ("anci", "ance"), ("izer", "ize"),
    ("logi", "log"), ("bli", "ble"), ("alli", "al"), ("entli", "ent"), ("eli", "e"), ("ousli", "ous"),
    ("ization", "ize"), ("ation", "ate"), ("ator", "ate"), ("alism", "al"), ("iveness", "ive"),
    ("fulness", "ful"), ("ousness", "ous"), ("aliti", "al"), ("iviti", "ive"), ("biliti", "ble"),
))
_STEP3 = _rules((suffix, out, _m_gt0) for suffix, out in (
    ("ical", "ic"), ("ness", ""), ("icate", "ic"), ("iciti", "ic"), ("ful", ""), ("ative", ""),
    ("alize", "al"),
))
_STEP4 = _rules(
    (suffix, "", _m_gt1_st if suffix == "ion" else _m_gt1)
    for suffix in (
        "al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou",
        "ism", "ate", "iti", "ous", "ive", "ize",
    )
)


def _apply(word: str, rules: dict[str, list[Rule]]) -> tuple[str, bool]:
    """Apply the first rule whose suffix ends `word` with a non-empty stem; (result, whether it fired)."""
    if len(word) < 2:
        return word, False
    for suffix, replacement, condition in rules.get(word[-2], ()):
        if len(word) > len(suffix) and word.endswith(suffix):
            base = word[: -len(suffix)]
            if condition(base):
                return base + replacement, True
            return word, False
    return word, False


def _porter(word: str) -> str:
    # Step 1a: plurals.
    if word.endswith("s"):
        if word.endswith("es"):
            if (len(word) > 4 and word.endswith("sses")) or (len(word) > 3 and word.endswith("ies")):
                word = word[:-2]
            else:
                word = word[:-1]
        elif not word.endswith("ss"):
            word = word[:-1]
    # Step 1b: -eed, -ed, -ing.
    removed = False
    if len(word) > 3 and word.endswith("eed"):
        if _m_gt0(word[:-3]):
            word = word[:-1]
    elif len(word) > 2 and word.endswith("ed"):
        if _has_vowel(word[:-2]):
            word, removed = word[:-2], True
    elif len(word) > 3 and word.endswith("ing") and _has_vowel(word[:-3]):
        word, removed = word[:-3], True
    if removed:
        if len(word) > 2 and word[-2:] in ("at", "bl", "iz"):
            word += "e"
        elif len(word) >= 2 and word[-1] not in "aeioulsz" and word[-1] == word[-2]:
            word = word[:-1]
        elif _measure(word) == 1 and _ends_cvc(word):
            word += "e"
    # Step 1c: y after a vowel-bearing stem.
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word, _ = _apply(word, _STEP2)
    word, _ = _apply(word, _STEP3)
    word, _ = _apply(word, _STEP4)
    # Step 5a: a final e.
    if word.endswith("e"):
        base = word[:-1]
        measure = _measure(base)
        if measure > 1 or (measure == 1 and not _ends_cvc(base)):
            word = base
    # Step 5b: a final double l.
    if len(word) > 1 and word.endswith("ll") and _m_gt1(word[:-1]):
        word = word[:-1]
    return word


# ---------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Term:
    """A word or phrase: its folded tokens in order in one column of `field` (any column if None)."""

    tokens: tuple[str, ...]
    field: str | None = None
    position: int = dc_field(default=0, compare=False)
    quoted: bool = dc_field(default=False, compare=False)  # typed in quotes (same meaning either way)

    @property
    def stems(self) -> tuple[str, ...]:
        """The tokens as the index stores them."""
        return tuple(stem(t) for t in self.tokens)

    @property
    def columns(self) -> tuple[str, ...]:
        """The FTS columns this term may match in."""
        return FIELD_COLUMNS[self.field] if self.field else ALL_COLUMNS


@dataclass(frozen=True, slots=True)
class Filter:
    """A condition on a paper's metadata: upvotes or day compared with a value, or code yes/no."""

    field: FilterField
    op: Op
    value: int | dt.date | bool
    position: int = dc_field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    """Papers that do not match `child`."""

    child: Node
    position: int = dc_field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """Papers that match every child."""

    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Papers that match at least one child."""

    children: tuple[Node, ...]


Node: TypeAlias = Term | Filter | Not | And | Or
Column: TypeAlias = str | None


@dataclass(frozen=True, slots=True)
class FtsQuery:
    """A query compiled for the store.

    `match` is an FTS5 expression (None when the query has no words); `exclude` says the query wants the
    papers that do NOT match it. `filters` are (field, op, value) to be combined with AND.
    """

    match: str | None
    exclude: bool
    filters: tuple[tuple[str, str, object], ...]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: the text typed and its AST (words and filters)."""

    text: str
    root: Node
    # Every word typed outside filters, common ones included, folded: what a title lookup compares.
    typed_words: tuple[str, ...] = dc_field(default=(), compare=False)

    @property
    def filters(self) -> tuple[Filter, ...]:
        """The metadata filters, all combined with AND."""
        return _split_filters(self.root)[1]

    @property
    def words(self) -> Node | None:
        """The part of the query about text, without the filters."""
        return _split_filters(self.root)[0]

    def plain_words(self) -> list[str]:
        """The folded words of a query made only of unfielded words and phrases joined by AND, else []."""
        words = self.words
        parts = words.children if isinstance(words, And) else (words,) if words else ()
        if not all(isinstance(p, Term) and p.field is None for p in parts):
            return []
        return [token for p in parts if isinstance(p, Term) for token in p.tokens]

    def has_quotes(self) -> bool:
        """Whether some words were typed in quotes (a deliberate phrase, not a title typed loosely)."""
        return any(isinstance(t, Term) and t.quoted for t in leaves(self.root))

    def filters_hold(self, paper: Paper) -> bool:
        """Whether the paper passes the query's metadata filters (its words aside)."""
        return all(_filter_holds(f, paper) for f in self.filters)

    def fts(self) -> FtsQuery:
        """The FTS5 expression and filters that select the same papers as `matches`."""
        words, filters = _split_filters(self.root)
        plain = tuple((f.field, f.op, f.value) for f in filters)
        if words is None:
            return FtsQuery(None, False, plain)
        positive, expression = compile_fts(words)
        return FtsQuery(expression, not positive, plain)

    def matches(self, paper: Paper | PaperText) -> bool:
        """Whether the paper matches, decided in Python exactly as the FTS5 query decides it."""
        text = paper if isinstance(paper, PaperText) else PaperText.of(paper)
        return _evaluate(self.root, text)

    def required_terms(self) -> frozenset[tuple[Column, str]] | None:
        """(column or None for any column, stem) pairs of which every matching paper has at least one.

        None when no such set exists (filters only, or a negation that matches papers without words).
        """
        words = _split_filters(self.root)[0]
        return _required(words) if words is not None else None

    def normalized(self) -> str:
        """Canonical text for the query: equal for queries that differ only in order, case or spacing."""
        return _render(_canonical(self.root), top=True)


# ---------------------------------------------------------------- paper text


@dataclass(frozen=True, slots=True)
class PaperText:
    """A paper's FTS columns as stemmed token positions, ready for many queries."""

    paper: Paper
    positions: dict[str, dict[str, frozenset[int]]]

    @classmethod
    def of(cls, paper: Paper) -> PaperText:
        """Tokenize a paper's columns as the papers_fts triggers fill them."""
        columns = {
            "title": paper.title,
            "authors": " ; ".join(paper.authors),
            "keywords": " ; ".join(paper.ai_keywords),
            "summary": paper.summary,
            "ai_summary": paper.ai_summary or "",
        }
        positions: dict[str, dict[str, frozenset[int]]] = {}
        for name, text in columns.items():
            found: dict[str, set[int]] = {}
            for index, token in enumerate(tokenize(text)):
                found.setdefault(token, set()).add(index)
            positions[name] = {token: frozenset(where) for token, where in found.items()}
        return cls(paper, positions)

    def has_phrase(self, stems: tuple[str, ...], columns: tuple[str, ...]) -> bool:
        """Whether the stems occur consecutively in one of `columns`."""
        for column in columns:
            index = self.positions[column]
            starts = index.get(stems[0])
            if not starts:
                continue
            rest = [index.get(s) for s in stems[1:]]
            if any(r is None for r in rest):
                continue
            for start in starts:
                if all(start + i + 1 in r for i, r in enumerate(rest) if r is not None):
                    return True
        return False

    def terms(self) -> set[tuple[Column, str]]:
        """Every (column, stem) and (None, stem) in the paper: what `required_terms` are checked against."""
        found: set[tuple[Column, str]] = set()
        for column, index in self.positions.items():
            for token in index:
                found.add((column, token))
                found.add((None, token))
        return found


def leaves(node: Node) -> Iterable[Node]:
    """Every term and filter under `node`."""
    if isinstance(node, And | Or):
        for child in node.children:
            yield from leaves(child)
    elif isinstance(node, Not):
        yield from leaves(node.child)
    else:
        yield node


def _evaluate(node: Node, text: PaperText) -> bool:
    if isinstance(node, Term):
        return text.has_phrase(node.stems, node.columns)
    if isinstance(node, Filter):
        return _filter_holds(node, text.paper)
    if isinstance(node, Not):
        return not _evaluate(node.child, text)
    if isinstance(node, And):
        return all(_evaluate(c, text) for c in node.children)
    return any(_evaluate(c, text) for c in node.children)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def _filter_holds(node: Filter, paper: Paper) -> bool:
    if node.field == "code":
        return paper.has_code == node.value
    if node.field == "upvotes":
        return _OPERATORS[node.op](paper.upvotes, node.value)
    # A paper never featured on a day has no day: no day filter holds (as NULL in SQL).
    return paper.day is not None and _OPERATORS[node.op](paper.day, node.value)


# ---------------------------------------------------------------- compile to FTS5


def _fts_string(term: Term) -> str:
    # Folded tokens hold only word characters, which fold to themselves: FTS5 reads back the same tokens.
    quoted = '"' + " ".join(term.tokens).replace('"', '""') + '"'
    if term.field is None:
        return quoted
    return "{" + " ".join(FIELD_COLUMNS[term.field]) + "} : " + quoted


def _group(parts: list[str], op: str) -> str:
    return parts[0] if len(parts) == 1 else "(" + f" {op} ".join(parts) + ")"


def compile_fts(node: Node) -> tuple[bool, str]:
    """(positive, expression): the papers matching `node` (no filters) are MATCH(expression), or the rest."""
    if isinstance(node, Term):
        return True, _fts_string(node)
    if isinstance(node, Not):
        positive, expression = compile_fts(node.child)
        return not positive, expression
    if isinstance(node, Filter):  # filters are split off before compiling
        raise TypeError("a filter has no FTS5 form")
    compiled = [compile_fts(c) for c in node.children]
    positives = [e for p, e in compiled if p]
    negatives = [e for p, e in compiled if not p]
    if isinstance(node, And):
        if not positives:  # not a and not b = not (a or b)
            return False, _group(negatives, "OR")
        if not negatives:
            return True, _group(positives, "AND")
        return True, f"({_group(positives, 'AND')} NOT {_group(negatives, 'OR')})"
    if not negatives:
        return True, _group(positives, "OR")
    # a or not b = not (b and not a)
    if not positives:
        return False, _group(negatives, "AND")
    return False, f"({_group(negatives, 'AND')} NOT {_group(positives, 'OR')})"


def _split_filters(root: Node) -> tuple[Node | None, tuple[Filter, ...]]:
    if isinstance(root, Filter):
        return None, (root,)
    if isinstance(root, And):
        filters = tuple(c for c in root.children if isinstance(c, Filter))
        words = [c for c in root.children if not isinstance(c, Filter)]
        if not words:
            return None, filters
        return (words[0] if len(words) == 1 else And(tuple(words))), filters
    return root, ()


# ---------------------------------------------------------------- required terms


def _required(node: Node) -> frozenset[tuple[Column, str]] | None:
    if isinstance(node, Term):
        columns = node.columns
        column = columns[0] if len(columns) == 1 else None
        # Every token is required; the longest is likely the rarest.
        chosen = max(node.stems, key=lambda s: (len(s), s))
        return frozenset({(column, chosen)})
    if isinstance(node, Filter | Not):
        return None
    parts = [_required(c) for c in node.children]
    if isinstance(node, And):
        known = [p for p in parts if p is not None]
        if not known:
            return None
        return min(known, key=lambda p: (len(p), sorted(str(t) for t in p)))
    if any(p is None for p in parts):
        return None
    return frozenset().union(*(p for p in parts if p is not None))


# ---------------------------------------------------------------- canonical text


def _canonical(node: Node) -> Node:
    """Flatten, sort and de-duplicate AND/OR operands; drop double negation."""
    if isinstance(node, Not):
        child = _canonical(node.child)
        return child.child if isinstance(child, Not) else Not(child)
    if isinstance(node, And | Or):
        kind = type(node)
        flat: list[Node] = []
        for child in (_canonical(c) for c in node.children):
            flat.extend(child.children if isinstance(child, kind) else (child,))
        unique = {_render(c): c for c in flat}
        ordered = [unique[k] for k in sorted(unique, key=lambda k: (k.startswith(_FILTER_PREFIXES), k))]
        return ordered[0] if len(ordered) == 1 else kind(tuple(ordered))
    return node


_FILTER_PREFIXES = tuple(f"{name}:" for name in FILTER_FIELDS)


def _render(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        bare = len(node.tokens) == 1 and (node.field or node.tokens[0] not in COMMON_WORDS)
        words = node.tokens[0] if bare else '"' + " ".join(node.tokens) + '"'
        return f"{node.field}:{words}" if node.field else words
    if isinstance(node, Filter):
        if node.field == "code":
            return "code:yes" if node.value else "code:no"
        value = node.value.isoformat() if isinstance(node.value, dt.date) else str(node.value)
        return f"{node.field}:{'' if node.op == '=' else node.op}{value}"
    if isinstance(node, Not):
        return "-" + _render(node.child)
    parts = [_render(c) for c in node.children]
    if isinstance(node, And):
        parts = _join_ranges(parts)
    joined = (" " if isinstance(node, And) else " OR ").join(parts)
    return joined if top else f"({joined})"


def _join_ranges(parts: list[str]) -> list[str]:
    """Write `f:>=a f:<=b` as `f:a..b`, the form a user types (and one term, not two)."""
    for name in ("upvotes", "day"):
        lows = [p for p in parts if p.startswith(f"{name}:>=")]
        highs = [p for p in parts if p.startswith(f"{name}:<=")]
        if len(lows) == 1 and len(highs) == 1:
            at = parts.index(lows[0])
            merged = f"{name}:{lows[0][len(name) + 3:]}..{highs[0][len(name) + 3:]}"
            parts = [p for p in parts if p not in (lows[0], highs[0])]
            parts.insert(min(at, len(parts)), merged)
    return parts


def normalize(query: str | Query) -> str:
    """The canonical text of a query (raises QueryError for text that does not parse)."""
    return (query if isinstance(query, Query) else parse(query)).normalized()


def required_terms(query: str | Query) -> frozenset[tuple[Column, str]] | None:
    """See Query.required_terms."""
    return (query if isinstance(query, Query) else parse(query)).required_terms()


# ---------------------------------------------------------------- lexer

_NAMED = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NUMBER = re.compile(r"\d{1,9}")
_COMPARISON = re.compile(r"(>=|<=|>|<|=)?(.*)", re.DOTALL)


_KNOWN_NAMES = (*FIELD_COLUMNS, *FILTER_FIELDS)


def _field_meant(name: str) -> str | None:
    """The field or filter a name that is none of them was likely meant to be (a slip or two)."""
    if name == "date":
        return "day"
    for known in (*_KNOWN_NAMES, *_FIELD_ALIASES):
        slips = 1 if len(known) <= 4 else 2
        if name[:1] == known[0] and Levenshtein.distance(name, known, score_cutoff=slips) <= slips:
            return _FIELD_ALIASES.get(known, known)
    return None


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: str  # ( ) word phrase OR AND NOT - field filter end
    position: int
    text: str = ""
    name: str = ""


def _lex(text: str) -> list[_Lexeme]:
    lexemes: list[_Lexeme] = []
    terms = 0
    i, n = 0, len(text)

    def count_term(position: int) -> None:
        nonlocal terms
        terms += 1
        if terms > MAX_TERMS:
            raise QueryError(
                f"more than {MAX_TERMS} words and filters", position,
                f"a query may hold at most {MAX_TERMS}; remove some or split the query",
            )

    while i < n:
        char = text[i]
        if char.isspace():
            i += 1
        elif char in "()":
            lexemes.append(_Lexeme(char, i))
            i += 1
        elif char == '"':
            close = text.find('"', i + 1)
            if close < 0:
                raise QueryError(f"unclosed quote at {i}", i, f'add a closing " or remove the one at {i}')
            count_term(i)
            lexemes.append(_Lexeme("phrase", i, text[i + 1 : close]))
            i = close + 1
        elif char == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
            lexemes.append(_Lexeme("-", i))
            i += 1
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in '()"':
                i += 1
            word = text[start:i]
            if word in ("OR", "AND", "NOT"):
                lexemes.append(_Lexeme(word, start))
                continue
            named = _NAMED.fullmatch(word)
            name = named.group(1).lower() if named else ""
            name = _FIELD_ALIASES.get(name, name)
            if named and name in FIELD_COLUMNS:
                value = named.group(2)
                lexemes.append(_Lexeme("field", start, name=name))
                if value:
                    if value.startswith("-"):
                        raise QueryError(
                            f"a minus after {name}: at {start}", start,
                            f"put the minus before the field to exclude: -{name}:{value[1:]}",
                        )
                    count_term(start)
                    lexemes.append(_Lexeme("word", start + len(named.group(1)) + 1, value))
                elif i >= n or text[i].isspace():
                    raise QueryError(
                        f"{name}: at {start} has nothing after it", start,
                        f'write the word right after the colon: {name}:word, {name}:"a phrase" '
                        f"or {name}:(one OR other)",
                    )
            elif named and name in FILTER_FIELDS:
                count_term(start)
                lexemes.append(_Lexeme("filter", start, named.group(2), name))
            else:
                if named and named.group(2) and (meant := _field_meant(name)):
                    raise QueryError(
                        f"no field {named.group(1)}: at {start}", start,
                        f"did you mean {meant}:? Fields are {', '.join(_KNOWN_NAMES)}; "
                        f'put the text in quotes to search for it as written: "{word}"',
                    )
                # Other names stay text, so that pasted titles such as "Mamba: ..." still work.
                count_term(start)
                lexemes.append(_Lexeme("word", start, word))
    lexemes.append(_Lexeme("end", n))
    return lexemes


# ---------------------------------------------------------------- parser

_STARTS_UNARY = frozenset({"(", "word", "phrase", "NOT", "-", "field", "filter"})


class _Parser:
    def __init__(self, text: str, *, skip_common: bool) -> None:
        self.text = text
        self.lexemes = _lex(text)
        self.index = 0
        self.skip_common = skip_common

    def peek(self) -> _Lexeme:
        return self.lexemes[self.index]

    def take(self) -> _Lexeme:
        lexeme = self.lexemes[self.index]
        self.index += 1
        return lexeme

    def parse(self) -> Node | None:
        node = self.parse_or(0, None)
        lexeme = self.peek()
        if lexeme.kind == ")":
            raise QueryError(
                f"unmatched ) at {lexeme.position}", lexeme.position,
                "remove it or add a matching ( before it",
            )
        assert lexeme.kind == "end"
        return node

    def parse_or(self, depth: int, field_name: str | None) -> Node | None:
        branches = [self.parse_and(depth, field_name)]
        while self.peek().kind == "OR":
            operator = self.take()
            if self.peek().kind not in _STARTS_UNARY:
                raise QueryError(
                    f"OR at {operator.position} has nothing after it", operator.position,
                    "put a word or phrase after OR, or remove it",
                )
            branches.append(self.parse_and(depth, field_name))
        kept = [b for b in branches if b is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def parse_and(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.peek()
        if lexeme.kind in ("OR", "AND"):
            raise QueryError(
                f"{lexeme.kind} at {lexeme.position} has nothing before it", lexeme.position,
                f"put a word or phrase before {lexeme.kind}, or remove it",
            )
        if lexeme.kind not in _STARTS_UNARY:
            if lexeme.kind == ")":
                raise QueryError(
                    f"unmatched ) at {lexeme.position}", lexeme.position,
                    "remove it or add a matching ( before it",
                )
            raise QueryError(
                "empty query", lexeme.position, "type words to search for or a filter like code:yes"
            )
        parts = [self.parse_unary(depth, field_name)]
        while True:
            lexeme = self.peek()
            if lexeme.kind == "AND":
                self.take()
                if self.peek().kind not in _STARTS_UNARY:
                    raise QueryError(
                        f"AND at {lexeme.position} has nothing after it", lexeme.position,
                        "put a word or phrase after AND, or remove it",
                    )
            elif lexeme.kind not in _STARTS_UNARY:
                break
            parts.append(self.parse_unary(depth, field_name))
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else And(tuple(kept))

    def parse_unary(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.peek()
        if lexeme.kind in ("NOT", "-"):
            self.take()
            if self.peek().kind not in _STARTS_UNARY:
                word = "NOT" if lexeme.kind == "NOT" else "-"
                raise QueryError(
                    f"{word} at {lexeme.position} has nothing after it", lexeme.position,
                    f"put the word to exclude right after {word}, or remove it",
                )
            child = self.parse_unary(depth, field_name)
            return None if child is None else Not(child, lexeme.position)
        return self.parse_primary(depth, field_name)

    def parse_primary(self, depth: int, field_name: str | None) -> Node | None:
        lexeme = self.take()
        if lexeme.kind == "(":
            if depth + 1 > MAX_DEPTH:
                raise QueryError(
                    f"parentheses nested deeper than {MAX_DEPTH} at {lexeme.position}", lexeme.position,
                    f"use at most {MAX_DEPTH} levels of parentheses",
                )
            if self.peek().kind == ")":
                raise QueryError(
                    f"empty parentheses at {lexeme.position}", lexeme.position,
                    "put words inside the parentheses or remove them",
                )
            node = self.parse_or(depth + 1, field_name)
            if self.peek().kind != ")":
                raise QueryError(
                    f"unclosed ( at {lexeme.position}", lexeme.position,
                    f"add a ) to close the ( at {lexeme.position}, or remove it",
                )
            self.take()
            return node
        if lexeme.kind in ("word", "phrase"):
            tokens = tuple(fold_tokens(lexeme.text))
            if not tokens:
                return None
            if (
                self.skip_common and lexeme.kind == "word" and field_name is None
                and len(tokens) == 1 and tokens[0] in COMMON_WORDS
            ):
                return None
            return Term(tokens, field_name, lexeme.position, lexeme.kind == "phrase")
        if lexeme.kind == "field":
            if field_name is not None and field_name != lexeme.name:
                raise QueryError(
                    f"{lexeme.name}: inside {field_name}:( ) at {lexeme.position}", lexeme.position,
                    f"a group searches one field; move {lexeme.name}: out of the {field_name}:( ) group",
                )
            following = self.peek()
            if following.kind not in ("word", "phrase", "("):
                raise QueryError(
                    f"{lexeme.name}: at {lexeme.position} has nothing after it", lexeme.position,
                    f'write {lexeme.name}:word, {lexeme.name}:"a phrase" or {lexeme.name}:(one OR other)',
                )
            return self.parse_primary(depth, lexeme.name)
        if lexeme.kind == "filter":
            if field_name is not None:
                raise QueryError(
                    f"{lexeme.name}: inside {field_name}:( ) at {lexeme.position}", lexeme.position,
                    f"filters apply to the whole query; move {lexeme.name}: out of the group",
                )
            return _parse_filter(lexeme)
        raise QueryError(  # pragma: no cover - callers check _STARTS_UNARY first
            f"unexpected {lexeme.kind} at {lexeme.position}", lexeme.position, "check the query's syntax"
        )


def _parse_filter(lexeme: _Lexeme) -> Node:
    name, raw, position = lexeme.name, lexeme.text, lexeme.position
    if name == "code":
        answer = raw.lower()
        if answer not in ("yes", "no"):
            raise QueryError(f"code: takes yes or no, not {raw!r}", position, "write code:yes or code:no")
        return Filter("code", "=", answer == "yes", position)
    parse_value: Callable[[str], int | dt.date | None]
    if name == "upvotes":
        parse_value = _parse_number
        example = "upvotes:>=50, upvotes:10..100 or upvotes:0"
    else:
        parse_value = _parse_day
        example = "day:2026-06-12, day:>=2026-06-01 or day:2026-06-01..2026-06-12"
    bad = QueryError(f"{name}: cannot read {raw!r} at {position}", position, f"write {example}")
    if ".." in raw:
        low_text, _, high_text = raw.partition("..")
        low, high = parse_value(low_text), parse_value(high_text)
        if low is None or high is None:
            raise bad
        if low > high:  # type: ignore[operator]
            raise QueryError(
                f"{name}: range {raw!r} at {position} is empty", position,
                "put the smaller value first, as in " + example.split(", ")[-1].split(" or ")[-1],
            )
        return And((Filter(name, ">=", low, position), Filter(name, "<=", high, position)))  # type: ignore[arg-type]
    matched = _COMPARISON.fullmatch(raw)
    assert matched is not None
    value = parse_value(matched.group(2))
    if value is None:
        raise bad
    op: Op = matched.group(1) or "="  # type: ignore[assignment]
    return Filter(name, op, value, position)  # type: ignore[arg-type]


def _parse_number(text: str) -> int | None:
    return int(text) if _NUMBER.fullmatch(text) else None


def _parse_day(text: str) -> dt.date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


# ---------------------------------------------------------------- checks after parsing


def _flatten(node: Node) -> Node:
    """Merge nested ANDs (filter ranges parse as an AND of two filters) and ORs."""
    if isinstance(node, Not):
        return Not(_flatten(node.child), node.position)
    if isinstance(node, And | Or):
        kind = type(node)
        flat: list[Node] = []
        for child in (_flatten(c) for c in node.children):
            flat.extend(child.children if isinstance(child, kind) else (child,))
        return kind(tuple(flat))
    return node


def _place_filters(node: Node, top_level: bool) -> Node:
    """Check that filters only combine with AND at the top, and turn -filter into the opposite filter."""
    if isinstance(node, Filter):
        if not top_level:
            raise QueryError(
                f"{node.field}: inside OR or a negated group at {node.position}", node.position,
                f"filters apply to the whole query: move {node.field}: outside the parentheses and OR",
            )
        return node
    if isinstance(node, Not):
        inner = node.child
        if isinstance(inner, Filter) and top_level:
            return _negate_filter(inner, node.position)
        if top_level and _is_range(inner):
            raise QueryError(
                f"a range filter cannot be negated at {node.position}", node.position,
                "write the comparisons you want instead, e.g. upvotes:<10 or day:<2026-06-01",
            )
        return Not(_place_filters(inner, False), node.position)
    if isinstance(node, And):
        return And(tuple(_place_filters(c, top_level) for c in node.children))
    if isinstance(node, Or):
        return Or(tuple(_place_filters(c, False) for c in node.children))
    return node


def _is_range(node: Node) -> bool:
    """A `field:low..high` filter, which parses as two filters at one position."""
    return (
        isinstance(node, And)
        and len(node.children) == 2
        and all(isinstance(c, Filter) for c in node.children)
        and len({c.position for c in node.children if isinstance(c, Filter)}) == 1
    )


def _negate_filter(node: Filter, position: int) -> Filter:
    if node.field == "code":
        return Filter("code", "=", not node.value, node.position)
    if node.op == "=":
        raise QueryError(
            f"-{node.field}: with one value at {position}", position,
            f"write a comparison instead, e.g. {node.field}:<value or {node.field}:>value",
        )
    return Filter(node.field, _INVERSE[node.op], node.value, node.position)


def parse(text: str) -> Query:
    """Parse a query; raises QueryError (with position and hint) for anything it cannot read."""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH,
            f"shorten the query to {MAX_QUERY_LENGTH} characters",
        )
    parser = _Parser(text, skip_common=True)
    root = parser.parse()
    if root is None:
        # Only common words: search for them after all.
        root = _Parser(text, skip_common=False).parse()
    if root is None:
        raise QueryError(
            "nothing to search for", 0,
            "type words (letters or digits) to search for, or a filter such as day:2026-06-12",
        )
    root = _place_filters(_flatten(root), True)
    typed = tuple(
        token for lexeme in parser.lexemes if lexeme.kind in ("word", "phrase")
        for token in fold_tokens(lexeme.text)
    )
    return Query(text, _flatten(root), typed)
