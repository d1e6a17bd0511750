"""The one Action Unit (AU) string parser, used for every dataset (DESIGN.md section 3.1).

Why one parser
--------------
Every micro-expression release writes its FACS codes by hand, in a slightly different dialect:

* CASME II: an int cell for a single AU (``12``), ``'4+L10'``, ``'1+R2+25'``; ``'?'`` = AUs unknown;
* SAMM: ``'15A+17'`` (intensity A-E), ``'A12+A7'`` (asymmetric), ``'T23'``, ``'B18+25'``, ``'ref(7B)+43'``,
  ``'(R6 or R12)+R15'``, ``'10A/B'``, ``'A/L12'``, ``'R14+17+soft focus'``; its symbol key says ``"/" = or``,
  ``"L2 or R2"`` = unilateral, ``"A2"`` = asymmetric;
* SAMM long videos: ``'4(B/C)+7B'``, ``'(loses 1+2) or (4(B/C))'``, ``'12B ?'``;
* CAS(ME)^2: ``'10or11'``, ``'1+2+25,24'``, ``'NULL'``/``'null'``;
* 4DME: ``'AU12(k)+AU6'`` (``(k)`` = a static AU).

If each loader split these strings its own way, the same text would mean different AU sets in different datasets,
and cross-dataset protocols (composite MEGC splits, AU-based label schemes) would silently disagree. So there is one
grammar, the union of the dialects, read with the files' own symbol keys, and every loader calls :func:`parse_aus`.

The result keeps two views: ``aus``, the AUs coded with certainty (what label schemes use), and ``codes``, every AU
token with its side, intensity and flags (what an analysis of the coding itself needs). Nothing is guessed: an
alternative (``'X or Y'``, ``'X/Y'``) is not a certain AU, an AU inside ``ref(...)`` or followed by ``?`` is not
either, and text that is not an AU ('soft focus', 'big swallow', 'loses 1+2') goes to ``free_text`` verbatim, even
when it contains digits. The build reports every cell with free text (``AUParse.ok`` is False), so a person can
read it; the parser itself never raises, whatever the cell holds.

Grammar (whitespace allowed between tokens; a term is one or more juxtaposed units, e.g. ``'12B ?'``)::

    cell  := expr | '?' | NULL | ''
    expr  := alt (SEP alt)*                    SEP  := '+' | ','
    alt   := term (OR term)*                   OR   := 'or' | '/'        (>1 term: every AU is an alternative)
    term  := (unit ['?'])+                     '?' after a unit: its AUs are uncertain
    unit  := ATOM | '(' expr ')' | 'ref(' expr ')' | WORD
    ATOM  := ['AU'] [SIDE] ['AU'] NUMBER [INTENSITY] ['(k)']
    SIDE  := [LRATB] ('/' [LRATB])*            e.g. 'L', 'A/L' (ambiguous side; the AU itself is certain)
    INTENSITY := [A-E] ('/' [A-E])* | '(' [A-E] ('/' [A-E])* ')'     e.g. 'B', 'A/B' (from '10A/B'), 'B/C'

A term holding a WORD is free text as a whole (its verbatim span); so is a bracketed group or ``ref(...)`` whose
content is not clean, and an alternative made of free text only. An atom must end at a token boundary, so
``'12abc'`` or ``'2014'`` (more than three digits) are words, not AUs.

Parsing is cached by the cell's text: a corpus has hundreds of thousands of cells but only a few hundred distinct
AU strings.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, replace
from functools import lru_cache

__all__ = ["AUCode", "AUParse", "parse_aus"]


@dataclass(frozen=True, slots=True)
class AUCode:
    """One AU token as written in a cell."""

    au: int  # FACS AU number
    side: str | None = None  # 'L', 'R', 'A', 'T', 'B' as written (upper-cased), 'A/L' when ambiguous, or None
    intensity: str | None = None  # 'A'..'E', or an alternative such as 'B/C' / 'A/B', or None
    alternative: bool = False  # one of the AUs of an 'X or Y' / 'X/Y' alternative
    uncertain: bool = False  # marked with '?'
    reference: bool = False  # inside ref(...)
    static: bool = False  # '(k)' suffix (4DME): a static AU, still counted as present

    @property
    def certain(self) -> bool:
        """Counted in ``AUParse.aus``: not an alternative, not uncertain, not a reference (static AUs count)."""
        return not (self.alternative or self.uncertain or self.reference)

    def as_dict(self) -> dict:
        """Plain dict with the fields of ``mebench.schema.AU_CODE`` (a pyarrow struct)."""
        return {
            "au": self.au,
            "side": self.side,
            "intensity": self.intensity,
            "alternative": self.alternative,
            "uncertain": self.uncertain,
            "reference": self.reference,
            "static": self.static,
        }


@dataclass(frozen=True, slots=True)
class AUParse:
    """A parsed AU cell."""

    raw: str  # the cell as text, exactly as in the file ('' for None/NaN, '12' for 12 or 12.0)
    aus: tuple[int, ...] = ()  # AUs coded with certainty: sorted, unique
    codes: tuple[AUCode, ...] = ()  # every AU token, in order of appearance
    free_text: tuple[str, ...] = ()  # fragments that are not AU tokens, verbatim and stripped
    unknown: bool = False  # the cell says the AUs are unknown (a lone '?')

    @property
    def ok(self) -> bool:
        """True when the whole cell was read as AU grammar (nothing went to ``free_text``)."""
        return not self.free_text


# --------------------------------------------------------------------------------------------------------------------
# Cell -> text

_EMPTY_WORDS = frozenset({"null", "none", "nan", "n/a", "-"})
_INTEGRAL_TEXT = re.compile(r"^\s*([0-9]{1,3})\.0*\s*$")  # '12.0': an int cell that went through a float column


def _cell_text(cell: object) -> str:
    """The cell as text: None/NaN -> '', 12 -> '12', 12.0 -> '12', bytes decoded as UTF-8. Never raises."""
    try:
        if cell is None:
            return ""
        if isinstance(cell, str):
            return cell
        if isinstance(cell, (bytes, bytearray)):
            return bytes(cell).decode("utf-8", errors="replace")
        if type(cell).__name__ in ("NAType", "NaTType"):  # pandas.NA / NaT, without importing pandas
            return ""
        if isinstance(cell, bool):
            return str(cell)
        if isinstance(cell, numbers.Integral):
            return str(int(cell))
        if isinstance(cell, numbers.Real):
            value = float(cell)
            if math.isnan(value):
                return ""
            if value.is_integer():
                return str(int(value))
            return str(cell)
        return str(cell)
    except Exception:  # a huge int (str() limit), a broken __str__: keep something printable
        return f"<unprintable {type(cell).__name__}>"


# --------------------------------------------------------------------------------------------------------------------
# Tokenizer

_BOUNDARY = r"(?=$|[\s+,()/?]|(?i:or)(?![a-zA-Z]))"
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<sep>[+,])
  | (?P<ref>(?i:ref)\s*\()
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<q>\?)
  | (?P<atom>
        (?i:AU\s*)?
        (?P<side>(?i:[LRATB])(?:/(?i:[LRATB]))*)?
        (?i:AU\s*)?
        (?P<num>[0-9]{1,3})
        (?:
            \(\s*(?P<pint>(?i:[A-E])(?:\s*/\s*(?i:[A-E]))*)\s*\)
          | (?P<int>(?i:[A-E])(?:/(?i:[A-E]))*)
        )?
        (?P<static>\(\s*(?i:k)\s*\))?
    """
    + _BOUNDARY
    + r"""
    )
  | (?P<or>(?i:or)(?![a-zA-Z])|/)
  | (?P<word>[^\s+,()/?]+)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # sep, ref, lparen, rparen, q, atom, or, word
    start: int
    end: int
    code: AUCode | None = None


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    for m in _TOKEN.finditer(text):  # every character matches some alternative (word is the catch-all)
        kind = m.lastgroup if m.group("atom") is None else "atom"
        if kind == "ws":
            continue
        code = None
        if kind == "atom":
            intensity = m.group("pint") or m.group("int")
            code = AUCode(
                au=int(m.group("num")),
                side=m.group("side").upper() if m.group("side") else None,
                intensity=re.sub(r"\s+", "", intensity).upper() if intensity else None,
                static=m.group("static") is not None,
            )
        tokens.append(_Token(kind, m.start(), m.end(), code))
    return tokens


# --------------------------------------------------------------------------------------------------------------------
# Parser: recursive descent over the tokens. Items are AUCode (an AU token) or _Free (a verbatim fragment).


@dataclass(frozen=True, slots=True)
class _Free:
    text: str


_Item = AUCode | _Free
_UNIT_START = frozenset({"atom", "lparen", "ref", "word", "q"})


def _flag(items: list[_Item], **flags: bool) -> list[_Item]:
    return [replace(it, **flags) if isinstance(it, AUCode) else it for it in items]


def _has_free(items: list[_Item]) -> bool:
    return any(isinstance(it, _Free) for it in items)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i].kind if self.i < len(self.tokens) else None

    def span(self, first: int, last: int) -> str:
        """Verbatim text from token ``first`` to token ``last`` (inclusive), stripped."""
        return self.text[self.tokens[first].start : self.tokens[last].end].strip()

    def cell(self) -> list[_Item]:
        items: list[_Item] = []
        while self.i < len(self.tokens):
            items += self.expr()
            if self.peek() == "rparen":  # a stray ')': report it, go on
                items.append(_Free(")"))
                self.i += 1
        return items

    def expr(self) -> list[_Item]:
        items = self.alt()
        while self.peek() == "sep":
            self.i += 1
            items += self.alt()
        return items

    def alt(self) -> list[_Item]:
        first = self.i
        terms = [self.term()]
        while self.peek() == "or":
            self.i += 1
            terms.append(self.term())
        if len(terms) == 1:
            return terms[0]
        items = [it for t in terms for it in t]
        if all(isinstance(it, _Free) for it in items):  # 'soft or hard', a lone 'or': one fragment
            return [_Free(self.span(first, self.i - 1))]
        return _flag(items, alternative=True)

    def term(self) -> list[_Item]:
        first = self.i
        units: list[list[_Item]] = []
        has_word = False
        pending_q = False  # a '?' before any unit: applies to the next one
        while self.peek() in _UNIT_START:
            kind = self.peek()
            if kind == "q":
                self.i += 1
                if units:
                    units[-1] = _flag(units[-1], uncertain=True)
                else:
                    pending_q = True
                continue
            if kind == "word":
                has_word = True
                self.i += 1
                unit: list[_Item] = []
            elif kind == "atom":
                unit = [self.tokens[self.i].code]
                self.i += 1
            else:
                unit = self.group(reference=kind == "ref")
            if pending_q:
                unit, pending_q = _flag(unit, uncertain=True), False
            units.append(unit)
        if has_word:
            return [_Free(self.span(first, self.i - 1))]
        items = [it for u in units for it in u]
        if pending_q:
            items.append(_Free("?"))
        return items

    def group(self, reference: bool) -> list[_Item]:
        """'(' expr ')' or 'ref(' expr ')'; the current token is the opening one."""
        first = self.i
        self.i += 1
        inner = self.expr()
        if self.peek() != "rparen":  # unclosed: everything from the '(' is free text
            self.i = len(self.tokens)
            return [_Free(self.span(first, self.i - 1))]
        self.i += 1
        if _has_free(inner):
            if reference:
                return [_Free(self.span(first, self.i - 1))]
            return [_Free(self.text[self.tokens[first].end : self.tokens[self.i - 1].start].strip())]
        return _flag(inner, reference=True) if reference else inner


# --------------------------------------------------------------------------------------------------------------------
# Public entry point


def parse_aus(cell: object) -> AUParse:
    """Parse one AU cell of any dataset (see the module docstring for the grammar). Never raises."""
    return _parse_text(_cell_text(cell))


@lru_cache(maxsize=65536)
def _parse_text(raw: str) -> AUParse:
    try:
        stripped = raw.strip()
        if not stripped or stripped.lower() in _EMPTY_WORDS:
            return AUParse(raw)
        if not stripped.replace("?", "").strip():
            return AUParse(raw, unknown=True)
        m = _INTEGRAL_TEXT.match(stripped)
        items = [AUCode(int(m.group(1)))] if m else _Parser(raw).cell()
        codes = tuple(it for it in items if isinstance(it, AUCode))
        free = tuple(it.text for it in items if isinstance(it, _Free) and it.text)
        aus = tuple(sorted({c.au for c in codes if c.certain}))
        return AUParse(raw, aus, codes, free)
    except Exception:  # a bug must not stop a corpus build: the whole cell is reported as free text
        return AUParse(raw, free_text=(raw.strip() or raw,))
