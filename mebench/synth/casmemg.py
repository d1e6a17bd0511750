"""Shadow CASMEMG (seed 001, Li et al.): the timing sheet, a coding sheet and 1 kHz facial EMG, in the native layout.

``write(root, scale, seed)`` fills ``root`` with::

    380_sort.xlsx        Sheet1: sub | video | video_onset | video_apex | video_offset | channel | emg_onset |
                         emg_apex | emg_offset  (seconds; the release's name and columns at every scale). Quirks of
                         the real file: about 6% of the rows have their EMG times as formulas '=1.036*60' (minutes
                         times 60) with cached values (mebench.synth.xlsx), some apex cells are empty (full: 5 video,
                         1 EMG), the rows of a recording are not always in time order, and several expressions share
                         a recording (the loader's '#n' ids).
    CASMEMG_coding.xlsx  the coding sheet the licensed release adds (its real layout is not public; this is the one
                         loaders/casmemg.py reads): sub | video | order | video_onset | Action Units | Emotion | Type,
                         order = n-th row of that recording in 380_sort.xlsx, rows in time order; AUs as coded in FACS
                         ('6+12', 'L12', or an int for one bilateral AU), Emotion as seed 001 Table 6 ('Other' for
                         others), Type 'ME' / 'MaE'. The loader then types by annotation.
    <sub:02d>/<video>.mat  one recording per (subject, stimulus video): a MATLAB table (mat-io, v7, fixed header)
                         with 11 columns in the release's order: EMG1-EMG8 (uV, single), Marker (digital-tube counter,
                         -1 on the occasional rows that carry no sample), Time (s, double), Signal (the 'L' keystroke:
                         1 for 100 ms when the participant reported the expression, seed 001 Table 5 rates).
    <sub:02d>/MVC.mat    the subject's MVC session (seed 001 section 4.4, part A), same 11 columns: each of the 7
                         movements contracted 3 times (1 s each); Signal holds the instructed movement = the channel
                         number during each contraction, 0 at rest (``emg.mvc_protocol`` gives the same windows).
                         A channel's MVC is the maximum of its envelope (``emg.envelope``) over this recording.
    <sub:02d>/<video>.avi  the face video of each recording (the loader's ``video_path`` template
                         ``{sub:02d}/{video}.avi``): Motion JPEG (mebench.synth.avi), 30 fps (seed 001's camera),
                         VIDEO_SIZE faces at every scale (160 x 176 px, IOD 38: casme-sq's tiny faces). It shows the
                         recording's expressions (their AUs, micro ~ a third of macro amplitude: mebench.synth.events
                         GAIN) on the video clock of 380_sort.xlsx, the EMG blinks (c3) as AU45 blinks at EMG time +
                         lead, a few more blinks before the EMG starts, slow head drift and sensor noise. Rendered with
                         the synth core exactly as casme_sq.py renders its long videos (render.Job / run_jobs); the
                         frames go to a scratch folder that is deleted (the release has videos, not frame folders).

Clocks: sample j of a recording (0-based, marker -1 rows not counted) is at (j + 1) / 1000 s on the EMG clock and
its Time cell says so; the official code keeps data(200:end) and puts index i at (i + 200) / 1000 s - the same
clock. emg_onset/apex/offset are where the burst of the carrying channel really starts, peaks and ends (the
formula cells included: the burst was placed at the formula's value). The video clock leads the EMG clock by a
per-recording offset drawn in 1.4-20.4 s (video = EMG + lead + a few ms of coder jitter); video durations stay
< 0.5 s for ME and >= 0.5 s for MaE. The face video is the whole video clock, uncropped: frame k (0-based) is at
k / 30 s of the video clock (frame 0 = t 0, ``video_frame``), and it runs to the end of the EMG recording on that
clock (``Recording.n_frames`` = floor((lead + n_samples / 1000) * 30) + 1); the camera started ``lead`` seconds
before the EMG, so the first ``lead`` seconds are video only. An expression's envelope rises from frame
video_onset * 30 to video_apex * 30 (fractional positions; the true apex, also where the sheet's cell is empty) and
falls to video_offset * 30. The loader keeps seconds, not frames, so nothing there depends on this numbering.

Expressions: full = seed 001 Table 6 exactly (380: ME/MaE per emotion) over 35 subjects; small = 80 drawn from that
table over 8 subjects; tiny = 6 fixed ones over 3 subjects (AU12 micro+macro sharing one recording, anger, surprise,
disgust, sadness). Emotions follow the stimulus (4 videos per emotion, seed 001 Table 2); AUs from the emotion's
dominant AUs (Table 6 / 9). The channel column is the home channel (``emg.CHANNEL_AUS``, Table 8) of the
expression's leading AU (AU12 whenever present), which carries the largest burst: MVC% drawn from truncated
log-normals with Table 3's means/SDs (ME 8.11 +- 8.54, MaE 23.09 +- 21.27), the other AUs' channels at 30-60% of
its amplitude; durations ME ~ N(0.317, 0.08) s in [0.17, 0.45], MaE log-normal (mean 1.16 s) in [0.55, 4] (Table
4). ``plan(scale, seed)`` returns all of it (the ground truth) without writing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mebench.synth import check_scale, rng
from mebench.synth import emg
from mebench.synth import events as ev
from mebench.synth import render

DATASET = "casmemg"
TIMING_FILE = "380_sort.xlsx"
CODING_FILE = "CASMEMG_coding.xlsx"
MVC_FILE = "MVC.mat"
HEADER = ("sub", "video", "video_onset", "video_apex", "video_offset", "channel", "emg_onset", "emg_apex",
          "emg_offset")
CODING_HEADER = ("sub", "video", "order", "video_onset", "Action Units", "Emotion", "Type")

# seed 001 Table 6: emotion -> (ME, MaE)
TABLE6 = {
    "Anger": (49, 31), "Disgust": (59, 32), "Fear": (25, 27), "Happiness": (26, 23), "Sadness": (42, 23),
    "Surprise": (27, 13), "Other": (2, 1),
}
# seed 001 Table 2: 24 stimuli, four per emotion (our numbering)
STIMULI = {"Anger": (1, 2, 3, 4), "Sadness": (5, 6, 7, 8), "Disgust": (9, 10, 11, 12), "Fear": (13, 14, 15, 16),
           "Surprise": (17, 18, 19, 20), "Happiness": (21, 22, 23, 24)}
# AU combinations per emotion (dominant AUs of Table 6 / Table 9), with weights
PROTOTYPES: dict[str, tuple[tuple[tuple[int, ...], float], ...]] = {
    "Anger": (((4,), .25), ((4, 7), .25), ((4, 23), .15), ((4, 7, 23), .1), ((23,), .15), ((16,), .05),
              ((4, 16), .05)),
    "Disgust": (((4,), .15), ((4, 9), .2), ((4, 7, 9), .1), ((17,), .2), ((9, 17), .1), ((9,), .1), ((10,), .05),
                ((4, 17), .1)),
    "Fear": (((4,), .2), ((4, 5), .2), ((4, 7), .25), ((5,), .1), ((4, 5, 7), .1), ((7,), .1), ((1, 2, 4, 5), .05)),
    "Happiness": (((12,), .35), ((6, 12), .3), ((14,), .2), ((6, 12, 25), .1), ((12, 14), .05)),
    "Sadness": (((14,), .3), ((14, 15), .15), ((15,), .15), ((15, 17), .1), ((24,), .1), ((43,), .05),
                ((14, 24), .15)),
    "Surprise": (((1, 2), .4), ((1, 2, 5), .25), ((2,), .1), ((5,), .15), ((1, 2, 5, 25), .1)),
    "Other": (((45,), 1.0),),
}
# which AU leads (its home channel carries the expression): AU12 first everywhere (the zygomaticus), then the
# channels the release's 380_sort.xlsx uses most (c2, c7, c6)
LEAD_ORDER = (12, 4, 14, 15, 24, 23, 16, 17, 9, 10, 2, 1, 5, 7, 6, 43, 45, 25)

MICRO_MVC = (0.5593, 1.4297, 2.0, 60.0)  # MVC% of MEs: mean 8.11, SD 8.54 (Table 3)
MACRO_MVC = (2.6131, 1.3535, 3.0, 100.0)  # MVC% of MaEs: mean 23.09, SD 21.27 (Table 3)
MICRO_DURATION = (0.317, 0.08, 0.17, 0.45)  # normal (mean, SD, lo, hi): Table 4's 95% CI of the mean 0.307-0.327 s
MACRO_DURATION = (-0.3517, 0.697, 0.55, 4.0)  # log-normal: mean 1.16 s (Table 4: 1.027-1.295 s), SD 0.6
AWARE = {"micro": 0.07, "macro": 0.27}  # keystroke rates, Table 5
VIDEO_LEAD = (1.4, 20.4)
SECONDARY = (0.3, 0.6)  # other AUs' channels, fraction of the carrier's amplitude
DOMINANCE = 2.0  # carrier in-band power over any other channel's, during the burst (expected)

SCALES = {"tiny": (3, 6), "small": (8, 80), "full": (35, 380)}
VIDEO_FPS = 30.0  # seed 001: the face camera records at 30 FPS
VIDEO_SIZE = (160, 176, 38)  # width, height, IOD (px) of the face videos at every scale: cheap, as casme-sq tiny
VIDEO_SUFFIX = ".avi"
VIDEO_DRIFT_PX, VIDEO_NOISE = 1.2, 1.8  # head drift and sensor noise, as casme-sq's long videos
EMPTY_APEX = {"tiny": (1, 1), "small": (2, 1), "full": (5, 1)}  # (video_apex, emg_apex) empty cells
FORMULA_RATE = 0.06

TINY = (  # sub, video, emotion, type, AU cell
    (1, 21, "Happiness", "micro", 12),
    (1, 21, "Happiness", "macro", "6+L12"),
    (1, 2, "Anger", "micro", "4+7"),
    (2, 17, "Surprise", "macro", "1+2"),
    (2, 10, "Disgust", "micro", "L9"),
    (3, 6, "Sadness", "macro", "15+17"),
)


@dataclass
class Expression:
    sub: int
    video: int
    emotion: str
    type: str  # micro / macro
    aus: tuple[int, ...]
    au_cell: Any  # as written in the coding sheet
    channel: int = 0  # carrier (1-7)
    mvc_percent: float = 0.0  # true MVC% of the carrier burst (expected envelope peak / MVC envelope)
    emg_onset: float = 0.0
    emg_apex: float = 0.0
    emg_offset: float = 0.0
    video_onset: float = 0.0
    video_apex: float = 0.0
    video_offset: float = 0.0
    bursts: list[emg.Burst] = field(default_factory=list)  # carrier first
    aware: bool = False
    keystroke: float | None = None  # EMG-clock time of the 'L' press
    order: int = 0  # n-th row of its recording in the timing file (1-based)
    row: int = 0  # Excel row in the timing file
    formulas: dict[str, float] = field(default_factory=dict)  # column -> minutes written as '=m*60'
    empty: tuple[str, ...] = ()  # columns left empty

    @property
    def duration(self) -> float:
        return self.emg_offset - self.emg_onset


@dataclass
class Recording:
    sub: int
    video: int
    lead: float  # video clock - EMG clock (s)
    n_samples: int
    expressions: list[Expression]  # time order
    blinks: list[emg.Burst] = field(default_factory=list)
    gaps: tuple[int, ...] = ()  # marker -1 rows inserted before these sample indices

    @property
    def path(self) -> str:
        return f"{self.sub:02d}/{self.video}.mat"

    @property
    def video_path(self) -> str:
        return f"{self.sub:02d}/{self.video}{VIDEO_SUFFIX}"

    @property
    def n_frames(self) -> int:
        """Frames of the face video: video-clock 0 to the end of the EMG recording (lead + n_samples / 1000 s)."""
        return int(np.floor((self.lead + self.n_samples / emg.FS) * VIDEO_FPS + 1e-9)) + 1


@dataclass
class Plan:
    scale: str
    seed: int
    subjects: dict[int, emg.Subject]
    mvc_envelope: dict[int, np.ndarray]  # (8,) max envelope per channel over the subject's MVC session
    recordings: list[Recording]
    rows: list[Expression]  # timing-file order

    @property
    def counts(self) -> dict[str, int]:
        return {"samples": len(self.rows), "subjects": len({e.sub for e in self.rows})}


# --- drawing ---------------------------------------------------------------------------------------------------------


def _truncated_lognormal(r: np.random.Generator, mu: float, sigma: float, lo: float, hi: float) -> float:
    while True:
        value = float(r.lognormal(mu, sigma))
        if lo <= value <= hi:
            return value


def _truncated_normal(r: np.random.Generator, mean: float, sd: float, lo: float, hi: float) -> float:
    while True:
        value = float(r.normal(mean, sd))
        if lo <= value <= hi:
            return value


def _au_cell(r: np.random.Generator, aus: tuple[int, ...]) -> Any:
    """FACS string as coders write it: '4+7', an int for one bilateral AU, some AUs on the left side only ('L12')."""
    tokens = [f"L{au}" if r.random() < 0.15 else str(au) for au in aus]
    if len(tokens) == 1 and tokens[0].isdigit() and r.random() < 0.5:
        return int(tokens[0])
    return "+".join(tokens)


def _parse_tiny_aus(cell: Any) -> tuple[int, ...]:
    return tuple(int(str(t).lstrip("LR")) for t in str(cell).split("+"))


def _lead_au(aus: tuple[int, ...]) -> int:
    mapped = [au for au in aus if emg.home_channel(au) is not None]
    if not mapped:
        raise ValueError(f"no EMG channel for AUs {aus}")
    return min(mapped, key=lambda au: LEAD_ORDER.index(au) if au in LEAD_ORDER else len(LEAD_ORDER))


def _expressions(scale: str, seed: int) -> list[Expression]:
    r = rng(seed, DATASET, "expressions", scale)
    if scale == "tiny":
        return [Expression(sub, video, emotion, kind, _parse_tiny_aus(cell), cell)
                for sub, video, emotion, kind, cell in TINY]
    n_subjects, n_expressions = SCALES[scale]
    pool = [(emotion, kind) for emotion, (me, mae) in TABLE6.items()
            for kind, count in (("micro", me), ("macro", mae)) for _ in range(count)]
    if n_expressions < len(pool):
        pool = [pool[i] for i in sorted(r.choice(len(pool), n_expressions, replace=False))]
    order = r.permutation(len(pool))
    weights = r.dirichlet(np.full(n_subjects, 2.0))
    counts = 1 + r.multinomial(len(pool) - n_subjects, weights)
    subs = np.repeat(np.arange(1, n_subjects + 1), counts)
    out = []
    for sub, index in zip(subs, order):
        emotion, kind = pool[index]
        videos = STIMULI.get(emotion) or tuple(range(1, 25))
        video = int(videos[r.integers(len(videos))])
        prototypes = PROTOTYPES[emotion]
        p = np.array([w for _, w in prototypes])
        aus = prototypes[r.choice(len(prototypes), p=p / p.sum())][0]
        out.append(Expression(int(sub), video, emotion, kind, aus, _au_cell(r, aus)))
    return out


def _place(r: np.random.Generator, expressions: list[Expression], sub: int, video: int) -> Recording:
    """Times, amplitudes and bursts of the expressions of one recording (in a random time order)."""
    expressions = [expressions[i] for i in r.permutation(len(expressions))]
    t = float(r.uniform(1.0, 4.0))
    for e in expressions:
        if e.type == "micro":
            duration = _truncated_normal(r, *MICRO_DURATION)
            mvc = _truncated_lognormal(r, *MICRO_MVC)
        else:
            duration = _truncated_lognormal(r, *MACRO_DURATION)
            mvc = _truncated_lognormal(r, *MACRO_MVC)
        e.emg_onset = round(t, 3)
        e.emg_offset = round(t + duration, 3)
        e.emg_apex = round(t + duration * float(r.uniform(0.3, 0.6)), 3)
        e.mvc_percent = mvc
        e.aware = bool(r.random() < AWARE[e.type])
        e.keystroke = round(e.emg_offset + float(r.uniform(0.2, 0.8)), 3) if e.aware else None
        t = e.emg_offset + float(r.uniform(1.2, 5.0))
    end = max(e.emg_offset for e in expressions) + float(r.uniform(1.5, 3.0))
    lead = round(float(r.uniform(*VIDEO_LEAD)), 5)
    return Recording(sub, video, lead, int(round(end * emg.FS)), expressions)


def _bursts(r: np.random.Generator, e: Expression, subject: emg.Subject, mvc_envelope: np.ndarray) -> None:
    """The carrier burst (channel of the leading AU, amplitude from the MVC%) and the other AUs' bursts inside it;
    raises the MVC% where the carrier would not clearly dominate every other electrode."""
    lead = _lead_au(e.aus)
    e.channel = emg.home_channel(lead)
    seconds: dict[int, float] = {}
    for au in e.aus:
        for channel, weight in emg.au_channels(au):
            if channel == e.channel:
                continue
            fraction = weight * float(r.uniform(*SECONDARY))
            seconds[channel] = max(seconds.get(channel, 0.0), fraction)
    d = e.duration
    shapes = []
    for channel in sorted(seconds):
        on = e.emg_onset + d * float(r.uniform(0.0, 0.15))
        off = e.emg_offset - d * float(r.uniform(0.0, 0.15))
        apex = min(max(e.emg_apex + d * float(r.uniform(-0.05, 0.05)), on + 0.2 * (off - on)), off - 0.2 * (off - on))
        shapes.append((channel, on, apex, off, seconds[channel]))

    def build(percent: float) -> list[emg.Burst]:
        amplitude = emg.burst_amplitude(percent, mvc_envelope[e.channel - 1], e.emg_onset, e.emg_apex, e.emg_offset)
        bursts = [emg.Burst(e.channel, e.emg_onset, e.emg_apex, e.emg_offset, amplitude)]
        for channel, on, apex, off, fraction in shapes:
            cap = subject.mvc[channel - 1]  # never beyond that muscle's MVC
            bursts.append(emg.Burst(channel, on, apex, off, min(fraction * amplitude, cap)))
        return bursts

    def powers(bursts: list[emg.Burst]) -> np.ndarray:
        n = int(np.ceil(e.emg_offset * emg.FS)) + 2
        act = emg.activation(n, subject, bursts)
        lo = int(np.floor(e.emg_onset * emg.FS))
        muscle = (act[lo:] ** 2) @ (subject.crosstalk ** 2)
        white = subject.noise ** 2 * (emg.BAND[1] - emg.BAND[0]) / (emg.FS / 2)
        return muscle.mean(axis=0) + white + 0.52 * subject.hum ** 2

    percent = e.mvc_percent
    for _ in range(40):
        p = powers(build(percent))
        others = np.delete(p, e.channel - 1)
        if p[e.channel - 1] >= DOMINANCE * others.max() or percent >= 100.0:
            break
        percent = min(100.0, percent * 1.15)
    e.mvc_percent = percent
    e.bursts = build(percent)


def _video_times(r: np.random.Generator, e: Expression, lead: float) -> None:
    jitter = r.uniform(-0.01, 0.01, 3)
    on = e.emg_onset + lead + jitter[0]
    off = e.emg_offset + lead + jitter[2]
    if e.type == "micro":
        off = min(off, on + 0.49)
    else:
        off = max(off, on + 0.5 + 1e-3)
    apex = min(max(e.emg_apex + lead + jitter[1], on + 0.01), off - 0.01)
    e.video_onset, e.video_apex, e.video_offset = round(on, 5), round(apex, 5), round(off, 5)


def _blinks(r: np.random.Generator, rec: Recording, mvc_envelope: np.ndarray) -> list[emg.Burst]:
    """Spontaneous blinks on c3 (2-5% MVC, 0.1-0.2 s), at least 1.5 s away from every expression."""
    busy = [(e.emg_onset - 1.5, e.emg_offset + 1.5) for e in rec.expressions]
    end = rec.n_samples / emg.FS
    out = []
    for _ in range(int(r.poisson(end / 8.0))):
        start = float(r.uniform(0.5, max(0.6, end - 0.5)))
        duration = float(r.uniform(0.1, 0.2))
        if start + duration > end - 0.3 or any(a < start + duration and start < b for a, b in busy):
            continue
        apex = start + duration * 0.4
        amplitude = emg.burst_amplitude(float(r.uniform(2.0, 5.0)), mvc_envelope[2], start, apex, start + duration)
        out.append(emg.Burst(3, round(start, 3), round(apex, 3), round(start + duration, 3), amplitude))
        busy.append((start - 0.5, start + duration + 0.5))
    return out


def plan(scale: str, seed: int) -> Plan:
    """Everything ``write`` puts on disk except the noise: subjects, recordings, expressions and the quirks."""
    check_scale(scale)
    expressions = _expressions(scale, seed)
    subs = sorted({e.sub for e in expressions})
    subjects = {sub: emg.draw_subject(rng(seed, DATASET, "subject", sub)) for sub in subs}
    # the MVC each channel's bursts are scaled to: what the paper's pipeline measures on the MVC session as written
    mvc_envelope = {}
    for sub in subs:
        session = _mvc_matrix(seed, sub, subjects[sub])[emg.HEAD_ROWS:, :emg.N_CHANNELS]
        mvc_envelope[sub] = emg.envelope(session.astype(np.float32)).max(axis=0)
    groups: dict[tuple[int, int], list[Expression]] = {}
    for e in expressions:
        groups.setdefault((e.sub, e.video), []).append(e)
    recordings = []
    for (sub, video) in sorted(groups):
        r = rng(seed, DATASET, "recording", sub, video)
        rec = _place(r, groups[(sub, video)], sub, video)
        recordings.append(rec)

    # timing-file order: by subject and video; within a recording time order, but now and then not (as in the file)
    r = rng(seed, DATASET, "quirks", scale)
    rows: list[Expression] = []
    for rec in recordings:
        listed = list(rec.expressions)
        if len(listed) > 1 and r.random() < 0.25:
            listed[0], listed[1] = listed[1], listed[0]
        for n, e in enumerate(listed, start=1):
            e.order = n
        rows.extend(listed)
    for number, e in enumerate(rows, start=2):
        e.row = number

    # formula cells ('=m*60'): the burst sits at the formula's value, so snap those times before any signal
    n_formula = max(1, int(round(FORMULA_RATE * len(rows))))
    for index in sorted(r.choice(len(rows), n_formula, replace=False)):
        e = rows[index]
        columns = ["emg_onset", "emg_offset"] + (["emg_apex"] if r.random() < 0.5 else [])
        for column in columns:
            minutes = round(getattr(e, column) / 60.0, 4)
            e.formulas[column] = minutes
            setattr(e, column, minutes * 60)
    n_video, n_emg = EMPTY_APEX[scale]
    chosen = r.choice(len(rows), n_video + n_emg, replace=False)
    for k, index in enumerate(chosen):
        e = rows[int(index)]
        column = "video_apex" if k < n_video else "emg_apex"
        e.empty = e.empty + (column,)
        e.formulas.pop(column, None)

    for rec in recordings:
        subject = subjects[rec.sub]
        r = rng(seed, DATASET, "bursts", rec.sub, rec.video)
        for e in rec.expressions:
            _bursts(r, e, subject, mvc_envelope[rec.sub])
            _video_times(r, e, rec.lead)
        rec.blinks = _blinks(r, rec, mvc_envelope[rec.sub])
        n_gaps = int(r.poisson(rec.n_samples / emg.FS / 12.0))
        if scale == "tiny" and rec is recordings[0]:
            n_gaps = 2
        rec.gaps = tuple(sorted(int(g) for g in r.integers(emg.HEAD_ROWS, rec.n_samples, n_gaps)))
    return Plan(scale, seed, subjects, mvc_envelope, recordings, rows)


# --- writing ---------------------------------------------------------------------------------------------------------


def recording_matrix(p: Plan, rec: Recording) -> np.ndarray:
    """The 11-column matrix of one expression recording (deterministic in (seed, sub, video))."""
    n = rec.n_samples
    keys = np.zeros(n)
    times = emg.sample_times(n)
    for e in rec.expressions:
        if e.keystroke is not None:
            keys[(times >= e.keystroke) & (times < e.keystroke + 0.1)] = 1.0
    bursts = [b for e in rec.expressions for b in e.bursts] + rec.blinks
    spec = emg.Recording(n, bursts, keys, rec.gaps)
    return emg.render(rng(p.seed, DATASET, "noise", rec.sub, rec.video), p.subjects[rec.sub], spec)


def mvc_matrix(p: Plan, sub: int) -> np.ndarray:
    """The 11-column matrix of a subject's MVC session."""
    return _mvc_matrix(p.seed, sub, p.subjects[sub])


