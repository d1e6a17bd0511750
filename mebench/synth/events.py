"""Ground truth of the shadow datasets: which expressions happen, with which AUs, emotion, type and timing.

Each dataset has its own AU -> emotion tendencies (so that recognition is learnable from what is rendered) and its
own way of writing AU cells (so that the loaders meet the real quirks). An ``Expression`` carries both: ``aus`` is
what the renderer moves (AU, side, amplitude), ``au_cell`` is the native cell as the file will hold it.

Emotion tendencies (AU patterns per native emotion; each dataset's frequency of emotions follows its release, flattened
at the tiny/small scales so that every class has examples):

- CASME II: happiness 12 / 6+12 / L12; disgust 9 / 4+9 / 4+L10 / 10; surprise 1+2 (+25); repression 14 / 15 / 17 /
  15+17; sadness 1+4; fear 1+2+4 / 20; others 4 / 7 / 4+7 / 18 / 38.
- SAMM: Anger 4 / 4+7 / 23 / 24; Happiness 12 / 6+12 / A12; Surprise 1+2 / 5 / 1+2+25; Contempt unilateral 12 or 14;
  Disgust 9 / 10 / 4+9; Fear 20 / 1+2+4; Sadness 15 / 1+4 / 15+17; Other 17 / 18 / 25 / 43 / 38.
- CAS(ME)^2: negative 4 / 4+7 / 4+10 / 9 / 14+15; positive 12 / 6+12; surprise 1+2 (+25); others NULL / 38 / 43 / 26.
- SAMM Long Videos: no emotion column; the SAMM patterns, spelled with SAMM-LV's intensities ('4(B/C)+7B').

Timing follows seed 001 Table 4: micro-expressions last ~0.2-0.45 s (mean ~0.31 s) at low amplitude, macro-expressions
0.5-4 s (mean ~1.2 s) at roughly three times the amplitude. Intensity letters (FACS A-E) scale the amplitude.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from mebench.synth.aufields import INTENSITY_SCALE

# amplitude = letter scale x gain: micro-expressions are about a third of macro ones (seed 001: ~8 % vs ~23 % MVC)
GAIN = {"micro": 0.85, "macro": 1.6}
LETTERS = {"micro": (("B", "C", "D"), (0.35, 0.45, 0.2)), "macro": (("C", "D", "E"), (0.3, 0.4, 0.3))}


@dataclass(frozen=True)
class Token:
    """One coded AU: number, side prefix as written (L, R, A, T, B or None), intensity letter(s) or None."""

    au: int
    side: str | None = None
    letter: str | None = None


@dataclass
class Expression:
    """One annotated (and rendered) expression."""

    subject: str  # native subject code ('01', '006', 's15')
    clip: str  # native clip / file name
    kind: str  # micro | macro
    emotion: str | None  # native spelling
    tokens: tuple[Token, ...]  # what is rendered
    au_cell: Any  # the native AU cell (str, int or None)
    onset: int = 0  # true frames, in the numbering of the written files
    apex: int = 0
    offset: int = 0
    video: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def render_aus(self) -> list[tuple[int, str | None, float]]:
        """(AU, side, amplitude) for the renderer: 'A' = both sides, one weaker; T/B/None = both sides."""
        out: list[tuple[int, str | None, float]] = []
        for token in self.tokens:
            amplitude = letter_scale(token.letter) * GAIN[self.kind]
            if token.side in ("L", "R"):
                out.append((token.au, token.side, amplitude))
            elif token.side == "A":
                strong = "L" if (token.au % 2) else "R"
                weak = "R" if strong == "L" else "L"
                out.append((token.au, strong, amplitude))
                out.append((token.au, weak, 0.55 * amplitude))
            else:
                out.append((token.au, None, amplitude))
        return out


def letter_scale(letter: str | None) -> float:
    if not letter:
        return INTENSITY_SCALE["C"]
    parts = [INTENSITY_SCALE[c] for c in letter if c in INTENSITY_SCALE]
    return float(np.mean(parts)) if parts else INTENSITY_SCALE["C"]


# --- emotion tendencies --------------------------------------------------------------------------------------------

Pattern = tuple[tuple[int, str | None], ...]


def _p(*items: Any) -> Pattern:
    """_p(4, 'L10') -> ((4, None), (10, 'L'))."""
    out = []
    for item in items:
        if isinstance(item, int):
            out.append((item, None))
        else:
            text = str(item)
            out.append((int(text[1:]), text[0]))
    return tuple(out)


CASME2_EMOTIONS: dict[str, tuple[int, tuple[Pattern, ...]]] = {
    # emotion: (count in the 2014-05-08 coding, AU patterns)
    "others": (99, (_p(4), _p(7), _p(4, 7), _p(18), _p(38), _p(4, "R7"))),
    "disgust": (63, (_p(9), _p(4, 9), _p(4, "L10"), _p(10), _p(4, 10), _p(4, 5, "L10"))),
    "happiness": (32, (_p(12), _p(6, 12), _p("L12"), _p(6, 12, 25), _p("R12"))),
    "repression": (27, (_p(14), _p(15), _p(17), _p(15, 17), _p("R14"), _p(14, 17))),
    "surprise": (25, (_p(1, 2), _p(1, 2, 25), _p(1, "R2", 25), _p(1, 2, 5))),
    "sadness": (7, (_p(1, 4), _p(1, 4, 15))),
    "fear": (2, (_p(1, 2, 4), _p(4, 20))),
}

SAMM_EMOTIONS: dict[str, tuple[int, tuple[Pattern, ...]]] = {
    "Anger": (57, (_p(4), _p(4, 7), _p(7), _p(23), _p(4, 24), _p("T23"), _p("A7", 4))),
    "Other": (26, (_p(17), _p(18), _p(25), _p(43), _p("B18", 25), _p(38))),
    "Happiness": (26, (_p(12), _p(6, 12), _p("A12"), _p(12, 25), _p(6, 7, 12))),
    "Surprise": (15, (_p(1, 2), _p(5), _p(1, 2, 5), _p(1, 2, 25))),
    "Contempt": (12, (_p("L12"), _p("R12"), _p("L14"), _p("R14"), _p("R14", 17))),
    "Disgust": (9, (_p(9), _p(10), _p(4, 9), _p(9, 10))),
    "Fear": (8, (_p(20), _p(1, 2, 4), _p("L20", 4))),
    "Sadness": (6, (_p(15), _p(1, 4), _p(15, 17), _p(1, 15))),
}
SAMM_OBJECTIVE = {"Happiness": 1, "Surprise": 2, "Anger": 3, "Disgust": 4, "Sadness": 5, "Fear": 6, "Contempt": 7,
                  "Other": 7}

CASME_SQ_EMOTIONS: dict[str, tuple[int, tuple[Pattern, ...]]] = {
    "negative": (0, (_p(4), _p(4, 7), _p(4, 10), _p(9), _p(14, 15), _p(4, 14))),
    "positive": (0, (_p(12), _p(6, 12), _p(12, 25))),
    "surprise": (0, (_p(1, 2), _p(1, 2, 25), _p(1, 2, 5))),
    "others": (0, ((), _p(38), _p(43), _p(26), _p(18))),
}


def draw_emotions(gen: np.random.Generator, table: dict[str, tuple[int, Any]], n: int, scale: str) -> list[str]:
    """n native emotions: at full scale the release's proportions (exact counts when n equals the release size),
    else flattened (p ~ sqrt(count)), each emotion with a count >= 3 appearing at least once when n allows."""
    names = list(table)
    counts = np.array([table[e][0] for e in names], dtype=float)
    if scale == "full":
        if int(counts.sum()) == n:
            out = [e for e, c in zip(names, counts) for _ in range(int(c))]
        else:
            out = list(gen.choice(names, size=n, p=counts / counts.sum()))
    else:
        weights = np.sqrt(counts)
        weights = weights / weights.sum()
        common = [e for e, c in zip(names, counts) if c >= 9]
        out = list(common[:n]) + list(gen.choice(names, size=max(n - len(common), 0), p=weights))
    gen.shuffle(out)
    return [str(e) for e in out]


def fixed_first(emotions: list[str], wanted: Sequence[str]) -> list[str]:
    """Reorder so that the first entries are ``wanted`` (swapping them forward, so the counts stay as drawn): the
    writers give those first samples fixed single-AU codes that tests and demos can rely on."""
    out = list(emotions)
    for position, emotion in enumerate(wanted):
        found = next((i for i in range(position, len(out)) if out[i] == emotion), None)
        if found is None:
            if position < len(out):
                out[position] = emotion
            continue
        out[position], out[found] = out[found], out[position]
    return out


def draw_tokens(gen: np.random.Generator, pattern: Pattern, kind: str) -> tuple[Token, ...]:
    letters, weights = LETTERS[kind]
    return tuple(Token(au, side, str(gen.choice(letters, p=weights))) for au, side in pattern)


def choose_pattern(gen: np.random.Generator, patterns: Sequence[Pattern]) -> Pattern:
    return patterns[int(gen.integers(len(patterns)))]


# --- native spellings ------------------------------------------------------------------------------------------------


def _token_text(token: Token, letter: bool, parens: bool = False) -> str:
    text = f"{token.side or ''}{token.au}"
    if letter and token.letter:
        text += f"({token.letter})" if parens and "/" in token.letter else token.letter
    return text


def casme2_cell(tokens: Sequence[Token]) -> Any:
    """'4+L10', '1+R2+25'; an int for a single AU without side ('12')."""
    if len(tokens) == 1 and tokens[0].side is None:
        return tokens[0].au
    return "+".join(_token_text(t, letter=False) for t in tokens)


def samm_cell(gen: np.random.Generator, tokens: Sequence[Token], quirks: bool = True) -> Any:
    """'4D+9B', '15A+17', 'A12+A7', 'T23', int for a single plain AU; with quirks now and then: a trailing space,
    'ref(7B)+43'-style references, '(R6 or R12)+R15' alternatives, '10A/B' alternative intensities, free text."""
    shown = [gen.random() < 0.45 for _ in tokens]
    if len(tokens) == 1 and tokens[0].side is None and not shown[0]:
        if quirks and gen.random() < 0.08:
            return f"{tokens[0].au}?"  # uncertain: coded but not in `aus`; rendered all the same
        return tokens[0].au
    parts = [_token_text(t, s) for t, s in zip(tokens, shown)]
    if quirks:
        roll = gen.random()
        if roll < 0.05:
            parts.append("soft focus")
        elif roll < 0.09:
            parts.insert(0, "ref(7B)")
        elif roll < 0.13 and tokens[0].letter in ("A", "B", "C", "D"):
            first = tokens[0]
            parts[0] = f"{first.side or ''}{first.au}{first.letter}/{chr(ord(first.letter) + 1)}"
        elif roll < 0.17 and tokens[-1].side in ("L", "R") and len(tokens) == 1:
            parts = [f"{parts[0]} or {tokens[-1].side}14"] if tokens[-1].au != 14 else parts
        text = "+".join(parts)
        if gen.random() < 0.06:
            text += " "
        return text
    return "+".join(parts)


def samm_lv_cell(gen: np.random.Generator, tokens: Sequence[Token]) -> Any:
    """SAMM Long Videos: intensities often written as alternatives '4(B/C)+7B', trailing uncertainty '12B ?',
    free text '(loses 1+2) or (4(B/C))' now and then; int for a single plain AU."""
    roll = gen.random()
    if len(tokens) == 1 and tokens[0].side is None and roll < 0.25:
        return tokens[0].au
    parts = []
    for token in tokens:
        letter = token.letter
        if letter and gen.random() < 0.3 and letter != "E":
            letter = f"{letter}/{chr(ord(letter) + 1)}"
        shown = gen.random() < 0.7
        parts.append(_token_text(Token(token.au, token.side, letter), shown, parens=True))
    text = "+".join(parts)
    if roll > 0.95:
        text += " ?"
    elif roll > 0.92:
        text = f"(loses 1+2) or ({text})"
    return text


def casme_sq_cell(gen: np.random.Generator, tokens: Sequence[Token]) -> Any:
    """'4+10+14+15', int for one AU, ',' for '+' now and then ('1+2+25,24'), 'NULL'/'null' for no AUs."""
    if not tokens:
        return "NULL" if gen.random() < 0.6 else "null"
    if len(tokens) == 1 and tokens[0].side is None:
        return tokens[0].au
    parts = [_token_text(t, letter=False) for t in tokens]
    if len(parts) >= 2 and gen.random() < 0.12:
        return "+".join(parts[:-1]) + "," + parts[-1]
    return "+".join(parts)


# --- timing ----------------------------------------------------------------------------------------------------------


def draw_kind(gen: np.random.Generator, p_micro: float) -> str:
    return "micro" if gen.random() < p_micro else "macro"


def draw_timing(gen: np.random.Generator, kind: str, fps: float) -> tuple[int, int]:
    """(frames onset->apex, frames apex->offset): micro 0.2-0.45 s in total, macro 0.55-4 s (lognormal, ~1.2 s)."""
    if kind == "micro":
        seconds = float(np.clip(gen.normal(0.31, 0.06), 0.2, 0.45))
    else:
        seconds = float(np.clip(np.exp(gen.normal(np.log(1.15), 0.45)), 0.55, 4.0))
    total = max(int(round(seconds * fps)), 4)
    if kind == "micro" and total / fps >= 0.5:
        total = int(0.5 * fps) - 1
    rise = int(round(total * gen.uniform(0.3, 0.6)))
    rise = min(max(rise, 1), total - 1)
    return rise, total - rise


def blinks(gen: np.random.Generator, n_frames: int, fps: float, every_s: tuple[float, float] = (2.5, 6.0),
           avoid: Sequence[tuple[int, int]] = ()) -> list[tuple[int, int, int]]:
    """Unannotated blinks (AU45, ~0.1-0.2 s) at random times, frame indices (onset, apex, offset), not inside an
    annotated expression."""
    out = []
    t = gen.uniform(0.3, every_s[1]) * fps
    while t < n_frames - 0.3 * fps:
        length = max(int(round(gen.uniform(0.1, 0.2) * fps)), 2)
        onset = int(t)
        offset = onset + length
        if offset < n_frames and not any(onset <= b + 2 and a - 2 <= offset for a, b in avoid):
            out.append((onset, onset + length // 2, offset))
        t += gen.uniform(*every_s) * fps
    return out
