"""Deterministic xlsx files with cached formula values, written by openpyxl.

openpyxl stamps the save time into ``docProps/core.xml`` and into every zip entry, and writes formula cells with
an empty ``<v/>`` (Excel computes them on open). The released annotation files carry cached values (what
``openpyxl.load_workbook(data_only=True)`` and pandas read), so ``save_workbook`` rewrites the package after
openpyxl saved it: fixed document times, fixed zip entry times and order, and the cached value of each formula cell
patched into the sheet XML. Identical workbook content -> identical bytes.
"""

from __future__ import annotations

import io
import math
import os
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping
from xml.sax.saxutils import escape

FIXED_TIME = "2020-01-01T00:00:00Z"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

__all__ = ["save_workbook", "workbook_bytes", "FIXED_TIME"]


def _sheet_paths(files: Mapping[str, bytes]) -> dict[str, str]:
    """sheet title -> zip path of its XML, from xl/workbook.xml and its relationships."""
    workbook = files["xl/workbook.xml"].decode("utf-8")
    rels = files["xl/_rels/workbook.xml.rels"].decode("utf-8")
    targets: dict[str, str] = {}
    for rel in re.finditer(r"<Relationship\b[^>]*>", rels):
        attrs = dict(re.findall(r'(\w+)="([^"]*)"', rel.group(0)))
        if "Id" in attrs and "Target" in attrs:
            target = attrs["Target"]
            target = target.lstrip("/") if target.startswith("/") else "xl/" + target
            targets[attrs["Id"]] = target
    out: dict[str, str] = {}
    for sheet in re.finditer(r"<sheet\b[^>]*>", workbook):
        tag = sheet.group(0)
        name = re.search(r'\bname="([^"]*)"', tag)
        rid = re.search(r'\br:id="([^"]*)"', tag)
        if name and rid and rid.group(1) in targets:
            title = (name.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
                     .replace("&apos;", "'").replace("&amp;", "&"))
            out[title] = targets[rid.group(1)]
    return out


def _cached(value: Any) -> tuple[str | None, str]:
    """(cell type attribute or None for numbers, <v> text) for a cached value."""
    if isinstance(value, bool):
        return "b", "1" if value else "0"
    if isinstance(value, int):
        return None, str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "e", "#NUM!"
        return None, repr(value)
    if isinstance(value, str) and value.startswith("#") and value.endswith(("!", "?", "A")):
        return "e", escape(value)  # '#VALUE!', '#DIV/0!', '#NAME?', '#N/A'
    return "str", escape(str(value))


def _patch_sheet(xml: str, cells: Mapping[str, Any], sheet: str) -> str:
    for ref, value in cells.items():
        ref = ref.upper().replace("$", "")
        pattern = re.compile(r'<c r="' + re.escape(ref) + r'"((?:\s+[\w:]+="[^"]*")*)\s*>(<f\b[^>]*(?:/>|>.*?</f>))'
                             r'(?:<v\s*/>|<v>.*?</v>)?</c>', re.S)
        match = pattern.search(xml)
        if match is None:
            raise ValueError(f"cached value for {sheet}!{ref}: no formula cell there")
        kind, text = _cached(value)
        attrs = re.sub(r'\s+t="[^"]*"', "", match.group(1))
        if kind is not None:
            attrs += f' t="{kind}"'
        xml = xml[:match.start()] + f'<c r="{ref}"{attrs}>{match.group(2)}<v>{text}</v></c>' + xml[match.end():]
    return xml


def workbook_bytes(workbook: Any, cached_values: Mapping[tuple[str, str], Any] | None = None,
                   time: str = FIXED_TIME) -> bytes:
    """The xlsx package of an openpyxl workbook, deterministic, with cached values for formula cells:
    ``cached_values={('Sheet1', 'G15'): 71}`` (sheet title, cell reference) -> value."""
    stamp = datetime.strptime(time, "%Y-%m-%dT%H:%M:%SZ")
    workbook.properties.created = stamp
    workbook.properties.modified = stamp
    workbook.properties.lastModifiedBy = None
    buffer = io.BytesIO()
    workbook.save(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source:
        names = source.namelist()
        files = {name: source.read(name) for name in names}
    if "docProps/core.xml" in files:
        core = files["docProps/core.xml"].decode("utf-8")
        core = re.sub(r"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)", r"\g<1>" + time + r"\g<3>", core)
        files["docProps/core.xml"] = core.encode("utf-8")
    if cached_values:
        by_sheet: dict[str, dict[str, Any]] = {}
        for (sheet, ref), value in cached_values.items():
            by_sheet.setdefault(sheet, {})[ref] = value
        paths = _sheet_paths(files)
        for sheet, cells in by_sheet.items():
            if sheet not in paths:
                raise ValueError(f"cached values for sheet {sheet!r}, which the workbook does not have "
                                 f"(sheets: {sorted(paths)})")
            path = paths[sheet]
            files[path] = _patch_sheet(files[path].decode("utf-8"), cells, sheet).encode("utf-8")
    # the content types first (as Excel writes it), then the rest in openpyxl's order
    order = (["[Content_Types].xml"] if "[Content_Types].xml" in files else []) + \
        [n for n in names if n != "[Content_Types].xml"]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            info.create_system = 0
            target.writestr(info, files[name], compresslevel=6)
    return out.getvalue()


def save_workbook(workbook: Any, path: str | os.PathLike[str],
                  cached_values: Mapping[tuple[str, str], Any] | None = None) -> Path:
    """Save an openpyxl workbook to ``path`` deterministically (see ``workbook_bytes``); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = workbook_bytes(workbook, cached_values)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return path
