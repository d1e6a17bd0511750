"""The corpus schema (DESIGN.md section 3): the columns every downstream stage may rely on, as a pyarrow schema.

Loaders may add columns (media paths, second clocks); the required ones are typed here once so that a corpus written
by any loader, or merged from several, has the same types.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1.0"

AU_CODE = pa.struct(
    [
        ("au", pa.int16()),
        ("side", pa.string()),
        ("intensity", pa.string()),
        ("alternative", pa.bool_()),
        ("uncertain", pa.bool_()),
        ("reference", pa.bool_()),
        ("static", pa.bool_()),
    ]
)

REQUIRED = pa.schema(
    [
        ("sample_id", pa.string()),
        ("dataset", pa.string()),
        ("subject", pa.string()),
        ("person", pa.string()),
        ("subject_raw", pa.string()),
        ("clip", pa.string()),
        ("video_id", pa.string()),
        ("onset", pa.int64()),
        ("apex", pa.int64()),
        ("offset", pa.int64()),
        ("onset_s", pa.float64()),
        ("apex_s", pa.float64()),
        ("offset_s", pa.float64()),
        ("fps", pa.float64()),
        ("expression_type", pa.string()),
        ("type_source", pa.string()),
        ("aus", pa.list_(pa.int16())),
        ("au_codes", pa.list_(AU_CODE)),
        ("au_raw", pa.string()),
        ("au_free_text", pa.list_(pa.string())),
        ("emotion", pa.string()),
        ("emotion_raw", pa.string()),
        ("emotions", pa.list_(pa.string())),
        ("objective_class", pa.string()),
        ("source_file", pa.string()),
        ("source_sheet", pa.string()),
        ("source_row", pa.int64()),
        ("errata", pa.list_(pa.string())),
    ]
)

# Media columns a loader may fill (string paths, null where absent or not resolved).
MEDIA_COLUMNS = ("frames_dir", "video_path", "emg_path", "mesh_dir", "grey_path", "rgb_path", "depth_path")

# Optional typed extras loaders may emit.
OPTIONAL = {
    "emg_channel": pa.int64(),
    "emg_onset_s": pa.float64(),
    "emg_apex_s": pa.float64(),
    "emg_offset_s": pa.float64(),
    "inducement_code": pa.string(),
    "emotion_self_report": pa.string(),
    "notes": pa.string(),
    "participant_index": pa.int64(),
    **{name: pa.string() for name in MEDIA_COLUMNS},
}

VIDEOS = pa.schema(
    [
        ("video_id", pa.string()),
        ("dataset", pa.string()),
        ("subject", pa.string()),
        ("person", pa.string()),
        ("fps", pa.float64()),
        ("n_frames", pa.int64()),
        ("frames_dir", pa.string()),
        ("video_path", pa.string()),
    ]
)


def samples_schema(extra_columns: list[str]) -> pa.Schema:
    """The required schema followed by the optional columns present, then any others as strings.

    Harmonized label columns are `emo_<scheme>` (list<string>) and `emo_<scheme>_rule` (string).
    """
    fields = list(REQUIRED)
    for name in extra_columns:
        if name in REQUIRED.names:
            continue
        if name.startswith("emo_") and not name.endswith("_rule"):
            fields.append(pa.field(name, pa.list_(pa.string())))
        else:
            fields.append(pa.field(name, OPTIONAL.get(name, pa.string())))
    return pa.schema(fields)


EMOTION_CANONICAL = {"other": "others", "others": "others"}


def canonical_emotion(raw: str | None) -> str | None:
    """'Happiness' -> 'happiness', 'Other'/'Others' -> 'others' (DESIGN.md section 3)."""
    if raw is None:
        return None
    text = " ".join(str(raw).split()).lower()
    if not text:
        return None
    return EMOTION_CANONICAL.get(text, text)
