"""Facial EMG signal model of the shadow CASMEMG (seed 001, Li et al.): AUs drive muscles, muscles drive electrodes.

Channels (seed 001 section 3.1.2 and Table 8, electrodes on the subject's LEFT half-face, 1000 Hz):

    c1 frontalis                              AU1, AU2
    c2 corrugator supercilii                  AU4
    c3 orbicularis oculi                      AU5, AU6, AU7, AU4, AU41, AU42, AU43, AU44, AU45
    c4 levator labii superioris alaeque nasi  AU9, AU10
    c5 zygomaticus major                      AU11, AU12
    c6 orbicularis oris                       AU15, AU16, AU17, AU18, AU22, AU23, AU24, AU28
    c7 depressor anguli oris                  AU14, AU25

``CHANNEL_AUS`` is that table verbatim (Table 8 prints "Orbicularis oris" for c3 as well; the text of section
3.1.2 names it orbicularis oculi, which is what its AUs say). AU4 is listed under c2 and c3: it drives c2 fully
and c3 at ``SHARED_WEIGHT`` (the corrugator lies under the upper orbicularis oculi). AUs the table does not list
(AU20, AU26...) drive no electrode. The recordings have 8 EMG columns (the release's layout); column 8 is an
electrode over no modelled muscle (noise, hum and drift only).

A muscle's signal is band-limited Gaussian noise (4th-order Butterworth 20-450 Hz, unit RMS) amplitude-modulated
by its activation a(t) in uV RMS: a constant tonic level plus one raised-cosine burst per expression
(0 at onset -> 1 at apex -> 0 at offset, half-cosines on either side, nothing outside [onset, offset]). Electrodes
see their own muscle plus a little of the neighbouring ones (``CROSSTALK``), plus white sensor noise, 50 Hz hum
(and a 150 Hz harmonic), slow drift (< 0.5 Hz) and a DC offset. The band-pass of the analysis removes drift and
DC; hum stays in the band, as in real recordings.

Intensity: seed 001 defines MVC% as max(envelope over the expression) / MVC of that channel, the envelope being
DC removal -> 2nd-order Butterworth band-pass 20-450 Hz -> full-wave rectification -> 2nd-order Butterworth
low-pass 6 Hz (``envelope``; forward-backward here), and the MVC the maximum of the same envelope over the
subject's MVC session. A burst drawn with MVC% p gets the apex amplitude (uV RMS)
``p/100 * MVC_envelope / (sqrt(2/pi) * g)``: sqrt(2/pi) is the mean of the rectified unit-RMS carrier and g the
peak of the 6 Hz low-passed burst shape (< 1 for short bursts, ``lowpass_peak``), so the EXPECTED envelope peak is
p% of the measured MVC: what the paper's pipeline measures is what was drawn, up to the envelope ripple (a few %
upwards: the maximum of a noisy envelope) and the resting floor.

Clock: sample j (0-based, of the rows that are samples) is at (j + 1) / 1000 s, the official code's convention
(index i of data(200:end) is at (i + 200) / 1000 s).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from scipy import signal

FS = 1000.0
N_CHANNELS = 8  # EMG columns of a recording
N_MUSCLES = 7  # c1-c7 carry muscles (Table 8)
BAND = (20.0, 450.0)
ENVELOPE_CUTOFF = 6.0
HUM_HZ = 50.0

MUSCLES = {
    1: "frontalis",
    2: "corrugator supercilii",
    3: "orbicularis oculi",
    4: "levator labii superioris alaeque nasi",
    5: "zygomaticus major",
    6: "orbicularis oris",
    7: "depressor anguli oris",
}

# Seed 001 Table 8, verbatim (order of the AUs as printed).
CHANNEL_AUS: dict[int, tuple[int, ...]] = {
    1: (1, 2),
    2: (4,),
    3: (5, 6, 7, 4, 41, 42, 43, 44, 45),
    4: (9, 10),
    5: (11, 12),
    6: (15, 16, 17, 18, 22, 23, 24, 28),
    7: (14, 25),
}
SHARED_WEIGHT = 0.4  # AU4 on c3 (its home channel is c2, the corrugator)

# Neighbouring electrode sites (volume conduction between them): forehead-brow, brow-eye, eye-cheek, nose-cheek,
# nose-upper lip, cheek-mouth corner, lips-mouth corner.
NEIGHBOURS = ((1, 2), (2, 3), (3, 5), (4, 5), (4, 6), (5, 7), (6, 7))


def au_channels(au: int) -> tuple[tuple[int, float], ...]:
    """(channel, weight) the AU drives, home channel first; () when Table 8 does not list it."""
    found = [c for c, aus in CHANNEL_AUS.items() if au in aus]
    if len(found) <= 1:
        return tuple((c, 1.0) for c in found)
    home = min(found, key=lambda c: len(CHANNEL_AUS[c]))  # AU4: c2 (listed alone) before c3
    return ((home, 1.0),) + tuple((c, SHARED_WEIGHT) for c in found if c != home)


def home_channel(au: int) -> int | None:
    channels = au_channels(au)
    return channels[0][0] if channels else None


# --- subjects --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """One participant's electrodes, in microvolts."""

    mvc: np.ndarray  # (7,) RMS amplitude of each muscle at maximal voluntary contraction
    tonic: np.ndarray  # (7,) resting muscle tone, RMS
    noise: np.ndarray  # (8,) white sensor noise, RMS
    hum: np.ndarray  # (8,) 50 Hz amplitude
    hum_phase: np.ndarray  # (8,)
    hum_hz: float
    dc: np.ndarray  # (8,)
    drift: np.ndarray  # (8,) slow drift amplitude
    crosstalk: np.ndarray  # (7, 8): muscle -> electrode mixing (1 on the own electrode)

    def floor_rms(self) -> np.ndarray:
        """(8,) expected in-band RMS of each electrode at rest (tonic, its crosstalk, sensor noise, hum)."""
        tonic = np.sqrt((self.tonic[:, None] ** 2 * self.crosstalk ** 2).sum(axis=0))
        white_in_band = self.noise * np.sqrt((BAND[1] - BAND[0]) / (FS / 2))
        return np.sqrt(tonic ** 2 + white_in_band ** 2 + (self.hum ** 2) * 0.52)