def _mvc_matrix(seed: int, sub: int, subject: emg.Subject) -> np.ndarray:
    protocol = emg.mvc_protocol()
    n = int(round(protocol.duration * emg.FS))
    r = rng(seed, DATASET, "mvc", sub)
    extra = emg.mvc_activation(r, subject, protocol, n)
    spec = emg.Recording(n, [], emg.mvc_cue(protocol, n))
    return emg.render(r, subject, spec, extra)


def video_frame(t: float) -> float:
    """Video-clock seconds -> (fractional) frame position in the face video: frame k is at k / 30 s."""
    return float(t) * VIDEO_FPS


def render_aus(e: Expression) -> list[tuple[int, str | None, float]]:
    """(AU, side, amplitude) the face video moves for an expression: its coded AUs with their sides ('L12' = left
    only), at the events module's micro / macro amplitude."""
    tokens = []
    for text in str(e.au_cell).split("+"):
        text = text.strip()
        side = text[0] if text[:1] in ("L", "R") else None
        tokens.append(ev.Token(int(text.lstrip("LR")), side))
    return ev.Expression(f"{e.sub:02d}", str(e.video), e.type, e.emotion, tuple(tokens), e.au_cell).render_aus()


def face_key(p: Plan, sub: int) -> render.FaceKey:
    """The render face key of a subject (identity stream rng(seed, 'identity', 'casmemg', '<sub:02d>'))."""
    return (p.seed, DATASET, f"{sub:02d}", *VIDEO_SIZE, False)


