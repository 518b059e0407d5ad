"""Characters and words as SQLite's FTS5 `unicode61 remove_diacritics 2` tokenizer reads them, without SQLite.

A character is a word character when its Unicode category is a letter (L*), a number (N*), private use
(Co) or unassigned (Cn); any other separates words. A word character folds to its case folding, and a
letter that decomposes into an ASCII letter and combining marks folds to that letter (é → e, İ → i); the
combining marks SQLite's diacritic table knows are word characters that fold to nothing.

SQLite's tables follow Unicode 6.1 while `unicodedata` follows a later version: the characters on which
the two differ are listed below (characters assigned or given a case since 6.1, which SQLite reads as
unassigned word characters folding to themselves, and a few whose category changed). A test reads every
BMP character and a sample of the others through a real FTS5 tokenizer and checks this agrees.
"""

from __future__ import annotations

import logging
import unicodedata

log = logging.getLogger(__name__)

_WORD_CATEGORIES = frozenset({"Co", "Cn"})


def _ranges(text: str) -> frozenset[str]:
    """The characters of whitespace-separated hex code points and `first-last` ranges."""
    chars: set[str] = set()
    for item in text.split():
        first, _, last = item.partition("-")
        chars.update(map(chr, range(int(first, 16), int(last or first, 16) + 1)))
    return frozenset(chars)


_SQLITE_KEEPS = _ranges(
    "01e1 037f 0528 052a 052c 052e 058d-058e 0605 061c-061d 07fd-07ff 0888 0890-0891 0898-089f 08ca-08e3 "
    "08ff 09fd-09fe 0a76 0afa-0aff 0b55 0c00 0c04 0c3c 0c77 0c81 0c84 0d00-0d01 0d3b-0d3c 0d4f 0d81 0eba "
    "13f8-13fd 1715 180f 1885-1886 1ab0-1ace 1b7d-1b7e 1c80-1c88 1c90-1cba 1cbd-1cbf 1cf7-1cf9 1de7-1dfb "
    "2066-2069 20ba-20c0 218a-218b 23f4-23ff 2700 2b4d-2b4f 2b5a-2b73 2b76-2b95 2b97-2bff 2c2f 2e3c-2e5d "
    "32ff a698 a69a a69e a796 a798 a79a a79c a79e a7ab-a7ae a7b0-a7b4 a7b6 a7b8 a7ba a7bc a7be a7c0 a7c2 "
    "a7c4-a7c7 a7c9 a7d0 a7d6 a7d8 a7f5 a82c a8c5 a8fc a8ff a9e5 aa7c-aa7d ab5b ab6a-ab6b ab70-abbf fbc2 "
    "fd40-fd4f fdcf fdfe-fdff fe27-fe2f 1018c-1018e 1019c 101a0 102e0 10376-1037a 104b0-104d3 1056f-1057a "
    "1057c-1058a 1058c-10592 10594-10595 10877-10878 10ac8 10ae5-10ae6 10af0-10af6 10b99-10b9c "
    "10c80-10cb2 10d24-10d27 10eab-10ead 10f46-10f50 10f55-10f59 10f82-10f89 11070 11073-11074 1107f "
    "110c2 110cd 11145-11146 11173-11175 111c9-111cf 111db 111dd-111df 1122c-1123e 112a9 112df-112ea "
    "11300-11303 1133b-1133c 1133e-11344 11347-11348 1134b-1134d 11357 11362-11363 11366-1136c "
    "11370-11374 11435-11446 1144b-1144f 1145a-1145b 1145d-1145e 114b0-114c3 114c6 115af-115b5 "
    "115b8-115d7 115dc-115dd 11630-11643 11660-1166c 116b9 1171d-1172b 1173c-1173f 1182c-1183b "
    "118a0-118bf 11930-11935 11937-11938 1193b-1193e 11940 11942-11946 119d1-119d7 119da-119e0 119e2 "
    "119e4 11a01-11a0a 11a33-11a39 11a3b-11a47 11a51-11a5b 11a8a-11a9c 11a9e-11aa2 11c2f-11c36 "
    "11c38-11c3f 11c41-11c45 11c70-11c71 11c92-11ca7 11ca9-11cb6 11d31-11d36 11d3a 11d3c-11d3d "
    "11d3f-11d45 11d47 11d8a-11d8e 11d90-11d91 11d93-11d97 11ef3-11ef8 11fd5-11ff1 11fff 12474 "
    "12ff1-12ff2 13430-13438 16a6e-16a6f 16af0-16af5 16b30-16b3f 16b44-16b45 16e40-16e5f 16e97-16e9a "
    "16f4f 16f7f-16f87 16fe2 16fe4 16ff0-16ff1 1bc9c-1bca3 1cf00-1cf2d 1cf30-1cf46 1cf50-1cfc3 "
    "1d1de-1d1ea 1d800-1da8b 1da9b-1da9f 1daa1-1daaf 1e000-1e006 1e008-1e018 1e01b-1e021 1e023-1e024 "
    "1e026-1e02a 1e130-1e136 1e14f 1e2ae 1e2ec-1e2ef 1e2ff 1e8d0-1e8d6 1e900-1e921 1e944-1e94a "
    "1e95e-1e95f 1ecac 1ecb0 1ed2e 1f0bf 1f0e0-1f0f5 1f10d-1f10f 1f12f 1f16c-1f16f 1f19b-1f1ad 1f23b "
    "1f260-1f265 1f321-1f32f 1f336 1f37d-1f37f 1f394-1f39f 1f3c5 1f3cb-1f3df 1f3f1-1f3ff 1f43f 1f441 "
    "1f4f8 1f4fd-1f4ff 1f53e-1f53f 1f544-1f54f 1f568-1f5fa 1f641-1f644 1f650-1f67f 1f6c6-1f6d7 "
    "1f6dd-1f6ec 1f6f0-1f6fc 1f780-1f7d8 1f7e0-1f7eb 1f7f0 1f800-1f80b 1f810-1f847 1f850-1f859 "
    "1f860-1f887 1f890-1f8ad 1f8b0-1f8b1 1f900-1fa53 1fa60-1fa6d 1fa70-1fa74 1fa78-1fa7c 1fa80-1fa86 "
    "1fa90-1faac 1fab0-1faba 1fac0-1fac5 1fad0-1fad9 1fae0-1fae7 1faf0-1faf6 1fb00-1fb92 1fb94-1fbca "
)
_SQLITE_SEPARATES = _ranges("19b0-19c0 19c8-19c9 1cf2-1cf3 fffe-ffff ")
_DROPPED_MARKS = _ranges(
    "0300 0301 0302 0303 0304 0306 0307 0308 0309 030a 030b 030c 030f 0311 031b 0323 0324 0325 0326 0327 "
    "0328 032d 032e 0330 0331 "
)
# SQLite lower-cases this one but keeps its marks (its diacritic table has no entry for it).
_SQLITE_SPECIAL = {"\u01e0": "\u01e1"}
# ASCII text folded in one translation of its bytes: letters and digits make words, upper case to lower,
# any other byte a space that parts them.
_ASCII_FOLDS = bytes(
    byte + 32 if 65 <= byte <= 90 else byte if 48 <= byte <= 57 or 97 <= byte <= 122 else 32 for byte in range(256)
)
_SURROGATES = ("\ud800", "\udfff")  # cannot be stored as UTF-8, so never part of a stored word
_folds: dict[str, str | None] = {}  # memo of fold_char for the non-ASCII characters seen so far


