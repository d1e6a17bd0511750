"""Seed 001's EMG baseline: pre-processing (eq. 1-4), indicators (eq. 5-7), the peak/trough interval detector
(section 6.2, eq. 9-12), the `emg-peak-trough` model through the harness, and `mebench emg stats` (Tables 3-4)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy import signal, stats

from mebench.baselines import emg as E
from mebench.baselines import emg_stats as S
from mebench.baselines.emg import (
    EmgPeakTrough,
    PeakTroughParams,
    detect_interval,
    detect_peaks,
    filters,
    iemg,
    mvc_percent,
    preprocess,
    preprocess_steps,
    select_channel,
    window_energy,
)
from mebench.metrics import emg_interval

FS = 1000.0
START_S = 0.2  # the casmemg loader's clock: kept sample k at 0.2 + k / 1000 s
_CARRIER_SOS = signal.butter(4, [20, 450], btype="bandpass", fs=FS, output="sos")


# ------------------------------------------------------------------------------------------------ synthetic EMG


def carrier(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """Band-limited (20-450 Hz) Gaussian noise, unit RMS per channel: the 'muscle' signal."""
    x = signal.sosfilt(_CARRIER_SOS, rng.standard_normal((n + 500, channels)), axis=0)[500:]
    return x / x.std(axis=0)


def raised_cosine(t: np.ndarray, on: float, off: float) -> np.ndarray:
    out = np.zeros_like(t)
    inside = (t >= on) & (t <= off)
    out[inside] = 0.5 * (1 - np.cos(2 * np.pi * (t[inside] - on) / (off - on)))
    return out


def trapezoid(t: np.ndarray, on: float, off: float, ramp: float = 0.1) -> np.ndarray:
    return np.clip(np.minimum((t - on) / ramp, (off - t) / ramp), 0.0, 1.0)


def recording(rng, seconds: float, bursts=(), floor: float = 1.0, shape=raised_cosine, dc: float = 300.0):
    """(n, 8) raw EMG at 1 kHz on the loader's clock: noise floor + bursts (channel 1-based, on, off, amplitude)."""
    n = int(round(seconds * FS))
    t = START_S + np.arange(n) / FS
    amp = np.full((n, 8), float(floor))
    for ch, on, off, a in bursts:
        amp[:, ch - 1] += a * shape(t, on, off)
    return amp * carrier(rng, n, 8) + dc + rng.uniform(-50, 50, 8), t


def emg_table(recs: list[dict]) -> pa.Table:
    """emg.parquet as the casmemg loader writes it (the columns mebench.views reads)."""
    cols = {
        "recording_id": [f"{r['dataset']}/{r['video_id']}" for r in recs],
        "video_id": [r["video_id"] for r in recs],
        "dataset": [r["dataset"] for r in recs],
        "subject": [r["subject"] for r in recs],
        "sampling_rate": pa.array([FS] * len(recs), pa.float64()),
        "n_samples": pa.array([len(r["signals"]) for r in recs], pa.int64()),
        "dropped_marker_rows": pa.array([0] * len(recs), pa.int64()),
        "start_s": pa.array([START_S] * len(recs), pa.float64()),
    }
    if any("kind" in r for r in recs):
        cols["kind"] = [r.get("kind", "session") for r in recs]
    for k in range(8):
        cols[f"ch{k + 1}"] = pa.array([np.asarray(r["signals"][:, k], np.float32) for r in recs],
                                      pa.list_(pa.float32()))
    cols["time"] = pa.array([None] * len(recs), pa.list_(pa.float64()))
    return pa.table(cols)


# ------------------------------------------------------------------------------------------------ filters


def _gain_db(sos, f):
    _, h = signal.sosfreqz(sos, worN=[f], fs=FS)
    return 20 * np.log10(abs(h[0]))