def video_face(p: Plan, sub: int):
    """The subject's ``faces.Face`` as the videos render it (neutral landmarks in pixels, for checks)."""
    return render._face(face_key(p, sub))


def video_job(p: Plan, rec: Recording, root: Path) -> render.Job:
    """The rendering job of a recording's face video (``root / rec.video_path``): the release has videos only,
    so no frame files are written."""
    lead_frames = int(rec.lead * VIDEO_FPS)
    before = ev.blinks(rng(p.seed, DATASET, "video-blinks", rec.sub, rec.video), lead_frames, VIDEO_FPS)
    blinks = before + [(video_frame(b.onset + rec.lead), video_frame(b.apex + rec.lead),
                        video_frame(b.offset + rec.lead)) for b in rec.blinks]
    events = [(render_aus(e), video_frame(e.video_onset), video_frame(e.video_apex), video_frame(e.video_offset))
              for e in rec.expressions]
    return render.Job(face=face_key(p, rec.sub), folder=None, pattern="frame.jpg", first=0, n_frames=rec.n_frames, events=events, blinks=blinks,
                      drift_px=VIDEO_DRIFT_PX, fps=VIDEO_FPS, noise_sigma=VIDEO_NOISE,
                      seed_keys=(DATASET, "video", rec.sub, rec.video), video=str(Path(root) / rec.video_path))


