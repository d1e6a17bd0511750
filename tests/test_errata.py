"""The errata table: data with provenance, applied only when the old value still matches."""

from __future__ import annotations

from mebench.errata import apply_errata, load_errata, null_out_of_range, same_value


def test_every_erratum_has_reason_and_source():
    errata = load_errata()
    assert {e.dataset for e in errata} >= {"casme2", "samm", "casme-sq", "samm-lv", "4dme"}
    for erratum in errata:
        assert erratum.reason and erratum.source, erratum.id


def test_fix_applies_only_when_old_value_matches():
    raw = {"subject_raw": "028", "clip": "028_4_1", "apex": 1143}
    assert apply_errata("samm", raw, 100) == ["samm:028_4_1:apex-after-offset"]
    assert raw["apex"] is None
    corrected = {"subject_raw": "028", "clip": "028_4_1", "apex": 1100}  # a corrected re-release
    assert apply_errata("samm", corrected, 100) == []
    assert corrected["apex"] == 1100


def test_wildcard_and_text_number_equality():
    raw = {"subject_raw": "s15", "clip": "anger2_1", "apex": "2163", "offset": "0"}
    assert apply_errata("casme-sq", raw, 3) == ["casme-sq:offset-zero-missing"]
    assert raw["offset"] is None and raw["apex"] == "2163"
    assert same_value("1143", 1143.0) and not same_value("/", 1143)


def test_swap_by_source_row_only_when_order_is_wrong():
    raw = {"subject_raw": "a", "clip": "b", "onset": 50, "offset": 10}
    assert apply_errata("4dme", raw, 144) == ["4dme:rows-144-145-onset-offset-swapped"]
    assert (raw["onset"], raw["offset"]) == (10, 50)
    fine = {"subject_raw": "a", "clip": "b", "onset": 10, "offset": 50}
    assert apply_errata("4dme", fine, 145) == []
    elsewhere = {"subject_raw": "a", "clip": "b", "onset": 50, "offset": 10}
    assert apply_errata("4dme", elsewhere, 12) == []


def test_out_of_range_is_nulled_with_an_auto_id():
    row = {"onset": 10, "apex": 40, "offset": 30}
    assert null_out_of_range(row) == ["auto:apex-out-of-range"]
    assert row["apex"] is None
    row = {"onset": 10, "apex": 12, "offset": 5}
    assert null_out_of_range(row) == ["auto:offset-out-of-range"]
    assert row["offset"] is None and row["apex"] == 12