def draw_subject(rng: np.random.Generator) -> Subject:
    crosstalk = np.zeros((N_MUSCLES, N_CHANNELS))
    crosstalk[np.arange(N_MUSCLES), np.arange(N_MUSCLES)] = 1.0
    for a, b in NEIGHBOURS:
        leak = rng.uniform(0.03, 0.08)
        crosstalk[a - 1, b - 1] = crosstalk[b - 1, a - 1] = leak
    return Subject(
        mvc=rng.uniform(150.0, 450.0, N_MUSCLES),
        tonic=rng.uniform(0.2, 0.6, N_MUSCLES),
        noise=rng.uniform(0.3, 0.7, N_CHANNELS),
        hum=rng.uniform(0.2, 0.9, N_CHANNELS),
        hum_phase=rng.uniform(0, 2 * np.pi, N_CHANNELS),
        hum_hz=HUM_HZ + float(rng.uniform(-0.02, 0.02)),
        dc=rng.uniform(-150.0, 150.0, N_CHANNELS),
        drift=rng.uniform(5.0, 40.0, N_CHANNELS),
        crosstalk=crosstalk,
    )


# --- bursts ----------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """One muscle activation: channel 1-7, times in seconds on the recording's clock, apex amplitude in uV RMS."""

    channel: int
    onset: float
    apex: float
    offset: float
    amplitude: float


def shape(t: np.ndarray, onset: float, apex: float, offset: float) -> np.ndarray:
    """0 outside [onset, offset]; half-cosine rise to 1 at the apex, half-cosine fall to 0 at the offset."""
    out = np.zeros_like(t, dtype=np.float64)
    rise = (t >= onset) & (t <= apex)
    fall = (t > apex) & (t <= offset)
    if apex > onset:
        out[rise] = 0.5 * (1.0 - np.cos(np.pi * (t[rise] - onset) / (apex - onset)))
    else:
        out[rise] = 1.0
    if offset > apex:
        out[fall] = 0.5 * (1.0 + np.cos(np.pi * (t[fall] - apex) / (offset - apex)))
    return out