def _timing_workbook(rows: list[Expression]):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(list(HEADER))
    cached: dict[tuple[str, str], float] = {}
    letters = {name: chr(ord("A") + k) for k, name in enumerate(HEADER)}
    for e in rows:
        values: dict[str, Any] = {
            "sub": e.sub, "video": e.video, "video_onset": e.video_onset, "video_apex": e.video_apex,
            "video_offset": e.video_offset, "channel": e.channel, "emg_onset": round(e.emg_onset, 3),
            "emg_apex": round(e.emg_apex, 3), "emg_offset": round(e.emg_offset, 3),
        }
        for column, minutes in e.formulas.items():
            values[column] = "=" + f"{minutes:.4f}".rstrip("0").rstrip(".") + "*60"
            cached[("Sheet1", f"{letters[column]}{e.row}")] = minutes * 60
        for column in e.empty:
            values[column] = None
        sheet.append([values[name] for name in HEADER])
    return book, cached


def _coding_workbook(rows: list[Expression]):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(list(CODING_HEADER))
    for e in sorted(rows, key=lambda e: (e.sub, e.video, e.emg_onset)):
        sheet.append([e.sub, e.video, e.order, e.video_onset, e.au_cell, e.emotion,
                      "ME" if e.type == "micro" else "MaE"])
    return book