def test_filters_are_the_papers():
    band, low = filters(FS)
    # eq. 2: BF_bp(E_d, 2, [Wn1, Wn2]) = MATLAB butter(2, [20*2/1000, 450*2/1000], 'bandpass'): 4 poles, 2 sections
    assert band.shape == (2, 6) and low.shape == (1, 6)
    z, p, k = signal.sos2zpk(band)
    assert len(p) == 4 and np.all(np.abs(p) < 1)
    b, a = signal.butter(2, [20 * 2 / 1000, 450 * 2 / 1000], btype="bandpass")  # normalised as the paper writes
    w = np.linspace(1, 499, 200)
    assert np.allclose(abs(signal.sosfreqz(band, worN=w, fs=FS)[1]), abs(signal.freqz(b, a, worN=w, fs=FS)[1]))
    # eq. 4: BF_lp(E_f, 2, 6*2/1000): 2 poles, 1 section
    assert len(signal.sos2zpk(low)[1]) == 2
    # -3 dB points of each designed filter at 20 / 450 Hz and 6 Hz; pass band ~0 dB
    for sos, f in ((band, 20.0), (band, 450.0), (low, 6.0)):
        assert _gain_db(sos, f) == pytest.approx(-3.0103, abs=0.01)
    assert abs(_gain_db(band, 100.0)) < 0.1 and abs(_gain_db(low, 0.5)) < 0.01
    assert _gain_db(band, 5.0) < -20 and _gain_db(low, 60.0) < -38
    # zero-phase (forward-backward): the effective response is |H|^2, i.e. -6 dB at the cut-offs
    impulse = np.zeros(4001)
    impulse[2000] = 1.0
    h = signal.sosfiltfilt(low, impulse)
    assert np.allclose(h, h[::-1], atol=1e-12)  # symmetric impulse response = no phase shift
    assert 20 * np.log10(abs(np.fft.rfft(h)[int(round(6.0 * len(h) / FS))])) == pytest.approx(-6.02, abs=0.15)
    assert filters(2000.0)[0].shape == (2, 6)
    with pytest.raises(ValueError, match="too low"):
        filters(500.0)


