"""Facial-EMG baseline of seed 001 (Li et al., "Could Micro-Expressions be Quantified?", CASMEMG).

Three things, each written from the paper's text and equations:

1. ``preprocess``: section 3.1.3, eq. 1-4 -- DC removal, band-pass 20-450 Hz, full-wave rectification, 6 Hz linear
   envelope. The paper: "a 2nd-order band-pass Butterworth filter (BF_bp) from roughly 20 Hz to 450 Hz" (eq. 2,
   ``BF_bp(E_d, 2, [Wn1, Wn2])``, ``Wn1 = 20 x 2/1000``, ``Wn2 = 450 x 2/1000``) and "a 2nd-order Butterworth filter
   (BF_lp) with a low-pass cutoff frequency of 6 Hz" (eq. 4, ``BF_lp(E_f, 2, Wn)``, ``Wn = 6 x 2/1000``).
2. Indicators (section 3.1.4): ``peak_amplitudes`` / ``select_channel`` (eq. 5), ``mvc_percent`` (eq. 6) and
   ``iemg`` (eq. 7).
3. The interval detector of section 6.2 (eq. 9-12), ``detect_peaks`` / ``detect_interval``, and the model
   ``EmgPeakTrough`` (``emg-peak-trough``, DESIGN.md section 8) that runs it on protocol ``casmemg-emg-interval``.

Where the paper leaves a choice open, mebench chose (and says so again where it is implemented):

- filter orders: "2nd-order band-pass" = MATLAB ``butter(2, [Wn1 Wn2], 'bandpass')`` (the paper's own notation and
  the authors' ``process.m``): a 2nd-order prototype, so 4 poles, two biquads; the low-pass is one biquad. Applied
  zero-phase, forward-backward (the paper does not say; the authors' code uses ``filtfilt``): the EFFECTIVE
  response is then |H|^2, -6 dB at 20/450 Hz and 6 Hz, while each designed filter has its -3 dB points there;
- eq. 1 before eq. 2 as the paper orders them (the authors' ``process.m`` removes the mean after the band-pass; only
  the edge padding differs);
- the detector's ``E_n`` is the segment's envelope min-max normalised ("selected and normalized"; the authors'
  ``emg_sigpro.m`` normalises this way); the window "energy" is the mean of ``E_n`` over the window ("the average
  energy within the window"; the authors' ``feature_calculation.m`` computes the mean); the threshold's baseline
  is ``mean(E_n)`` of the segment itself (eq. 9), nothing from outside the segment;
- eq. 10 reads ``sum_{i=n}^{n+S_L-1} 1(x_i > T_r) >= S_n``; with S_L = 30 the step in SAMPLES this upper limit is a
  misprint for ``n+S_n-1``: a peak is a run of at least S_n CONSECUTIVE windows above T_r, as the text says ("If the
  number of consecutive indicators exceeds the threshold S_n") and the authors' code does (``m >= serial_num``);
  ``>= S_n`` and the strict ``x_i > T_r`` as the equation writes them;
- eq. 11-12: W_f is the number of windows moved BACKWARD for the onset and W_b FORWARD for the offset, as the
  equations and their definitions state; the peak's position p is its first window for the onset and its last
  window for the offset (one p for both would make W_f = 2 windows reach only 60 ms before the peak); t runs over
  the samples of windows p - W_f .. p and p .. p + W_b; ties: the first minimum;
- several peaks in one segment: see ``detect_interval`` (default: earliest onset to latest offset, as the authors'
  evaluation script; the sentence of section 6.3 read literally is ``combine="text"``);
- the detector runs on the envelope of the WHOLE recording cut to the segment (the authors' script filters the cut
  segment; filtering first keeps the 6 Hz filter's edge transients out of 1-3 s segments), on the channel with the
  largest envelope peak in the segment among c1-c7 (section 6.2 "the channel with the largest amplitude");
- not in the paper and not done: the authors' script also drops peaks whose summed envelope is below 1 (raw units).

Speed: ``preprocess`` runs both zero-phase filters over all channels of a recording at once
(``mebench.baselines.zero_phase``: one compiled pass per direction, the same arithmetic as scipy's ``sosfiltfilt``,
equal to it to rounding, tested), so a 30-minute 8-channel recording takes about a tenth of a second.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import signal as _signal

from mebench.baselines.zero_phase import padlen, sosfiltfilt_into
from mebench.errors import InputError

__all__ = [
    "BAND_HZ",
    "BAND_ORDER",
    "ENVELOPE_HZ",
    "ENVELOPE_ORDER",
    "FS",
    "MUSCLE_CHANNELS",
    "EmgPeakTrough",
    "PeakTroughParams",
    "detect_indices",
    "detect_interval",
    "detect_peaks",
    "filters",
    "iemg",
    "mvc_percent",
    "normalize",
    "peak_amplitudes",
    "preprocess",
    "preprocess_steps",
    "select_channel",
    "window_energy",
]

FS = 1000.0  # CASMEMG sampling rate (section 3.1.1)
BAND_HZ = (20.0, 450.0)  # eq. 2
BAND_ORDER = 2  # eq. 2: BF_bp(E_d, 2, ...) -> 4 poles
ENVELOPE_HZ = 6.0  # eq. 4
ENVELOPE_ORDER = 2  # eq. 4: BF_lp(E_f, 2, Wn)
MUSCLE_CHANNELS = 7  # c1-c7 (section 3.1.2); recordings have an 8th ADS1299 column over no muscle


# --------------------------------------------------------------------------------------------------- filtering


@functools.lru_cache(maxsize=16)
def _filters(fs: float) -> tuple[np.ndarray, np.ndarray]:
    if not fs > 2 * BAND_HZ[1]:
        raise ValueError(f"sampling rate {fs} Hz is too low for the 20-450 Hz band-pass of seed 001 eq. 2 "
                         f"(needs > {2 * BAND_HZ[1]:g} Hz)")
    band = _signal.butter(BAND_ORDER, BAND_HZ, btype="bandpass", fs=fs, output="sos")
    low = _signal.butter(ENVELOPE_ORDER, ENVELOPE_HZ, btype="lowpass", fs=fs, output="sos")
    return band, low


def filters(fs: float = FS) -> tuple[np.ndarray, np.ndarray]:
    """(band-pass SOS, low-pass SOS) of eq. 2 and eq. 4 at sampling rate `fs` (copies).

    Band-pass: ``butter(2, [20, 450], 'bandpass')`` -> 2 second-order sections (4 poles). Low-pass:
    ``butter(2, 6, 'lowpass')`` -> 1 section."""
    band, low = _filters(float(fs))
    return band.copy(), low.copy()


def _as_2d(signal: Any) -> tuple[np.ndarray, bool]:
    x = np.asarray(signal)
    if x.ndim == 1:
        return x[:, None], True
    if x.ndim != 2:
        raise ValueError(f"expected a (n_samples,) or (n_samples, n_channels) array, got shape {x.shape}")
    return x, False


def _min_length(fs: float) -> int:
    band, low = _filters(float(fs))
    return max(padlen(band), padlen(low)) + 1


def preprocess(signal: Any, fs: float = FS) -> np.ndarray:
    """Seed 001 eq. 1-4 on every channel: the linear envelope ``E_l`` of the raw EMG ``E_r``.

    ``E_d = E_r - mean(E_r)`` (eq. 1, per channel over the whole input); ``E_b = BF_bp(E_d, 2, [20, 450] Hz)``
    (eq. 2, zero-phase); ``E_f = |E_b|`` (eq. 3); ``E_l = BF_lp(E_f, 2, 6 Hz)`` (eq. 4, zero-phase).

    `signal`: (n_samples,) or (n_samples, n_channels), e.g. a whole (n, 8) CASMEMG recording in one call; returns
    float64 of the same shape, equal to ``preprocess_steps(signal, fs)["E_l"]`` (per-channel
    ``scipy.signal.sosfiltfilt``, default odd padding) to rounding. All channels go through each filter together
    (``mebench.baselines.zero_phase``), each step written straight into the next filter's padded buffer. NaNs are
    not allowed (cut a recording with gaps first)."""
    x, flat = _as_2d(signal)
    n, channels = x.shape
    fs = float(fs)
    if n < _min_length(fs):
        raise ValueError(f"{n} samples are too few to filter (need at least {_min_length(fs)})")
    if channels and not np.isfinite(x).all():
        raise ValueError("the EMG signal has NaN or infinite values")
    band, low = _filters(fs)
    if channels == 0:
        return np.empty((n, 0))
    # one buffer for both filters: the signal in the middle, each filter's odd-extension scratch around it
    e1, e2 = padlen(band), padlen(low)
    pad = max(e1, e2)
    buf = np.empty((n + 2 * pad, channels))
    middle = buf[pad:pad + n]
    # the per-channel mean as one BLAS product (numpy's axis-0 mean walks an (n, 8) array 8 values at a time: 3x)
    mean = (np.ones(n) @ x) / n if x.dtype == np.float64 else x.mean(axis=0, dtype=np.float64)
    np.subtract(x, mean, out=middle)  # eq. 1
    sosfiltfilt_into(band, buf[pad - e1:pad + n + e1], e1)  # eq. 2
    np.abs(middle, out=middle)  # eq. 3
    e_l = sosfiltfilt_into(low, buf[pad - e2:pad + n + e2], e2)  # eq. 4
    return e_l[:, 0] if flat else e_l


def preprocess_steps(signal: Any, fs: float = FS) -> dict[str, np.ndarray]:
    """The four intermediate signals of Fig. 5 (b-e), per channel, the plain way (for inspection and tests):
    ``E_d`` (eq. 1), ``E_b`` (eq. 2), ``E_f`` (eq. 3), ``E_l`` (eq. 4)."""
    x, flat = _as_2d(signal)
    band, low = _filters(float(fs))
    e_d = np.asarray(x, dtype=np.float64) - np.asarray(x, dtype=np.float64).mean(axis=0)
    e_b = _signal.sosfiltfilt(band, e_d, axis=0)
    e_f = np.abs(e_b)
    e_l = _signal.sosfiltfilt(low, e_f, axis=0)
    steps = {"E_d": e_d, "E_b": e_b, "E_f": e_f, "E_l": e_l}
    return {k: v[:, 0] for k, v in steps.items()} if flat else steps


# -------------------------------------------------------------------------------------------------- indicators


def peak_amplitudes(envelope: Any) -> np.ndarray:
    """``A^k = max(Amp(E^k))`` of eq. 5 for each channel k: the envelope maximum over the expression (pass the
    expression's stretch of the envelope, (n,) or (n, channels))."""
    env, flat = _as_2d(envelope)
    if env.shape[0] == 0:
        raise ValueError("empty expression segment")
    peaks = np.max(env, axis=0)
    return peaks[0] if flat else peaks


def select_channel(envelope: Any, channels: Sequence[int] | None = None) -> int:
    """Eq. 5: ``k = argmax_k A^k`` -- the 0-based column with the largest envelope peak over the segment, among
    `channels` (0-based columns; default the seven muscle channels c1-c7 = columns 0-6 that exist)."""
    env, _ = _as_2d(envelope)
    cols = list(range(min(MUSCLE_CHANNELS, env.shape[1]))) if channels is None else [int(c) for c in channels]
    if not cols:
        raise ValueError("no channel to choose from")
    peaks = peak_amplitudes(env[:, cols])
    return cols[int(np.argmax(np.atleast_1d(peaks)))]


def mvc_percent(peak: Any, mvc: Any) -> Any:
    """Eq. 6 in percent: ``100 * A^k_{i,j} / MVC^k_i`` (element-wise; NaN where the MVC is not positive)."""
    peak = np.asarray(peak, dtype=np.float64)
    mvc = np.asarray(mvc, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(mvc > 0, 100.0 * peak / np.where(mvc > 0, mvc, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def iemg(envelope: Any, fs: float = FS, norm: tuple[float, float] | None = None) -> float:
    """Eq. 7: ``iEMG = integral_{t1}^{t2} |Norm(E(t))| dt`` over the expression's stretch of the envelope.

    The paper does not define ``Norm``. mebench uses min-max normalisation ``(E - lo) / (hi - lo)`` with
    ``norm = (lo, hi)`` the minimum and maximum of that channel's envelope over the WHOLE recording (the
    normalisation of the authors' ``emg_sigpro.m``); ``norm=None`` integrates the envelope as given. ``dt`` is in
    MILLISECONDS (at 1 kHz the integral is the sum of the samples), which is the unit that puts Table 3's values
    (ME 78.8, MaE 440.9) in range: a ~0.3 s ME whose normalised envelope averages ~0.25 integrates to ~75."""
    e = np.asarray(envelope, dtype=np.float64).ravel()
    if norm is not None:
        lo, hi = float(norm[0]), float(norm[1])
        if not hi > lo:
            return float("nan")
        e = (e - lo) / (hi - lo)
    return float(np.abs(e).sum() * (1000.0 / float(fs)))


# ---------------------------------------------------------------------------------------------------- detector


@dataclass(frozen=True)
class PeakTroughParams:
    """Parameters of the section 6.2 detector, named as in the paper (defaults: section 6.3's optimum).

    w_l: W_L, samples per window; s_l: S_L, samples the window moves per step (forward or backward); k: the scale
    of the threshold T_r = k x mean(E_n) (eq. 9); s_n: S_n, consecutive windows above T_r that make a peak
    (eq. 10); w_f: W_f, windows moved backward from the peak to search the onset trough (eq. 11); w_b: W_b,
    windows moved forward from the peak to search the offset trough (eq. 12); combine: how several peaks in one
    segment become one interval (see ``detect_interval``)."""

    w_l: int = 60
    s_l: int = 30
    k: float = 1.0
    s_n: int = 5
    w_f: int = 2
    w_b: int = 6
    combine: str = "span"

    COMBINE = ("span", "text")

    def __post_init__(self) -> None:
        for name in ("w_l", "s_l", "s_n"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("w_f", "w_b"):
            value = getattr(self, name)
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not (isinstance(self.k, (int, float)) and math.isfinite(self.k) and self.k > 0):
            raise ValueError(f"k must be a positive number, got {self.k!r}")
        if self.combine not in self.COMBINE:
            raise ValueError(f"combine must be one of {self.COMBINE}, got {self.combine!r}")

    @classmethod
    def of(cls, params: "PeakTroughParams | Mapping[str, Any] | None") -> "PeakTroughParams":
        if params is None:
            return cls()
        if isinstance(params, cls):
            return params
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ValueError(f"unknown detector parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(params))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize(envelope: Any) -> np.ndarray | None:
    """``E_n``: the segment's envelope min-max normalised to [0, 1] (section 6.2 "selected and normalized"; the
    authors' ``emg_sigpro.m`` normalises this way). None for a flat segment (nothing to detect)."""
    e = np.asarray(envelope, dtype=np.float64).ravel()
    if e.size == 0:
        return None
    lo, hi = float(e.min()), float(e.max())
    if not hi > lo:
        return None
    return (e - lo) / (hi - lo)


def window_energy(e_n: np.ndarray, w_l: int, s_l: int) -> np.ndarray:
    """x_i of eq. 10: the average energy (mean of ``E_n``) of window i = samples [i*S_L, i*S_L + W_L), for every
    i with i*S_L + W_L <= n (no partial window at the end)."""
    e_n = np.asarray(e_n, dtype=np.float64)
    n = e_n.size
    if n < w_l:
        return np.zeros(0)
    starts = np.arange(0, n - w_l + 1, s_l)
    c = np.concatenate(([0.0], np.cumsum(e_n)))
    return (c[starts + w_l] - c[starts]) / w_l


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) indices of the maximal runs of True."""
    if mask.size == 0:
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return list(zip(starts.tolist(), ends.tolist()))


def detect_peaks(envelope: Any, params: PeakTroughParams | Mapping[str, Any] | None = None
                 ) -> list[tuple[int, int]]:
    """Every peak of the segment as (onset index, offset index) in samples of `envelope` (section 6.2).

    1. ``E_n`` = the segment min-max normalised (``normalize``); ``T_r = k x mean(E_n)`` (eq. 9): the baseline the
       windows are compared with is the MEAN of the segment's own normalised envelope (nothing from outside it).
    2. Windows of W_L samples stepping S_L; x_i = mean of ``E_n`` over window i ("the average energy within the
       window"); indicator ``1(x_i > T_r)`` (eq. 10, strict).
    3. A peak = a maximal run of at least S_n consecutive indicators (eq. 10 with the sum running over S_n
       consecutive windows: "If the number of consecutive indicators exceeds the threshold S_n").
    4. Troughs (eq. 11-12), with t running over the SAMPLES of windows (each window move is S_L samples) and p the
       peak's position in windows -- its first window a for the onset, its last window b for the offset:
       onset = argmin E(t) over the samples of windows a - W_f .. a, i.e. [a*S_L - W_f*S_L, a*S_L + W_L - 1];
       offset = argmin E(t) over the samples of windows b .. b + W_b, i.e. [b*S_L, b*S_L + W_b*S_L + W_L - 1];
       both clipped to the segment (argmin: the first minimum).
    """
    p = PeakTroughParams.of(params)
    e = np.asarray(envelope, dtype=np.float64).ravel()
    e_n = normalize(e)
    if e_n is None:
        return []
    t_r = p.k * float(e_n.mean())  # eq. 9
    x = window_energy(e_n, p.w_l, p.s_l)
    peaks = []
    n = e.size
    for first, last in _runs(x > t_r):  # eq. 10
        if last - first + 1 < p.s_n:
            continue
        lo = max(0, (first - p.w_f) * p.s_l)  # window a - W_f
        hi = min(n - 1, first * p.s_l + p.w_l - 1)  # end of window a
        onset = lo + int(np.argmin(e_n[lo:hi + 1]))  # eq. 11
        lo = last * p.s_l  # window b
        hi = min(n - 1, (last + p.w_b) * p.s_l + p.w_l - 1)  # end of window b + W_b
        offset = lo + int(np.argmin(e_n[lo:hi + 1]))  # eq. 12
        peaks.append((onset, offset))
    return peaks


def detect_indices(envelope: Any, params: PeakTroughParams | Mapping[str, Any] | None = None
                   ) -> tuple[int, int] | None:
    """``detect_interval`` in sample indices of `envelope` (None = not detected)."""
    p = PeakTroughParams.of(params)
    peaks = detect_peaks(envelope, p)
    if not peaks:
        return None
    onsets = [a for a, _ in peaks]
    offsets = [b for _, b in peaks]
    if p.combine == "span":
        return min(onsets), max(offsets)
    onset, offset = max(onsets), min(offsets)  # "text"
    return (onset, offset) if onset <= offset else None


def detect_interval(envelope: Any, fs: float = FS, params: PeakTroughParams | Mapping[str, Any] | None = None
                    ) -> tuple[float, float] | None:
    """The section 6.2 detector on one segment's envelope: (onset_s, offset_s) in seconds from the segment's first
    sample (sample i at i / fs), or None when no peak is found. See ``detect_peaks`` for the rule (eq. 9-12).

    Several peaks in one segment (section 6.3: "In cases where multiple values appear in the onset and offset
    detection results, the final onset and offset values ... are the maximum and minimum values, respectively"):

    - ``combine="span"`` (default): onset = the EARLIEST onset, offset = the LATEST offset -- what the authors'
      released evaluation script (``meclip_test.m``: ``onset = min(onset_temp); offset = max(offset_temp)``), which
      produced Table 7, does;
    - ``combine="text"``: the sentence read literally, onset = the latest onset and offset = the earliest offset (the
      intersection of the peaks' intervals); None when the peaks do not overlap (the literal rule gives onset >
      offset there, so it cannot be what Table 7 applied to separated peaks)."""
    found = detect_indices(envelope, params)
    if found is None:
        return None
    return found[0] / float(fs), found[1] / float(fs)


# ------------------------------------------------------------------------------------------------------ model


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


class EmgPeakTrough:
    """``emg-peak-trough``: seed 001's EMG peak/trough interval detector (section 6.2) as a harness model.

    For each test row: the row's recording is read through ``view.emg(row)`` (the corpus' ``emg.parquet``), the
    WHOLE recording is pre-processed once (eq. 1-4; so the segment carries no filter edge effects), the segment
    ``clip_start_s``..``clip_end_s`` the protocol gives (annotation +- 0.5 s, seed 001 section 6.3) is cut on the
    EMG clock, the channel is chosen (``channel="auto"``: the largest envelope among c1-c7 in the segment, section
    6.2 "the EMG signal from the channel with the largest amplitude among all channels was selected";
    ``"annotated"``: the row's ``emg_channel``, as the authors' scripts do, falling back to auto), and
    ``detect_interval`` runs on it. Output: a DataFrame (sample_id, onset_s, offset_s) in EMG-clock seconds, NaN =
    not detected.

    The segment's bounds are used only to cut the signal: the detector never looks at where they are. (They are the
    annotation +- 0.5 s, so a model that did would read the answer off them; ``mebench.views`` flags this.)

    ``fit`` learns nothing by default (the paper's fixed parameters). ``tune=True`` chooses k (T_r's scale) from the
    paper's grid (1, 1.5, 2; ``findbestparameter_*.m``) on the TRAINING persons only, maximising the mean IoU over
    all training samples with undetected ones counted as 0 (ties: the smaller k)."""

    name = "emg-peak-trough"
    version = "1"
    tasks = ("emg-interval",)
    K_GRID = (1.0, 1.5, 2.0)

    def __init__(self, w_l: int = 60, s_l: int = 30, k: float = 1.0, s_n: int = 5, w_f: int = 2, w_b: int = 6,
                 combine: str = "span", channel: str = "auto", tune: bool = False, seed: int = 0) -> None:
        try:
            self.params = PeakTroughParams(w_l=w_l, s_l=s_l, k=k, s_n=s_n, w_f=w_f, w_b=w_b, combine=combine)
        except (TypeError, ValueError) as exc:
            raise InputError(f"emg-peak-trough: {exc}") from None
        if channel not in ("auto", "annotated"):
            raise InputError(f"emg-peak-trough: channel must be 'auto' or 'annotated', got {channel!r}")
        self.channel = channel
        self.tune = bool(tune)
        self.seed = seed
        self._cache: dict[str, tuple[np.ndarray, np.ndarray, float, tuple[str, ...]]] = {}

    def get_params(self) -> dict[str, Any]:
        return {**self.params.as_dict(), "channel": self.channel, "tune": self.tune}

    # ---- signals

    def _envelope(self, view: Any, row: pd.Series) -> tuple[np.ndarray, np.ndarray, float, tuple[str, ...]]:
        """(envelope (n, channels), times, fs, channel names) of the row's whole recording, cached."""
        getter = getattr(view, "emg", None)
        if not callable(getter):
            raise InputError("emg-peak-trough needs a view with an emg(row) helper (mebench.views.View)")
        sig = getter(row)
        key = str(getattr(sig, "recording_id", None) or row.get("video_id"))
        if key not in self._cache:
            fs = float(sig.sampling_rate)
            try:
                envelope = preprocess(np.asarray(sig.signals), fs)
            except ValueError as exc:
                raise InputError(f"EMG recording {key}: {exc}") from None
            self._cache[key] = (envelope, np.asarray(sig.times, dtype=np.float64), fs, tuple(sig.channels))
        return self._cache[key]

    def _muscles(self, names: tuple[str, ...], n_columns: int) -> list[int]:
        wanted = [f"ch{k}" for k in range(1, MUSCLE_CHANNELS + 1)]
        cols = [names.index(w) for w in wanted if w in names]
        return cols or list(range(min(MUSCLE_CHANNELS, n_columns)))

    def segment(self, view: Any, row: pd.Series) -> tuple[np.ndarray, np.ndarray, float] | None:
        """(envelope of the chosen channel over the segment, its times, fs), or None when the recording has no
        samples in the segment. Raises InputError when the row has no segment bounds."""
        start, stop = row.get("clip_start_s"), row.get("clip_end_s")
        if _missing(start) or _missing(stop):
            raise InputError(f"{row.get('sample_id', '?')}: no clip_start_s/clip_end_s: emg-peak-trough runs on "
                             "protocols of task emg-interval, which give each sample's segment")
        env, times, fs, names = self._envelope(view, row)
        keep = np.flatnonzero((times >= float(start)) & (times <= float(stop)))
        if keep.size == 0:
            return None
        # a contiguous stretch (times are increasing): first..last kept sample
        seg = env[keep[0]:keep[-1] + 1]
        seg_times = times[keep[0]:keep[-1] + 1]
        column = None
        if self.channel == "annotated":
            value = row.get("emg_channel")
            if not _missing(value) and f"ch{int(value)}" in names:
                column = names.index(f"ch{int(value)}")
        if column is None:
            column = select_channel(seg, self._muscles(names, seg.shape[1]))
        return seg[:, column], seg_times, fs

    def _detect(self, view: Any, row: pd.Series, params: PeakTroughParams) -> tuple[float, float]:
        seg = self.segment(view, row)
        if seg is None:
            return math.nan, math.nan
        envelope, times, _ = seg
        found = detect_indices(envelope, params)
        if found is None:
            return math.nan, math.nan
        return float(times[found[0]]), float(times[found[1]])

    # ---- harness API

    def fit(self, train: Any) -> "EmgPeakTrough":
        self.params_ = self.params
        if not self.tune:
            return self
        samples = train.samples
        labels = train.labels
        gt_on = pd.to_numeric(labels["onset_s"], errors="coerce").to_numpy(dtype=np.float64)
        gt_off = pd.to_numeric(labels["offset_s"], errors="coerce").to_numpy(dtype=np.float64)
        segments = [self.segment(train, samples.iloc[i]) for i in range(len(samples))]
        best: tuple[float, float] | None = None
        for k in self.K_GRID:
            params = replace(self.params, k=k)
            ious = []
            for seg, g0, g1 in zip(segments, gt_on, gt_off):
                found = None if seg is None else detect_indices(seg[0], params)
                if found is None or math.isnan(g0) or math.isnan(g1):
                    ious.append(0.0)
                    continue
                p0, p1 = float(seg[1][found[0]]), float(seg[1][found[1]])
                inter = max(0.0, min(p1, g1) - max(p0, g0))
                union = (p1 - p0) + (g1 - g0) - inter
                ious.append(inter / union if union > 0 else 0.0)
            score = float(np.mean(ious)) if ious else 0.0
            if best is None or score > best[1] + 1e-12:
                best = (k, score)
        if best is not None:
            self.params_ = replace(self.params, k=best[0])
            self.tuned_score_ = best[1]
        return self

    def predict(self, test: Any) -> pd.DataFrame:
        params = getattr(self, "params_", self.params)
        samples = test.samples
        onsets, offsets = [], []
        for i in range(len(samples)):
            on, off = self._detect(test, samples.iloc[i], params)
            onsets.append(on)
            offsets.append(off)
        return pd.DataFrame({"sample_id": samples["sample_id"].astype(object).to_numpy() if "sample_id" in samples
                             else np.arange(len(samples)), "onset_s": onsets, "offset_s": offsets})

