"""The AU grammar (DESIGN.md section 3.1): the examples of every dataset, every real AU cell, and properties."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mebench.aus import AUCode, AUParse, parse_aus


def code(au, side=None, intensity=None, *, alternative=False, uncertain=False, reference=False, static=False):
    return AUCode(au, side, intensity, alternative, uncertain, reference, static)


ALT = {"alternative": True}
REF = {"reference": True}
UNC = {"uncertain": True}

# cell -> (aus, codes, free_text); unknown is False and raw == the cell for all of these
EXAMPLES = {
    # CASME II
    "4+L10": ((4, 10), (code(4), code(10, "L")), ()),
    "1+R2+25": ((1, 2, 25), (code(1), code(2, "R"), code(25)), ()),
    # SAMM
    "(R6 or R12)+R15": ((15,), (code(6, "R", **ALT), code(12, "R", **ALT), code(15, "R")), ()),
    "(R6 or R12) + R15": ((15,), (code(6, "R", **ALT), code(12, "R", **ALT), code(15, "R")), ()),
    "15A+17": ((15, 17), (code(15, None, "A"), code(17)), ()),
    "4D+9B": ((4, 9), (code(4, None, "D"), code(9, None, "B")), ()),
    "L20+21": ((20, 21), (code(20, "L"), code(21)), ()),
    "A12+A7": ((7, 12), (code(12, "A"), code(7, "A")), ()),
    "ref(7B)+43": ((43,), (code(7, None, "B", **REF), code(43)), ()),
    "ref(L10)+A12B": ((12,), (code(10, "L", **REF), code(12, "A", "B")), ()),
    "7B+ ref(43)": ((7,), (code(7, None, "B"), code(43, **REF)), ()),
    "12A+ref(24)": ((12,), (code(12, None, "A"), code(24, **REF)), ()),
    "L12 or L14": ((), (code(12, "L", **ALT), code(14, "L", **ALT)), ()),
    "R14A or 17A or 24A": ((), (code(14, "R", "A", **ALT), code(17, None, "A", **ALT), code(24, None, "A", **ALT)), ()),
    "10A/B": ((10,), (code(10, None, "A/B"),), ()),
    "4A/B": ((4,), (code(4, None, "A/B"),), ()),
    "A/L12": ((12,), (code(12, "A/L"),), ()),
    "T23": ((23,), (code(23, "T"),), ()),
    "B18+25": ((18, 25), (code(18, "B"), code(25)), ()),
    "L12 + 61": ((12, 61), (code(12, "L"), code(61)), ()),
    "12+15 ": ((12, 15), (code(12), code(15)), ()),
    "R14+17+soft focus": ((14, 17), (code(14, "R"), code(17)), ("soft focus",)),
    # SAMM long videos
    "4(B/C)+7B": ((4, 7), (code(4, None, "B/C"), code(7, None, "B")), ()),
    "(loses 1+2) or (4(B/C))": ((), (code(4, None, "B/C", **ALT),), ("loses 1+2",)),
    "12B ?": ((), (code(12, None, "B", **UNC),), ()),
    "12?": ((), (code(12, **UNC),), ()),
    "(big swallow)": ((), (), ("big swallow",)),
    # CAS(ME)^2
    "NULL": ((), (), ()),
    "null": ((), (), ()),
    "10or11": ((), (code(10, **ALT), code(11, **ALT)), ()),
    "14or23": ((), (code(14, **ALT), code(23, **ALT)), ()),
    "1+2+25,24": ((1, 2, 24, 25), (code(1), code(2), code(25), code(24)), ()),
    "14,12": ((12, 14), (code(14), code(12)), ()),
    # 4DME
    "AU12(k)+AU6": ((6, 12), (code(12, static=True), code(6)), ()),
    # prefixes, lowercase intensities, 'X/Y' between AUs, blanks
    "AU12": ((12,), (code(12),), ()),
    "au 12 + AU 4": ((4, 12), (code(12), code(4)), ()),
    "12b+4c": ((4, 12), (code(12, None, "B"), code(4, None, "C")), ()),
    "l12+r14": ((12, 14), (code(12, "L"), code(14, "R")), ()),
    "12/14": ((), (code(12, **ALT), code(14, **ALT)), ()),
    "1+2/4": ((1,), (code(1), code(2, **ALT), code(4, **ALT)), ()),
    "": ((), (), ()),
    "   ": ((), (), ()),
}


@pytest.mark.parametrize("cell", list(EXAMPLES), ids=repr)
def test_examples(cell):
    aus, codes, free_text = EXAMPLES[cell]
    got = parse_aus(cell)
    assert got == AUParse(cell, aus, codes, free_text, unknown=False)
    assert got.ok == (not free_text)


@pytest.mark.parametrize(
    ("cell", "raw", "aus"),
    [(12, "12", (12,)), (12.0, "12", (12,)), (4, "4", (4,)), (None, "", ()), (float("nan"), "", ())],
    ids=repr,
)
def test_non_string_cells(cell, raw, aus):
    got = parse_aus(cell)
    assert (got.raw, got.aus, got.free_text, got.unknown, got.ok) == (raw, aus, (), False, True)
    assert got.codes == tuple(code(a) for a in aus)


def test_lone_question_mark_means_unknown():
    assert parse_aus("?") == AUParse("?", (), (), (), unknown=True)
    assert parse_aus(" ? ").unknown and parse_aus(" ? ").ok
    assert not parse_aus("12?").unknown


def test_free_text_is_never_turned_into_aus():
    got = parse_aus("(loses 1+2) or (4(B/C))")
    assert [c.au for c in got.codes] == [4]  # 1 and 2 stay inside the free text
    assert got.free_text == ("loses 1+2",) and not got.ok
    assert parse_aus("2014").aus == ()  # more than three digits: not an AU
    assert parse_aus("12abc").free_text == ("12abc",)
    assert parse_aus("(12+14").free_text == ("(12+14",)  # unclosed bracket: reported, not guessed


@pytest.mark.parametrize("cell", ["(" * 5000 + "12" + ")" * 5000, "(" * 100000, ")" * 1000, "+" * 1000, "?" * 1000])
def test_pathological_cells_do_not_raise(cell):
    check_invariants(parse_aus(cell))


def test_as_dict_fits_the_corpus_struct():
    got = parse_aus("ref(L10)+A12B(k)?")
    assert [c.as_dict() for c in got.codes] == [
        {"au": 10, "side": "L", "intensity": None, "alternative": False, "uncertain": False, "reference": True,
         "static": False},
        {"au": 12, "side": "A", "intensity": "B", "alternative": False, "uncertain": True, "reference": False,
         "static": True},
    ]
    schema = pytest.importorskip("mebench.schema")
    pa = pytest.importorskip("pyarrow")
    arr = pa.array([c.as_dict() for c in got.codes], type=schema.AU_CODE)
    assert arr.to_pylist() == [c.as_dict() for c in got.codes]


# --------------------------------------------------------------------------------------------------------------------
# Every real AU cell (DESIGN.md section 3.5: ../shared/annotations or MEBENCH_ANNOTATIONS)


def _annotations() -> Path:
    env = os.environ.get("MEBENCH_ANNOTATIONS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "annotations"


REAL = {  # dataset: (file, sheet, 1-based AU column, header cell of that column or None when there is no header)
    "casme2": ("casme2/CASME2-coding-20140508.xlsx", "Sheet1", 8, "Action Units"),
    "samm": ("samm/SAMM_Micro_FACS_Codes_v2.xlsx", "MICRO_ONLY", 9, "Action Units"),
    "casme-sq": ("casme-sq/code_final.xlsx", "CASFEcode_final", 6, None),
}


@pytest.fixture(scope="module")
def real_cells() -> dict[str, list[object]]:
    openpyxl = pytest.importorskip("openpyxl")
    root = _annotations()
    missing = [f for f, *_ in REAL.values() if not (root / f).is_file()]
    if missing:
        pytest.skip(f"real annotation files absent under {root} (set MEBENCH_ANNOTATIONS): {', '.join(missing)}")
    cells = {}
    for dataset, (file, sheet, col, header) in REAL.items():
        wb = openpyxl.load_workbook(root / file, data_only=True, read_only=True)
        try:
            rows = [r for r in wb[sheet].iter_rows(values_only=True) if any(v is not None for v in r)]
        finally:
            wb.close()
        if header is not None:  # the header row is found by content (SAMM has a preamble in some releases)
            start = next(i for i, r in enumerate(rows) if len(r) >= col and r[col - 1] == header) + 1
            rows = rows[start:]
        cells[dataset] = [r[col - 1] for r in rows]
    return cells


@pytest.mark.conformance
def test_every_real_au_cell(real_cells):
    assert {d: len(c) for d, c in real_cells.items()} == {"casme2": 255, "samm": 159, "casme-sq": 357}
    parsed = {d: [(cell, parse_aus(cell)) for cell in cells] for d, cells in real_cells.items()}

    free = {(d, p.raw): p.free_text for d, rows in parsed.items() for _, p in rows if not p.ok}
    assert free == {("samm", "R14+17+soft focus"): ("soft focus",)}

    unknown = Counter((d, p.raw) for d, rows in parsed.items() for _, p in rows if p.unknown)
    assert unknown == {("casme2", "?"): 5}

    empty = Counter((d, p.raw) for d, rows in parsed.items() for _, p in rows if not p.codes and not p.unknown)
    assert empty == {("casme-sq", "NULL"): 4, ("casme-sq", "null"): 7}  # the 11 NULL cells of the README

    def cells_with(flag):
        return {(d, p.raw) for d, rows in parsed.items() for _, p in rows if any(getattr(c, flag) for c in p.codes)}

    assert cells_with("alternative") == {
        ("samm", "(R6 or R12)+R15"), ("samm", "(R6 or R12) + R15"), ("samm", "L12 or L14"), ("samm", "R12 or R14"),
        ("samm", "R14A or 17A or 24A"), ("casme-sq", "10or11"), ("casme-sq", "14or23"),
    }
    assert cells_with("reference") == {
        ("samm", "ref(7B)+43"), ("samm", "ref(7B)+43C"), ("samm", "ref(L10)+A12B"), ("samm", "ref(5)+20C+25+26"),
        ("samm", "7B+ ref(43)"), ("samm", "7D+ref(43)"), ("samm", "12A+ref(24)"), ("samm", "4D+ref(6)+7C+43E"),
        ("samm", "A9E+ref(10)"),
    }
    assert cells_with("uncertain") == set() and cells_with("static") == set()

    for d, rows in parsed.items():
        for cell, p in rows:
            # every number written in a real cell is an AU token, in order (nothing dropped, nothing invented)
            assert [c.au for c in p.codes] == [int(n) for n in re.findall(r"\d+", p.raw)], (d, cell)
            if isinstance(cell, int):
                assert p.raw == str(cell) and p.aus == (cell,), (d, cell)
            elif isinstance(cell, str):
                assert p.raw == cell, (d, cell)


# --------------------------------------------------------------------------------------------------------------------
# Properties


def check_invariants(got: AUParse) -> None:
    assert isinstance(got, AUParse) and isinstance(got.raw, str)
    assert list(got.aus) == sorted(set(got.aus))
    assert set(got.aus) == {c.au for c in got.codes if not (c.alternative or c.uncertain or c.reference)}
    assert all(isinstance(c.au, int) and 0 <= c.au <= 999 for c in got.codes)
    assert all(f and f == f.strip() and f in got.raw for f in got.free_text)  # verbatim fragments of the cell
    assert got.ok == (not got.free_text)
    if got.unknown:
        assert not got.codes and got.ok


FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text())
def test_never_raises_on_any_text(text):
    got = parse_aus(text)
    assert got.raw == text
    check_invariants(got)


@FAST
@given(st.text(alphabet="0123456789LRATBabcdefkoruAU()+,/? \t.", max_size=40))
def test_never_raises_on_grammar_soup(text):
    check_invariants(parse_aus(text))


@FAST
@given(
    st.one_of(
        st.none(),
        st.integers(),
        st.integers(min_value=-(10**6000), max_value=10**6000),
        st.floats(allow_nan=True, allow_infinity=True),
        st.binary(),
        st.booleans(),
        st.decimals(allow_nan=True),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
)
def test_never_raises_on_any_object(cell):
    got = parse_aus(cell)
    check_invariants(got)
    if isinstance(cell, int) and not isinstance(cell, bool) and 0 <= cell <= 999:
        assert got.aus == (cell,)
    if isinstance(cell, float) and (math.isnan(cell) or (cell.is_integer() and 0 <= cell <= 999)):
        assert got.aus == (() if math.isnan(cell) else (int(cell),))


SIDES = st.sampled_from([None, "L", "R", "A", "T", "B"])
INTENSITIES = st.sampled_from([None, "A", "B", "C", "D", "E", "a", "b", "c", "d", "e"])


@st.composite
def grammar_cells(draw):
    """An AU string written the way the datasets write them, and the codes it must parse to."""
    tokens = draw(
        st.lists(
            st.tuples(st.integers(1, 99), SIDES, INTENSITIES, st.sampled_from(["", "AU", "au ", "AU "])),
            min_size=1,
            max_size=8,
        )
    )
    seps = draw(st.lists(st.sampled_from(["+", ",", " + ", ", ", " ,"]), min_size=len(tokens), max_size=len(tokens)))
    text = "".join(
        (seps[i] if i else "") + prefix + (side or "") + str(au) + (intensity or "")
        for i, (au, side, intensity, prefix) in enumerate(tokens)
    )
    text = draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", " "]))
    expected = tuple(code(au, side, intensity.upper() if intensity else None) for au, side, intensity, _ in tokens)
    return text, expected


@FAST
@given(grammar_cells())
def test_grammar_strings_parse_back(case):
    text, expected = case
    got = parse_aus(text)
    assert got.codes == expected
    assert got.aus == tuple(sorted({c.au for c in expected}))
    assert got.ok and not got.unknown and got.raw == text


@settings(FAST, max_examples=100)
@given(grammar_cells(), grammar_cells(), st.sampled_from([" or ", "or", "/", " / "]))
def test_alternatives_are_never_certain(left, right, joiner):
    (a, a_codes), (b, b_codes) = left, right
    got = parse_aus(f"({a.strip()}){joiner}({b.strip()})")
    assert got.aus == ()
    assert got.codes == tuple(AUCode(**{**c.as_dict(), "alternative": True}) for c in a_codes + b_codes)
    assert got.ok
