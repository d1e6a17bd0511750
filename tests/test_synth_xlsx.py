"""mebench.synth.xlsx: deterministic xlsx bytes and cached formula values; mebench.synth.aufields basics."""

from __future__ import annotations

import time

import numpy as np
import openpyxl
import pandas as pd

from mebench.synth import aufields
from mebench.synth.xlsx import save_workbook


def _workbook() -> openpyxl.Workbook:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["Subject", "Onset", "Offset", "Duration"])
    ws.append(["006", 10, 80, "=C2-B2+1"])
    ws["E2"] = '="a"&"b"'
    other = wb.create_sheet("FACS & more")
    other.merge_cells("A1:C2")
    other["A1"] = "preamble"
    other["G15"] = "=F15-D15"
    return wb


CACHED = {("Sheet1", "D2"): 71, ("Sheet1", "E2"): "ab", ("FACS & more", "G15"): 12.5}


def test_cached_values_are_read_by_openpyxl_and_pandas(tmp_path):
    path = save_workbook(_workbook(), tmp_path / "a.xlsx", CACHED)
    values = openpyxl.load_workbook(path, data_only=True)
    assert values["Sheet1"]["D2"].value == 71
    assert values["Sheet1"]["E2"].value == "ab"
    assert values["FACS & more"]["G15"].value == 12.5
    formulas = openpyxl.load_workbook(path)
    assert formulas["Sheet1"]["D2"].value == "=C2-B2+1"
    frame = pd.read_excel(path, sheet_name="Sheet1", dtype=object)
    assert frame.loc[0, "Duration"] == 71


def test_two_saves_are_byte_identical(tmp_path):
    a = save_workbook(_workbook(), tmp_path / "a.xlsx", CACHED)
    time.sleep(1.1)  # zip and document times have a one-second resolution
    b = save_workbook(_workbook(), tmp_path / "b.xlsx", CACHED)
    assert a.read_bytes() == b.read_bytes()


def test_au_table_and_profile():
    lm = np.zeros((68, 2))
    lm[36:42] = [100, 100]
    lm[42:48] = [160, 100]  # IOD 60 px
    lm[37:39, 1] = 95
    lm[40:42, 1] = 105
    lm[43:45, 1] = 95
    lm[46:48, 1] = 105
    d = aufields.displacement([12], 1.0, lm)
    assert d[48, 0] < 0 < d[54, 0] and d[48, 1] < 0 and d[54, 1] < 0  # corners out and up
    assert np.allclose(d[17:48], 0)  # nothing above the mouth
    left = aufields.displacement([12], 1.0, lm, side="L")
    assert left[48].tolist() == [0.0, 0.0] and left[54, 0] > 0  # subject's left = image right
    brows = aufields.displacement({4: 1.0}, 0.5, lm)
    assert brows[21, 1] > 0 and brows[21, 0] > 0 > brows[22, 0]  # down and together
    blink = aufields.displacement([45], 1.0, lm)
    assert np.isclose(blink[37, 1], 9.0)  # 0.9 of the 10 px lid gap
    assert all(au in aufields.AU_REGION for au in aufields.AU_TABLE)
    p = aufields.profile(20, 5, 8, 15)
    assert p[:5].tolist() == [0] * 5 and p[8] == 1 and p[15] == 0 and np.all(np.diff(p[5:9]) > 0)