@functools.lru_cache(maxsize=None)
def _sos_band(order: int = 4) -> np.ndarray:
    return signal.butter(order, BAND, btype="bandpass", fs=FS, output="sos")


@functools.lru_cache(maxsize=None)
def _band_gain() -> float:
    """RMS of the 20-450 Hz filter's response to unit white noise (its impulse response energy)."""
    impulse = np.zeros(8192)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.sosfilt(_sos_band(), impulse) ** 2)))


@functools.lru_cache(maxsize=None)
def _sos_analysis() -> tuple[np.ndarray, np.ndarray]:
    band = signal.butter(2, BAND, btype="bandpass", fs=FS, output="sos")
    low = signal.butter(2, ENVELOPE_CUTOFF, btype="lowpass", fs=FS, output="sos")
    return band, low


def envelope(x: np.ndarray) -> np.ndarray:
    """Seed 001 section 3.1.3 on each column: DC removal, band-pass 20-450 Hz, rectification, 6 Hz linear envelope
    (2nd-order Butterworth filters, applied forward-backward)."""
    band, low = _sos_analysis()
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    return signal.sosfiltfilt(low, np.abs(signal.sosfiltfilt(band, x, axis=0)), axis=0)


def bandpassed(x: np.ndarray) -> np.ndarray:
    """DC removal and the 20-450 Hz band-pass of ``envelope`` (before rectification)."""
    band, _ = _sos_analysis()
    x = np.asarray(x, dtype=np.float64)
    return signal.sosfiltfilt(band, x - x.mean(axis=0), axis=0)


def lowpass_peak(onset: float, apex: float, offset: float) -> float:
    """g: the peak of the 6 Hz forward-backward low-passed burst shape (1 for a long plateau)."""
    _, low = _sos_analysis()
    pad = 0.6
    t = np.arange(onset - pad, offset + pad, 1.0 / FS)
    return float(signal.sosfiltfilt(low, shape(t, onset, apex, offset)).max())


RECTIFIED_MEAN = float(np.sqrt(2.0 / np.pi))  # E|z| for unit-RMS Gaussian z


def burst_amplitude(mvc_percent: float, mvc_envelope: float, onset: float, apex: float, offset: float) -> float:
    """Apex amplitude (uV RMS) whose expected envelope peak is ``mvc_percent`` of ``mvc_envelope`` (the channel's
    maximum envelope over the MVC session)."""
    return mvc_percent / 100.0 * mvc_envelope / (RECTIFIED_MEAN * lowpass_peak(onset, apex, offset))


# --- synthesis -------------------------------------------------------------------------------------------------------


def sample_times(n: int) -> np.ndarray:
    """Clock of the samples: sample j at (j + 1) / FS seconds."""
    return (np.arange(n, dtype=np.float64) + 1.0) / FS


def activation(n: int, subject: Subject, bursts: Iterable[Burst],
               extra: np.ndarray | None = None) -> np.ndarray:
    """(n, 7) muscle activation in uV RMS: tonic level + bursts (+ ``extra``, e.g. MVC contractions)."""
    act = np.broadcast_to(subject.tonic, (n, N_MUSCLES)).copy()
    if extra is not None:
        act += extra
    for burst in bursts:
        lo = max(0, int(np.floor(burst.onset * FS)) - 2)
        hi = min(n, int(np.ceil(burst.offset * FS)) + 2)
        if hi <= lo:
            continue
        t = (np.arange(lo, hi, dtype=np.float64) + 1.0) / FS
        act[lo:hi, burst.channel - 1] += burst.amplitude * shape(t, burst.onset, burst.apex, burst.offset)
    return act