def fold_char(char: str) -> str | None:
    """What FTS5 folds one character to inside a word ("" if dropped), or None if it separates words."""
    if char < "\x80":
        return char.lower() if char.isalnum() else None
    if _SURROGATES[0] <= char <= _SURROGATES[1] or char in _SQLITE_SEPARATES:
        return None
    if char in _SQLITE_KEEPS:
        return char
    if char in _DROPPED_MARKS:
        return ""
    if char in _SQLITE_SPECIAL:
        return _SQLITE_SPECIAL[char]
    category = unicodedata.category(char)
    if category[0] not in "LN" and category not in _WORD_CATEGORIES:
        return None
    folded = char.casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    if len(decomposed) > 1 and decomposed[0].isascii() and all(map(unicodedata.combining, decomposed[1:])):
        return decomposed[0]
    if len(folded) == 1:
        return folded
    lower = char.lower()
    return lower if len(lower) == 1 else char


def fold_tokens(text: str) -> list[str]:
    """The words of `text` as FTS5 unicode61 (remove_diacritics 2) sees them, before stemming."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_FOLDS).decode("ascii").split()
    folds = _folds
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        if char < "\x80":
            fold = char.lower() if char.isalnum() else None
        elif char in folds:
            fold = folds[char]
        else:
            fold = folds[char] = fold_char(char)
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