def write(root: Path, scale: str, seed: int, progress: Callable[[int, int], None] | None = None) -> dict[str, int]:
    """Write the shadow CASMEMG under ``root`` (see the module docstring); returns {"samples", "subjects"}."""
    return write_plan(root, plan(scale, seed), progress)


def write_plan(root: Path, p: Plan, progress: Callable[[int, int], None] | None = None,
               videos: bool = True) -> dict[str, int]:
    """``write`` for a plan already drawn (``plan(scale, seed)``); ``videos=False`` leaves out the face videos (the
    bulk of the time: for checks of the EMG alone)."""
    from mebench.synth.xlsx import save_workbook

    root = Path(root)
    n_frames = sum(rec.n_frames for rec in p.recordings) if videos else 0
    total = len(p.recordings) + len(p.subjects) + n_frames + 1
    done = 0
    for rec in p.recordings:
        emg.save_mat_table(root / rec.path, recording_matrix(p, rec))
        done += 1
        if progress is not None:
            progress(done, total)
    for sub in sorted(p.subjects):
        emg.save_mat_table(root / f"{sub:02d}" / MVC_FILE, mvc_matrix(p, sub))
        done += 1
        if progress is not None:
            progress(done, total)
    if videos:
        jobs = [video_job(p, rec, root) for rec in p.recordings]
        render.run_jobs(jobs, None if progress is None else lambda frames, _: progress(done + frames, total))
    book, cached = _timing_workbook(p.rows)
    save_workbook(book, root / TIMING_FILE, cached_values=cached)
    save_workbook(_coding_workbook(p.rows), root / CODING_FILE)
    if progress is not None:
        progress(total, total)
    return p.counts