def electrodes(rng: np.random.Generator, act: np.ndarray, subject: Subject) -> np.ndarray:
    """(n, 8) electrode signals in uV from the (n, 7) muscle activation."""
    n = act.shape[0]
    warm = 400
    white = rng.standard_normal((n + warm, N_MUSCLES))
    carrier = signal.sosfilt(_sos_band(), white, axis=0)[warm:] / _band_gain()
    muscles = act * carrier
    out = rng.standard_normal((n, N_CHANNELS)) * subject.noise + subject.dc
    rows, cols = np.nonzero(subject.crosstalk)  # sparse mixing: own electrode + neighbours
    for m, c in zip(rows, cols):
        out[:, c] += subject.crosstalk[m, c] * muscles[:, m]
    t = sample_times(n)
    # sin(w t + phi) = sin(w t) cos(phi) + cos(w t) sin(phi): one sine/cosine per frequency, not per channel
    waves = [(subject.hum_hz, subject.hum, subject.hum_phase),
             (3 * subject.hum_hz, 0.2 * subject.hum, 2 * subject.hum_phase)]
    freqs = rng.uniform(0.03, 0.4, 3)
    phases = rng.uniform(0, 2 * np.pi, (3, N_CHANNELS))
    waves += [(freqs[k], subject.drift / 3.0, phases[k]) for k in range(3)]
    for hz, amplitude, phase in waves:
        sin, cos = np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)
        out += np.outer(sin, amplitude * np.cos(phase)) + np.outer(cos, amplitude * np.sin(phase))
    return out


# --- MVC recordings --------------------------------------------------------------------------------------------------

MVC_LEAD = 1.0  # s before the first contraction
MVC_RAMP = 0.2
MVC_PLATEAU = 0.6
MVC_REST = 0.6
MVC_REPS = 3  # "Each movement was repeated three times at maximum intensity" (seed 001 section 4.4)
MVC_PAUSE = 0.8  # s between movements
MVC_TAIL = 1.0


@dataclass(frozen=True)
class MvcProtocol:
    """When movement k (1-7, the muscle of channel k) was contracted: [(channel, start_s, end_s), ...]."""

    windows: tuple[tuple[int, float, float], ...]
    duration: float


def mvc_protocol() -> MvcProtocol:
    windows = []
    t = MVC_LEAD
    for channel in range(1, N_MUSCLES + 1):
        for _ in range(MVC_REPS):
            windows.append((channel, round(t, 3), round(t + 2 * MVC_RAMP + MVC_PLATEAU, 3)))
            t += 2 * MVC_RAMP + MVC_PLATEAU + MVC_REST
        t += MVC_PAUSE - MVC_REST
    return MvcProtocol(tuple(windows), round(windows[-1][2] + MVC_TAIL, 3))


def mvc_activation(rng: np.random.Generator, subject: Subject, protocol: MvcProtocol, n: int) -> np.ndarray:
    """(n, 7) extra activation of the MVC session: each repetition of movement k reaches 85-100% of MVC on muscle k
    (its best repetition exactly 100%) with some co-contraction (2-8% MVC) of the others."""
    extra = np.zeros((n, N_MUSCLES))
    t = sample_times(n)
    by_channel: dict[int, list[tuple[float, float]]] = {}
    for channel, start, end in protocol.windows:
        by_channel.setdefault(channel, []).append((start, end))
    for channel, windows in by_channel.items():
        levels = rng.uniform(0.85, 1.0, len(windows))
        levels[rng.integers(len(windows))] = 1.0
        co = rng.uniform(0.02, 0.08, N_MUSCLES)
        co[channel - 1] = 0.0
        for (start, end), level in zip(windows, levels):
            lo, hi = max(0, int(start * FS) - 2), min(n, int(np.ceil(end * FS)) + 2)
            tw = t[lo:hi]
            ramp = np.clip(np.minimum((tw - start) / MVC_RAMP, (end - tw) / MVC_RAMP), 0.0, 1.0)
            ramp = 0.5 * (1 - np.cos(np.pi * ramp))
            wobble = 1.0 + 0.03 * np.sin(2 * np.pi * rng.uniform(1.0, 3.0) * tw + rng.uniform(0, 2 * np.pi))
            profile = ramp * np.minimum(wobble, 1.0)
            extra[lo:hi, channel - 1] += level * subject.mvc[channel - 1] * profile
            extra[lo:hi] += (co * subject.mvc)[None, :] * profile[:, None]
    return extra


