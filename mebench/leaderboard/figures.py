"""Figures of the leaderboard site (matplotlib, PNG), drawn from what a record carries.

Figure hooks: a hook draws one kind of figure from a data payload. The data come from the record's
``details["figures"][kind]`` (any producer, e.g. a baseline run by the harness, can attach them before writing the
record), or are derived by the built-in derivations below from what records already hold:

==================== ============================================================================================
kind                 data
==================== ============================================================================================
``confusion``        ``{"labels": [...], "matrix": [[...]]}`` rows = truth, columns = prediction (recognition
                     records hold it as ``details["confusion"]``; used when ``details["figures"]`` has none)
``spotting_timeline````{"videos": [{"video_id", "n_frames"?, "fps"?, "gt": [{"onset", "offset",
                     "expression_type"?}], "pred": [{"onset", "offset", "expression_type"?, "score"?,
                     "tp"?}]}]}`` frames inclusive; derived from the record's stored predictions copy (spotting
                     CSV/Parquet) when the record has no such data (then without ground truth)
``emg_envelope``     ``{"fs": Hz, "samples": [{"sample_id", "t0": s, "envelope": [...], "gt": [on, off],
                     "detected": [on, off] | null, "channel"?}]}`` seconds on the EMG clock; keep envelopes short
                     (downsample to <= 2000 points: the record is JSON)
==================== ============================================================================================

A new kind is one call::

    from mebench.leaderboard.figures import register_figure

    @register_figure("au_activation", "AU activation over time")
    def draw(data, record):        # -> matplotlib Figure, or None to skip
        ...

and a record whose ``details["figures"]`` has an ``"au_activation"`` entry gets that figure on its protocol page.
Kinds without a hook are listed on the page as not drawn, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

__all__ = ["FIGURE_HOOKS", "RenderedFigure", "figure_data", "register_figure", "render_figures"]

MAX_VIDEOS = 8
MAX_EMG = 6
COLORS = {"micro": "#d62728", "macro": "#1f77b4", None: "#7f7f7f"}


@dataclass(frozen=True)
class Hook:
    kind: str
    title: str
    draw: Callable[[Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class RenderedFigure:
    kind: str
    title: str
    path: Path | None          # None: not drawn (see `note`)
    note: str = ""


FIGURE_HOOKS: dict[str, Hook] = {}


def register_figure(kind: str, title: str) -> Callable:
    """Decorator: `draw(data, record) -> matplotlib.figure.Figure | None` becomes the hook for `kind`."""

    def decorate(draw: Callable[[Any, dict[str, Any]], Any]) -> Callable:
        FIGURE_HOOKS[kind] = Hook(kind, title, draw)
        return draw

    return decorate


def _matplotlib() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure


# ------------------------------------------------------------------------------------------------------ data


def _predictions_timeline(path: Path) -> dict[str, Any] | None:
    import pandas as pd

    try:
        frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception:  # noqa: BLE001 - an unreadable copy is reported by verify, not here
        return None
    if not {"video_id", "onset", "offset"} <= set(frame.columns):
        return None
    videos = []
    for video_id in sorted(frame["video_id"].astype(str).unique())[:MAX_VIDEOS]:
        rows = frame[frame["video_id"].astype(str) == video_id]
        pred = []
        for _, r in rows.iterrows():
            item = {"onset": float(r["onset"]), "offset": float(r["offset"])}
            if "expression_type" in rows.columns and isinstance(r["expression_type"], str):
                item["expression_type"] = r["expression_type"]
            if "score" in rows.columns and r["score"] == r["score"]:
                item["score"] = float(r["score"])
            pred.append(item)
        videos.append({"video_id": video_id, "gt": [], "pred": pred})
    return {"videos": videos, "note": "predictions only: the record does not carry the ground truth intervals"}


def figure_data(record: dict[str, Any], predictions_path: Path | None = None) -> dict[str, Any]:
    """kind -> data for every figure this record can have (explicit `details.figures` first, then derived)."""
    details = record.get("details") or {}
    data: dict[str, Any] = {}
    explicit = details.get("figures")
    if isinstance(explicit, dict):
        data.update(explicit)
    confusion = details.get("confusion")
    if "confusion" not in data and isinstance(confusion, dict) and confusion.get("matrix"):
        data["confusion"] = confusion
    is_spotting = details.get("task") == "spotting" or "overall" in (record.get("metrics") or {})
    if "spotting_timeline" not in data and is_spotting and predictions_path is not None \
            and predictions_path.exists():
        timeline = _predictions_timeline(predictions_path)
        if timeline and timeline["videos"]:
            data["spotting_timeline"] = timeline
    return data


def render_figures(record: dict[str, Any], out_dir: Path, stem: str,
                   predictions_path: Path | None = None) -> list[RenderedFigure]:
    """Draw every figure of the record into `out_dir/<stem>.<kind>.png`."""
    out: list[RenderedFigure] = []
    for kind, data in figure_data(record, predictions_path).items():
        hook = FIGURE_HOOKS.get(kind)
        if hook is None:
            out.append(RenderedFigure(kind, kind, None, f"no figure hook registered for kind {kind!r}"))
            continue
        try:
            figure = hook.draw(data, record)
        except Exception as exc:  # noqa: BLE001 - a bad payload must not stop the site; say it on the page
            out.append(RenderedFigure(kind, hook.title, None, f"could not draw ({type(exc).__name__}: {exc})"))
            continue
        if figure is None:
            continue
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"{stem}.{kind}.png"
        figure.savefig(path, dpi=100, metadata={"Software": None})
        note = data.get("note", "") if isinstance(data, dict) else ""
        out.append(RenderedFigure(kind, hook.title, path, note))
    return out


# ------------------------------------------------------------------------------------------------------ hooks


@register_figure("confusion", "Confusion matrix (rows: truth, columns: prediction; pooled over folds)")
def draw_confusion(data: dict[str, Any], record: dict[str, Any]) -> Any:
    import numpy as np

    Figure = _matplotlib()
    labels = [str(x) for x in data["labels"]]
    matrix = np.asarray(data["matrix"], dtype=float)
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix shape {matrix.shape} does not fit {len(labels)} labels")
    totals = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    size = 2.2 + 0.55 * len(labels)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    name = (record.get("submission") or {}).get("name", "")
    ax.set_title(f"{record['protocol']['id']}: {name}", fontsize=9)
    fig.tight_layout()
    return fig


@register_figure("spotting_timeline", "Spotting timeline (ground truth above, predictions below)")
def draw_spotting_timeline(data: dict[str, Any], record: dict[str, Any]) -> Any:
    Figure = _matplotlib()
    videos = list(data.get("videos") or [])[:MAX_VIDEOS]
    if not videos:
        return None
    fig = Figure(figsize=(9, 0.9 + 0.55 * len(videos)))
    ax = fig.add_subplot()
    for lane, video in enumerate(videos):
        y = len(videos) - 1 - lane
        for item in video.get("gt") or []:
            kind = item.get("expression_type")
            ax.broken_barh([(item["onset"], item["offset"] - item["onset"] + 1)], (y + 0.05, 0.4),
                           facecolors=COLORS.get(kind, COLORS[None]))
        for item in video.get("pred") or []:
            kind = item.get("expression_type")
            ax.broken_barh([(item["onset"], item["offset"] - item["onset"] + 1)], (y - 0.45, 0.4),
                           facecolors="none", edgecolors=COLORS.get(kind, COLORS[None]),
                           linewidth=1.2, hatch="//" if item.get("tp") else None)
        if video.get("n_frames"):
            ax.plot([0, video["n_frames"]], [y, y], color="#cccccc", linewidth=0.5)
    ax.set_yticks(range(len(videos)), [str(v["video_id"]) for v in reversed(videos)], fontsize=7)
    ax.set_xlabel("frame")
    handles = []
    from matplotlib.patches import Patch

    for kind in ("micro", "macro"):
        handles.append(Patch(facecolor=COLORS[kind], label=f"GT {kind}"))
        handles.append(Patch(facecolor="none", edgecolor=COLORS[kind], label=f"predicted {kind}"))
    ax.legend(handles=handles, fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, 1.0 + 0.6 / len(videos)))
    fig.tight_layout()
    return fig


@register_figure("emg_envelope", "EMG envelopes with annotated (grey) and detected (red) intervals")
def draw_emg_envelope(data: dict[str, Any], record: dict[str, Any]) -> Any:
    import numpy as np

    Figure = _matplotlib()
    samples = list(data.get("samples") or [])[:MAX_EMG]
    if not samples:
        return None
    fs = float(data.get("fs") or 1000.0)
    fig = Figure(figsize=(9, 1.6 * len(samples)))
    for i, sample in enumerate(samples):
        ax = fig.add_subplot(len(samples), 1, i + 1)
        env = np.asarray(sample["envelope"], dtype=float)
        step = float(sample.get("dt") or 1.0 / fs)
        t = float(sample.get("t0") or 0.0) + step * np.arange(len(env))
        ax.plot(t, env, color="black", linewidth=0.8)
        if sample.get("gt"):
            ax.axvspan(sample["gt"][0], sample["gt"][1], color="#bbbbbb", alpha=0.6, label="annotated")
        if sample.get("detected"):
            ax.axvspan(sample["detected"][0], sample["detected"][1], color="#d62728", alpha=0.25,
                       label="detected")
        label = str(sample.get("sample_id", ""))
        if sample.get("channel") is not None:
            label += f" (channel {sample['channel']})"
        ax.set_title(label, fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
        if i == 0:
            ax.legend(fontsize=7, loc="upper right")
    fig.axes[-1].set_xlabel("time (s, EMG clock)")
    fig.tight_layout()
    return fig