def test_preprocess_equals_per_channel_sosfiltfilt():
    rng = np.random.default_rng(0)
    band, low = filters(FS)
    for shape in ((20000, 8), (3000, 7), (2500, 1), (40, 3)):
        x = rng.normal(0, 80, shape) + rng.uniform(-500, 500, shape[1])
        ref = np.empty(shape)
        for j in range(shape[1]):
            d = x[:, j] - x[:, j].mean()  # eq. 1
            ref[:, j] = signal.sosfiltfilt(low, np.abs(signal.sosfiltfilt(band, d)))  # eq. 2-4
        out = preprocess(x, FS)
        assert out.shape == shape and out.dtype == np.float64
        assert np.allclose(out, ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
        assert np.allclose(preprocess_steps(x)["E_l"], ref, rtol=1e-10, atol=1e-10 * np.abs(ref).max())
    one = rng.normal(0, 1, 3000)
    assert preprocess(one).shape == (3000,)
    assert np.allclose(preprocess(one), preprocess(one[:, None])[:, 0])
    assert np.allclose(preprocess(x.astype(np.float32)), preprocess(x.astype(np.float32).astype(np.float64)))


def test_rectification_and_envelope_of_a_synthetic_burst():
    t = np.arange(4000) / FS
    a = 120.0
    burst = (t >= 1.5) & (t < 2.5)
    x = np.where(burst, a * np.sin(2 * np.pi * 97.3 * t), 0.0) + 700.0  # a ~100 Hz burst on a DC offset
    steps = preprocess_steps(x)
    assert abs(steps["E_d"].mean()) < 1e-9  # eq. 1
    assert np.all(steps["E_f"] >= 0) and np.allclose(steps["E_f"], np.abs(steps["E_b"]))  # eq. 3
    env = preprocess(x)
    plateau = env[(t > 1.8) & (t < 2.2)]
    assert plateau.mean() == pytest.approx(2 * a / np.pi, rel=0.01)  # mean of a rectified sine
    assert plateau.std() / plateau.mean() < 0.01  # 6 Hz envelope: 200 Hz ripple gone
    assert env[(t < 1.0) | (t > 3.0)].max() < 0.02 * plateau.mean()
    # zero phase: the envelope of a symmetric burst is centred on it
    centre = np.sum(t * env) / np.sum(env)
    assert centre == pytest.approx(2.0, abs=0.002)
    half = t[env >= 0.5 * plateau.mean()]
    assert half[0] == pytest.approx(1.5, abs=0.02) and half[-1] == pytest.approx(2.5, abs=0.02)
    assert np.allclose(preprocess(x + 1e4), env, atol=1e-6 * env.max())  # DC offset removed


def test_preprocess_rejects_bad_input():
    with pytest.raises(ValueError, match="too few"):
        preprocess(np.zeros(10))
    with pytest.raises(ValueError, match="NaN"):
        preprocess(np.r_[np.zeros(100), np.nan, np.zeros(100)])
    with pytest.raises(ValueError, match="array"):
        preprocess(np.zeros((2, 2, 2)))
    assert preprocess(np.zeros((100, 0))).shape == (100, 0)


# ------------------------------------------------------------------------------------------------ indicators


def test_indicators():
    env = np.zeros((1000, 8))
    env[:, 4] = np.r_[np.zeros(400), np.full(200, 5.0), np.zeros(400)]
    env[:, 7] = 50.0  # the 8th column carries no muscle: never chosen by default
    env[:, 2] = 2.0
    assert select_channel(env) == 4  # eq. 5 over c1-c7
    assert select_channel(env, channels=[2, 7]) == 7
    assert list(E.peak_amplitudes(env[:, :3])) == [0.0, 0.0, 2.0]
    assert mvc_percent(5.0, 20.0) == pytest.approx(25.0)  # eq. 6 in percent
    assert np.allclose(mvc_percent([1.0, 2.0], [10.0, 0.0]), [10.0, np.nan], equal_nan=True)
    seg = np.full(300, 3.0)  # 300 ms at 3 on a recording whose envelope spans [1, 5]
    assert iemg(seg, FS, norm=(1.0, 5.0)) == pytest.approx(300 * 0.5)  # eq. 7, ms
    assert iemg(seg, 500.0, norm=(1.0, 5.0)) == pytest.approx(2 * 300 * 0.5)
    assert iemg(seg, FS) == pytest.approx(900.0)
    assert math.isnan(iemg(seg, FS, norm=(2.0, 2.0)))


# ------------------------------------------------------------------------------------------------ the detector


def v_envelope(on: float, off: float, seconds: float = 2.0, height: float = 1.0, shape=None) -> np.ndarray:
    """A burst on a V-shaped floor whose minima are exactly at the burst's onset and offset: the troughs eq. 11-12
    look for. Default shape: a raised cosine (slow rise and fall)."""
    t = np.arange(int(seconds * FS)) / FS
    floor = 0.2 + 0.05 * np.minimum(1.0, np.minimum(np.abs(t - on), np.abs(t - off)) / 0.2)
    return floor + height * (shape or raised_cosine)(t, on, off)


def test_defaults_are_section_6_3s_optimum():
    p = PeakTroughParams()
    assert (p.w_l, p.s_l, p.k, p.s_n, p.w_f, p.w_b) == (60, 30, 1.0, 5, 2, 6)
    assert EmgPeakTrough().get_params() == {**p.as_dict(), "channel": "auto", "tune": False}
    with pytest.raises(ValueError):
        PeakTroughParams(w_l=0)
    with pytest.raises(ValueError):
        PeakTroughParams(k=-1)
    with pytest.raises(ValueError):
        PeakTroughParams(combine="union")
    with pytest.raises(ValueError, match="unknown"):
        PeakTroughParams.of({"window": 10})


def test_window_energy_is_the_window_mean():
    e = np.random.default_rng(2).random(1000)
    x = window_energy(e, 60, 30)
    naive = [e[i:i + 60].mean() for i in range(0, 1000 - 60 + 1, 30)]
    assert np.allclose(x, naive) and len(x) == 32
    assert window_energy(e[:50], 60, 30).size == 0


def test_clean_burst_is_found_at_its_troughs():
    def sharp(t, on, off):
        return trapezoid(t, on, off, ramp=0.04)

    for on, off in ((0.5, 0.8), (0.6, 1.3), (0.45, 0.62), (0.3, 1.6)):
        found = detect_interval(v_envelope(on, off, shape=sharp), FS)
        assert found is not None
        assert found[0] == pytest.approx(on, abs=0.002) and found[1] == pytest.approx(off, abs=0.002)
    # the troughs are searched W_f windows back / W_b windows forward only (eq. 11-12): a slow 350 ms rise puts
    # the first active window beyond reach of W_f = 2 (60 ms), and the onset is the end of the search range
    env = v_envelope(0.6, 1.3)
    p = detect_peaks(env)
    assert len(p) == 1 and p[0][0] / FS > 0.62
    first_active = int(np.flatnonzero(window_energy(E.normalize(env), 60, 30) > E.normalize(env).mean())[0])
    assert p[0][0] == (first_active - 2) * 30
    assert detect_interval(env, FS, {"w_f": 6})[0] == pytest.approx(0.6, abs=0.002)
    assert detect_interval(env, FS)[1] == pytest.approx(1.3, abs=0.002)


def test_burst_in_realistic_emg_is_found():
    rng = np.random.default_rng(3)
    ious, errors = [], []
    for _ in range(20):
        on, dur, a = 0.7, rng.uniform(0.2, 1.5), rng.uniform(4.0, 15.0)
        x, _ = recording(rng, on + dur + 1.2, [(3, on + START_S, on + dur + START_S, a)])
        found = detect_interval(preprocess(x)[:, 2], FS)
        assert found is not None
        inter = max(0.0, min(found[1], on + dur) - max(found[0], on))
        ious.append(inter / (max(found[1], on + dur) - min(found[0], on)))
        errors.append((abs(found[0] - on), abs(found[1] - on - dur)))
    assert np.mean(ious) > 0.8 and min(ious) > 0.5
    assert np.all(np.mean(errors, axis=0) < 0.08) and np.max(errors) < 0.25


def test_flat_or_short_transients_only_give_nothing():
    assert detect_interval(np.full(1500, 0.7), FS) is None  # nothing varies: nothing to normalise
    assert detect_interval(np.zeros(40), FS) is None
    t = np.arange(1500) / FS
    spikes = 0.1 + sum(raised_cosine(t, s, s + 0.08) for s in (0.2, 0.7, 1.2))  # blinks: 80 ms each
    assert detect_peaks(spikes) == []  # each is active for fewer than S_n = 5 consecutive windows
    assert len(detect_peaks(spikes, {"s_n": 1})) == 3


def test_threshold_is_relative_to_the_segments_own_mean():
    """Eq. 9: T_r = k x mean(E_n) with E_n the min-max normalised segment: the detector is blind to the scale and
    offset of the envelope (so on noise-only segments it finds the largest slow fluctuation)."""
    env = v_envelope(0.6, 1.0)
    assert detect_interval(env) == detect_interval(1e-3 * env + 5.0) == detect_interval(40 * env)


def test_s_n_counts_consecutive_windows_above_the_threshold():
    env = v_envelope(0.6, 1.0)
    e_n = E.normalize(env)
    active = window_energy(e_n, 60, 30) > e_n.mean()  # eq. 9-10 with k = 1
    runs = E._runs(active)
    assert len(runs) == 1
    length = runs[0][1] - runs[0][0] + 1
    assert detect_interval(env, FS, {"s_n": length}) is not None
    assert detect_interval(env, FS, {"s_n": length + 1}) is None
    # T_r = k x mean(E_n) (eq. 9): just above the largest window energy, nothing is active
    k_max = window_energy(e_n, 60, 30).max() / e_n.mean()
    assert detect_interval(env, FS, {"k": k_max * 0.99, "s_n": 1}) is not None
    assert detect_interval(env, FS, {"k": k_max * 1.01, "s_n": 1}) is None


def test_two_bursts():
    t = np.arange(2500) / FS
    base = 0.2 + 0.1 * np.minimum.reduce([np.abs(t - x) for x in (0.5, 0.8, 1.5, 1.9)])
    env = base + raised_cosine(t, 0.5, 0.8) + 0.8 * raised_cosine(t, 1.5, 1.9)
    peaks = detect_peaks(env)
    assert [(round(a / FS, 3), round(b / FS, 3)) for a, b in peaks] == [(0.5, 0.8), (1.5, 1.9)]
    # section 6.3's multiple-values rule: the released code's (min onset, max offset) ...
    assert detect_interval(env) == pytest.approx((0.5, 1.9), abs=0.002)
    # ... the sentence read literally (max onset, min offset) has no interval for separated peaks
    assert detect_interval(env, FS, {"combine": "text"}) is None
    # a short transient (< S_n windows) beside a burst is not a peak: only the burst is returned
    env2 = v_envelope(0.9, 1.3, seconds=2.2) + 0.9 * raised_cosine(np.arange(2200) / FS, 0.3, 0.38)
    assert detect_interval(env2) == pytest.approx((0.9, 1.3), abs=0.002)
    assert detect_interval(env2, FS, {"combine": "text"}) == detect_interval(env2)


# ------------------------------------------------------------------------------------------------ the model


def _emg_corpus(tmp_path, n_subjects=4, per_subject=5, seed=7):
    """A corpus folder with samples.parquet-like rows (returned) and emg.parquet: one 30-40 s recording per
    sample, one burst each (micro ~0.2-0.45 s or macro 0.6-2 s) on a random channel, plus distractor noise."""
    rng = np.random.default_rng(seed)
    recs, rows = [], []
    for s in range(1, n_subjects + 1):
        for v in range(1, per_subject + 1):
            dur = rng.uniform(0.2, 0.45) if v % 2 else rng.uniform(0.6, 2.0)
            on = rng.uniform(5.0, 20.0)
            ch = int(rng.integers(1, 8))
            amp = rng.uniform(5.0, 20.0)
            x, _ = recording(rng, 30.0, [(ch, on, on + dur, amp)], floor=rng.uniform(0.5, 1.5))
            vid = f"{s:02d}/{v}"
            recs.append({"dataset": "casmemg", "video_id": vid, "subject": f"casmemg/{s}", "signals": x})
            rows.append({"sample_id": f"casmemg/{s}/{v}", "dataset": "casmemg", "subject": f"casmemg/{s}",
                         "person": f"casmemg/{s}", "video_id": vid, "emg_onset_s": on, "emg_offset_s": on + dur,
                         "emg_apex_s": on + dur / 2, "onset_s": on + 3.0, "offset_s": on + dur + 3.0,
                         "emg_channel": ch, "expression_type": "micro" if dur < 0.5 else "macro",
                         "type_source": "annotation"})
    folder = tmp_path / "corpus"
    folder.mkdir()
    pq.write_table(emg_table(recs), folder / "emg.parquet")
    return folder, pd.DataFrame(rows), recs


def _views(folder, rows):
    from mebench.protocol import load_protocol
    from mebench.views import MediaContext, ProtocolFacts, View, hidden_columns

    protocol = load_protocol("casmemg-emg-interval")
    selected = protocol.apply(rows).rows
    facts = ProtocolFacts.of(protocol)
    media = MediaContext(folder)
    test = View(selected, role="test", protocol=facts, hidden=hidden_columns(protocol, selected.columns),
                media=media)
    train = View(selected, role="train", protocol=facts, labels=protocol.targets(selected), media=media)
    return protocol, selected, train, test


def test_model_table7_style_evaluation(tmp_path):
    folder, rows, recs = _emg_corpus(tmp_path)
    protocol, selected, train, test = _views(folder, rows)
    assert "emg_onset_s" not in test.columns and "clip_start_s" in test.columns
    model = EmgPeakTrough().fit(train)
    pred = model.predict(test)
    assert list(pred.columns) == ["sample_id", "onset_s", "offset_s"]
    assert list(pred["sample_id"]) == list(selected["sample_id"])
    gt = protocol.targets(selected)
    r = emg_interval(gt, pred)
    print(f"\nsynthetic Table 7: {r}")
    assert r["n"] == len(rows) and r["n_nan"] == 0
    assert r["mean_iou"] > 0.7 and r["p_iou_gt_0.5"] > 0.85
    assert r["onset_mae"] < 0.12 and r["offset_mae"] < 0.12  # seed 001 Table 7: 0.206 s and 0.203 s
    # the model is the function: the same numbers from detect_interval on each segment by hand
    by_video = {rec["video_id"]: preprocess(rec["signals"]) for rec in recs}
    for i, row in selected.iterrows():
        env = by_video[row["video_id"]]
        times = START_S + np.arange(len(env)) / FS
        keep = (times >= row["clip_start_s"]) & (times <= row["clip_end_s"])
        seg = env[keep]
        ch = select_channel(seg)
        found = detect_interval(seg[:, ch], FS)
        assert pred.loc[i, "onset_s"] == pytest.approx(times[keep][0] + found[0], abs=1e-6)
        assert pred.loc[i, "offset_s"] == pytest.approx(times[keep][0] + found[1], abs=1e-6)
    # annotated channel (the authors' scripts) and tuning k on the training rows only
    tuned = EmgPeakTrough(channel="annotated", tune=True).fit(train)
    assert tuned.params_.k in EmgPeakTrough.K_GRID
    assert emg_interval(gt, tuned.predict(test))["n_nan"] == 0


def test_model_without_segment_or_emg_is_refused(tmp_path):
    from mebench.errors import InputError

    folder, rows, _ = _emg_corpus(tmp_path, n_subjects=1, per_subject=1)
    _, selected, _, test = _views(folder, rows)

    class NoClip:
        samples = selected.drop(columns=["clip_start_s", "clip_end_s"])
        emg = test.emg

    with pytest.raises(InputError, match="clip_start_s"):
        EmgPeakTrough().predict(NoClip())

    class NoEmg:
        samples = selected

    with pytest.raises(InputError, match="emg"):
        EmgPeakTrough().predict(NoEmg())
    with pytest.raises(InputError):
        EmgPeakTrough(channel="best")
    with pytest.raises(InputError):
        EmgPeakTrough(w_l=-3)


def test_model_through_the_harness(tmp_path):
    """loader -> corpus -> protocol casmemg-emg-interval -> runner (LOSO, leak-proof views) -> Table 7 record."""
    import scipy.io

    from mebench.corpus import Source, build_corpus
    from mebench.loaders.casmemg import HEAD_ROWS
    from mebench.runner import run_protocol

    rng = np.random.default_rng(11)
    root = tmp_path / "CASMEMG"
    root.mkdir()
    lines = ["sub,video,video_onset,video_apex,video_offset,channel,emg_onset,emg_apex,emg_offset"]
    for sub in (1, 2, 3):
        for video in (1, 2):
            n = 20_000
            on = float(np.round(rng.uniform(4.0, 14.0), 3))
            dur = float(np.round(rng.uniform(0.25, 1.5), 3))
            ch = int(rng.integers(1, 8))
            raw, _ = recording(rng, n / FS, [(ch, on, on + dur, 12.0)])
            matrix = np.zeros((n + HEAD_ROWS, 11))
            matrix[HEAD_ROWS:, :8] = raw
            matrix[:, 8] = np.arange(n + HEAD_ROWS) // 20
            matrix[:, 9] = (np.arange(n + HEAD_ROWS) + 1) / FS
            (root / f"{sub:02d}").mkdir(exist_ok=True)
            scipy.io.savemat(root / f"{sub:02d}" / f"{video}.mat", {"data": matrix})
            shift = 3.5  # the video clock leads the EMG clock
            lines.append(f"{sub},{video},{on + shift},{on + shift + dur / 2},{on + shift + dur},{ch},{on},"
                         f"{on + dur / 2},{on + dur}")
    (root / "380_sort.csv").write_text("\n".join(lines) + "\n")
    corpus = tmp_path / "corpus"
    build_corpus([Source("casmemg", root)], corpus)
    assert (corpus / "emg.parquet").is_file()
    result = run_protocol("casmemg-emg-interval", corpus, EmgPeakTrough, cache=tmp_path / "cache", progress=False)
    metrics = result.record["metrics"]
    assert metrics["n"] == 6 and metrics["n_nan"] == 0
    assert metrics["mean_iou"] > 0.6
    assert len(result.record["per_fold"]) == 3
    assert result.record["submission"]["model"]["name"] == "emg-peak-trough"


# ------------------------------------------------------------------------------------------------ emg stats


def _exact(rng, n, mean, sd):
    """n values with exactly this mean and SD (ddof 1)."""
    z = rng.standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


def test_tables_3_4_statistics_reproduce_the_papers_numbers():
    """Given Table 3's N / mean / SD, the formulas give Table 3's t, df, d and Table 4's 95% limits."""
    rng = np.random.default_rng(0)
    macro, micro = _exact(rng, 147, 23.09, 21.27), _exact(rng, 233, 8.11, 8.54)
    test = S.compare(macro, micro)
    assert test["df"] == 378
    assert test["t"] == pytest.approx(9.6, abs=0.05) and test["d"] == pytest.approx(1.01, abs=0.005)
    assert test["p"] < 1e-15
    # (Table 3 prints mean and SD rounded to 0.01, hence the tolerance)
    assert S.describe(micro)["ci95"] == pytest.approx([7.01, 9.21], abs=0.011)
    assert S.describe(macro)["ci95"] == pytest.approx([19.63, 26.56], abs=0.011)
    t = S.compare(_exact(rng, 147, 440.89, 459.97), _exact(rng, 233, 78.8, 55.6))
    assert t["t"] == pytest.approx(11.89, abs=0.05) and t["d"] == pytest.approx(1.25, abs=0.005)
    # Welch's test would not give the paper's df
    assert stats.ttest_ind(macro, micro, equal_var=False).df < 200


def test_statistics_against_scipy_and_by_hand():
    rng = np.random.default_rng(5)
    a, b = rng.normal(3, 2, 17), rng.normal(1, 1, 25)
    test = S.compare(a, b)
    ref = stats.ttest_ind(a, b, equal_var=True)
    assert test["t"] == pytest.approx(ref.statistic) and test["p"] == pytest.approx(ref.pvalue)
    pooled = math.sqrt((16 * a.var(ddof=1) + 24 * b.var(ddof=1)) / 40)
    assert test["d"] == pytest.approx((a.mean() - b.mean()) / pooled) and test["df"] == 40
    se = math.sqrt(((a.mean() - b.mean()) / ref.statistic) ** 2)
    assert se == pytest.approx(pooled * math.sqrt(1 / 17 + 1 / 25))
    d = S.describe(np.r_[b, np.nan])
    half = stats.t.ppf(0.975, 24) * b.std(ddof=1) / 5
    assert d["n"] == 25 and d["ci95"] == pytest.approx([b.mean() - half, b.mean() + half])
    assert S.describe([]) == {"n": 0, "mean": None, "sd": None, "se": None, "ci95": None}
    assert S.compare([1.0], [2.0, 3.0])["t"] is None


def _stats_corpus(rng, with_mvc: bool):
    """Four subjects; per subject one 40 s session with 3 micro (0.25-0.4 s, 5-12% MVC) and 2 macro (1.2-1.8 s
    flat-top, 20-40% MVC) expressions on known channels; MVC recordings: a 2 s contraction at 100% on every channel."""
    rows, recs, mvcs, drawn = [], [], [], {}
    for s in range(1, 5):
        mvc_rms = rng.uniform(100, 300, 8)
        subject = f"casmemg/{s}"
        bursts = []
        t0 = 3.0
        for j in range(5):
            micro = j < 3
            dur = rng.uniform(0.25, 0.4) if micro else rng.uniform(1.2, 1.8)
            pct = rng.uniform(5, 12) if micro else rng.uniform(20, 40)
            ch = int(rng.integers(1, 8))
            bursts.append((ch, t0, t0 + dur, pct / 100 * mvc_rms[ch - 1]))
            sid = f"{subject}/1#{j + 1}"
            drawn[sid] = pct
            rows.append({"sample_id": sid, "dataset": "casmemg", "subject": subject, "video_id": f"{s:02d}/1",
                         "expression_type": "micro" if micro else "macro", "type_source": "annotation",
                         "emg_onset_s": t0, "emg_offset_s": t0 + dur, "onset_s": t0 + 2, "offset_s": t0 + dur + 2,
                         "emg_channel": ch})
            t0 += dur + 5.0
        x, _ = recording(rng, 40.0, [(c, a, b, amp) for c, a, b, amp in bursts], floor=1.0, shape=trapezoid)
        recs.append({"dataset": "casmemg", "video_id": f"{s:02d}/1", "subject": subject, "signals": x})
        if with_mvc:
            m, _ = recording(rng, 6.0, [(c, 2.0, 4.0, mvc_rms[c - 1]) for c in range(1, 9)], floor=1.0,
                             shape=trapezoid)
            mvcs.append({"dataset": "casmemg", "video_id": f"{s:02d}/mvc", "subject": subject, "signals": m,
                         "kind": "mvc"})
    return pd.DataFrame(rows), recs, mvcs, drawn


def test_per_sample_indicators_with_mvc_recordings():
    rng = np.random.default_rng(21)
    samples, recs, mvcs, drawn = _stats_corpus(rng, with_mvc=True)
    table, info = S.per_sample(samples, S.recordings(emg_table(recs)), S.recordings(emg_table(mvcs)))
    assert info["mvc_source"] == "mvc-recording" and info["recordings"] == 4
    assert table["skipped"].isna().all() and set(table["channel_rule"]) == {"annotated"}
    # by hand for one sample: envelope peak over the interval / max envelope of the MVC recording, same channel
    i = 3
    row = samples.iloc[i]
    env = preprocess(recs[0]["signals"])
    times = START_S + np.arange(len(env)) / FS
    keep = (times >= row["emg_onset_s"]) & (times <= row["emg_offset_s"])
    ch = row["emg_channel"] - 1
    mvc = preprocess(mvcs[0]["signals"])[:, ch].max()
    assert table.loc[i, "mvc_percent"] == pytest.approx(100 * env[keep, ch].max() / mvc)
    lo, hi = env[:, ch].min(), env[:, ch].max()
    assert table.loc[i, "iemg"] == pytest.approx(((env[keep, ch] - lo) / (hi - lo)).sum())
    # what was drawn is what is measured: flat-top macro bursts at p% of MVC measure ~p%
    macro = table[table["expression_type"] == "macro"]
    measured = macro["mvc_percent"].to_numpy()
    expected = np.array([drawn[s] for s in macro["sample_id"]])
    assert np.allclose(measured, expected, rtol=0.12)
    # Tables 3-4 from these values are scipy's
    summary = S.summarize(table)
    mi = table.loc[table["expression_type"] == "micro", "mvc_percent"]
    ma = table.loc[table["expression_type"] == "macro", "mvc_percent"]
    ref = stats.ttest_ind(ma, mi, equal_var=True)
    assert summary["mvc_percent"]["test"]["t"] == pytest.approx(ref.statistic)
    assert summary["mvc_percent"]["test"]["p"] == pytest.approx(ref.pvalue)
    assert summary["mvc_percent"]["test"]["d"] == pytest.approx(S.cohens_d(ma, mi))
    assert summary["mvc_percent"]["test"]["t"] > 0 and summary["iemg"]["test"]["t"] > 0
    micro_durations = samples.loc[samples["expression_type"] == "micro", ["emg_onset_s", "emg_offset_s"]]
    assert summary["duration_s"]["micro"]["mean"] == pytest.approx(np.diff(micro_durations, axis=1).mean())
    assert summary["mvc_percent"]["micro"]["n"] == 12 and summary["mvc_percent"]["macro"]["n"] == 8


def test_per_sample_indicators_fall_back_to_the_session_maximum():
    rng = np.random.default_rng(22)
    samples, recs, mvcs, _ = _stats_corpus(rng, with_mvc=False)
    # eq. 5 channel choice, MVC rows given inside the emg table are recognised by their kind
    table, info = S.per_sample(samples, S.recordings(emg_table(recs)), channel="eq5")
    assert info["mvc_source"] == "session-max" and set(table["channel_rule"]) == {"eq5"}
    assert (table["channel"] == samples["emg_channel"]).mean() > 0.9  # the burst's channel has the largest peak
    assert table["mvc_percent"].max() <= 100.0 + 1e-9
    per = table.groupby(["subject", "channel"])["mvc_percent"].max()
    assert np.isclose(per, 100.0).any()
    samples2, recs2, mvcs2, _ = _stats_corpus(np.random.default_rng(23), with_mvc=True)
    _, info2 = S.per_sample(samples2, S.recordings(emg_table(recs2 + mvcs2)))
    assert info2["mvc_source"] == "mvc-recording"
    # rows that cannot have EMG indicators are said, not dropped
    extra = samples.iloc[:2].copy()
    extra.loc[:, "video_id"] = ["99/9", None]
    table3, info3 = S.per_sample(pd.concat([samples, extra], ignore_index=True), S.recordings(emg_table(recs)))
    assert list(table3["skipped"].iloc[-2:]) == ["no EMG recording for its video_id", "no video_id (no EMG recording)"]
    assert np.isfinite(table3["duration_s"].iloc[-2:]).all()


def _write_corpus(folder, samples, recs):
    folder.mkdir()
    (folder / "corpus.json").write_text(json.dumps({"schema_version": 1, "fingerprint": "test", "shadow": True}))
    pq.write_table(pa.Table.from_pandas(samples, preserve_index=False), folder / "samples.parquet")
    pq.write_table(emg_table(recs), folder / "emg.parquet")


def test_emg_stats_command(tmp_path, capsys):
    from mebench.cli import main

    samples, recs, mvcs, _ = _stats_corpus(np.random.default_rng(31), with_mvc=True)
    corpus = tmp_path / "corpus"
    _write_corpus(corpus, samples, recs)
    pq.write_table(emg_table(mvcs), corpus / "mvc.parquet")
    out = tmp_path / "stats.json"
    assert main(["emg", "stats", "--corpus", str(corpus), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Table 3" in printed and "Table 4" in printed and "MVC source: mvc-recording" in printed
    result = json.loads(out.read_text())
    assert result["n_samples"] == 20 and result["types"] == {"macro": 8, "micro": 12}
    assert result["info"]["mvc_source"] == "mvc-recording"
    table, _ = S.per_sample(samples, S.recordings(emg_table(recs)), S.recordings(emg_table(mvcs)))
    assert result["indicators"]["mvc_percent"]["test"]["t"] == pytest.approx(S.summarize(table)["mvc_percent"]
                                                                            ["test"]["t"])
    assert set(result["indicators"]) == {"mvc_percent", "iemg", "duration_s"}
    # without MVC recordings the output says the session maximum was used
    corpus2 = tmp_path / "corpus2"
    _write_corpus(corpus2, samples, recs)
    assert main(["emg", "stats", "--corpus", str(corpus2)]) == 0
    printed = capsys.readouterr().out
    assert "MVC source: session-max" in printed and "strongest contraction" in printed


def test_emg_stats_durations_only_and_bad_input(tmp_path, capsys):
    from conftest import assert_clean_failure

    from mebench.cli import main

    samples, _, _, _ = _stats_corpus(np.random.default_rng(41), with_mvc=False)
    samples["type_source"] = "duration<0.5s"
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "corpus.json").write_text("{}")
    pq.write_table(pa.Table.from_pandas(samples, preserve_index=False), corpus / "samples.parquet")
    result = S.corpus_stats(corpus)
    assert result["info"]["mvc_source"] is None
    assert result["indicators"]["duration_s"]["micro"]["n"] == 12
    assert result["indicators"]["mvc_percent"]["micro"]["n"] == 0
    assert any("circular" in n for n in result["notes"]) and any("no EMG signals" in n for n in result["notes"])
    out = tmp_path / "nothing.json"
    assert main(["emg", "stats", "--corpus", str(tmp_path / "missing"), "--out", str(out)]) == 2
    assert_clean_failure(capsys, out, "corpus")
    assert main(["emg", "stats", "--corpus", str(corpus), "--out", str(tmp_path / "no" / "x.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "corpus.json").write_text("{}")
    pq.write_table(pa.Table.from_pandas(samples.assign(dataset="casme2"), preserve_index=False),
                   empty / "samples.parquet")
    assert main(["emg", "stats", "--corpus", str(empty)]) == 2
    assert "no samples of an EMG dataset" in capsys.readouterr().err


def test_model_is_importable_by_path_and_registered_name():
    from mebench.models import REGISTRY, resolve_model

    ref = resolve_model("mebench.baselines.emg:EmgPeakTrough")
    assert ref.cls is EmgPeakTrough and ref.name == "emg-peak-trough" and ref.version == "1"
    if "emg-peak-trough" in REGISTRY:  # the registry entry (mebench/models/__init__.py) names this class
        assert resolve_model("emg-peak-trough").cls is EmgPeakTrough