def mvc_cue(protocol: MvcProtocol, n: int) -> np.ndarray:
    """Column 11 of an MVC recording: the instructed movement (channel number) during its contraction, else 0."""
    cue = np.zeros(n)
    t = sample_times(n)
    for channel, start, end in protocol.windows:
        cue[(t >= start) & (t <= end)] = channel
    return cue


# --- file layout -----------------------------------------------------------------------------------------------------

HEAD_ROWS = 199  # rows the official code drops (data(200:end, :))
MARKER_PERIOD = 20  # samples per digital-tube step (it advances once per two 10-sample packets)
COLUMN_NAMES = tuple(f"EMG{k}" for k in range(1, N_CHANNELS + 1)) + ("Marker", "Time", "Signal")
MAT_HEADER = b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Wed Jan  1 00:00:00 2020, mebench synth"


def assemble(emg: np.ndarray, signal_column: np.ndarray, gaps: Sequence[int] = ()) -> np.ndarray:
    """The 11-column recording: EMG 1-8, marker (digital-tube counter; -1 on gap rows), time (s), signal.

    ``gaps``: sample indices (>= HEAD_ROWS) before which one marker row is inserted: a row that carries no sample
    (EMG 0, marker -1, time of the previous sample, signal 0). Removing the -1 rows restores the regular 1 kHz
    sequence, so index-based and time-column clocks agree after the official preprocessing.
    """
    n = emg.shape[0]
    regular = np.empty((n, 11), dtype=np.float64)
    regular[:, :N_CHANNELS] = emg
    regular[:, 8] = np.arange(n) // MARKER_PERIOD
    regular[:, 9] = sample_times(n)
    regular[:, 10] = signal_column
    gaps = sorted(int(g) for g in gaps)
    if not gaps:
        return regular
    if gaps[0] < HEAD_ROWS or gaps[-1] > n:
        raise ValueError("marker rows must come after the head rows and inside the recording")
    rows = np.zeros((len(gaps), 11))
    rows[:, 8] = -1.0
    rows[:, 9] = [regular[g - 1, 9] for g in gaps]
    return np.insert(regular, gaps, rows, axis=0)


def _fix_mat_header(path: Path) -> None:
    """MAT v5 files start with 116 bytes of free text holding the creation time: make it fixed."""
    text = MAT_HEADER.ljust(116, b" ")[:116]
    with open(path, "r+b") as handle:
        head = handle.read(116)
        if not head.startswith(b"MATLAB 5.0 MAT-file"):
            raise ValueError(f"{path} is not a MAT v5 file")
        handle.seek(0)
        handle.write(text)


def save_mat_table(path: Path, matrix: np.ndarray, variable: str = "data") -> Path:
    """Save the 11-column recording as a MATLAB table (mat-io, v7, uncompressed) with a fixed header: EMG, marker
    and signal as single, time as double. Identical matrix -> identical bytes."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import matio

    frame = pd.DataFrame({name: matrix[:, k].astype(np.float64 if name == "Time" else np.float32)
                          for k, name in enumerate(COLUMN_NAMES)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    matio.save_to_mat(str(path), {variable: frame}, version="v7", do_compression=False)
    _fix_mat_header(path)
    return path


def save_mat_numeric(path: Path, matrix: np.ndarray, variable: str = "data") -> Path:
    """Save the recording as a plain numeric matrix (scipy.io.savemat, same column order), fixed header."""
    import scipy.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {variable: matrix}, do_compression=False)
    _fix_mat_header(path)
    return path


@dataclass
class Recording:
    """What ``render`` needs for one file: length, bursts, keystrokes/cue column, marker rows."""

    n_samples: int
    bursts: list[Burst] = field(default_factory=list)
    signal_column: np.ndarray | None = None
    gaps: tuple[int, ...] = ()


def render(rng: np.random.Generator, subject: Subject, recording: Recording,
           extra: np.ndarray | None = None) -> np.ndarray:
    """The 11-column matrix of one recording."""
    act = activation(recording.n_samples, subject, recording.bursts, extra)
    emg = electrodes(rng, act, subject)
    column = recording.signal_column if recording.signal_column is not None else np.zeros(recording.n_samples)
    return assemble(emg, column, recording.gaps)
