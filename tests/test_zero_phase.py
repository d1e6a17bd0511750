"""mebench.baselines.zero_phase against scipy.signal.sosfiltfilt: same filters, same padding, same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import signal

from mebench.baselines.zero_phase import padlen, sosfiltfilt_columns, sosfiltfilt_into


@st.composite
def designs(draw):
    """A Butterworth design in SOS form: low-, high-, band-pass or band-stop, order 1-4, at 1 kHz."""
    kind = draw(st.sampled_from(["lowpass", "highpass", "bandpass", "bandstop"]))
    order = draw(st.integers(1, 4))
    lo = draw(st.floats(2.0, 200.0))
    if kind in ("bandpass", "bandstop"):
        hi = draw(st.floats(lo + 5.0, 490.0))
        return signal.butter(order, [lo, hi], btype=kind, fs=1000.0, output="sos")
    return signal.butter(order, lo, btype=kind, fs=1000.0, output="sos")


@settings(max_examples=60, deadline=None)
@given(sos=designs(), extra=st.integers(1, 400), channels=st.integers(1, 9), seed=st.integers(0, 2**16),
       offset=st.floats(-1e4, 1e4))
def test_equals_scipy_sosfiltfilt(sos, extra, channels, seed, offset):
    n = padlen(sos) + extra
    x = np.random.default_rng(seed).normal(offset, 50.0, (n, channels))
    ref = signal.sosfiltfilt(sos, x, axis=0)
    out = sosfiltfilt_columns(sos, x)
    assert out.shape == ref.shape and out.dtype == np.float64
    assert np.allclose(out, ref, rtol=1e-12, atol=1e-12 * max(1.0, float(np.abs(ref).max())))


def test_one_dimensional_and_in_place_buffer():
    sos = signal.butter(2, [20, 450], btype="bandpass", fs=1000.0, output="sos")
    x = np.random.default_rng(3).normal(0, 1, 500)
    ref = signal.sosfiltfilt(sos, x)
    assert np.allclose(sosfiltfilt_columns(sos, x), ref, rtol=1e-12, atol=1e-12)
    edge = padlen(sos)
    assert edge == 3 * (2 * len(sos) + 1)  # scipy's default padlen for a band-pass (no zero b2/a2)
    buf = np.zeros((500 + 2 * edge, 1))
    buf[edge:edge + 500, 0] = x
    view = sosfiltfilt_into(sos, buf, edge)
    assert np.shares_memory(view, buf) and np.allclose(view[:, 0], ref, rtol=1e-12, atol=1e-12)


def test_a_first_order_section_pads_as_scipy_does():
    sos = signal.butter(1, 10, fs=1000.0, output="sos")  # b2 == a2 == 0: fewer taps, shorter padding
    assert padlen(sos) == 3 * 2
    x = np.random.default_rng(4).normal(0, 1, (50, 2))
    assert np.allclose(sosfiltfilt_columns(sos, x), signal.sosfiltfilt(sos, x, axis=0), rtol=1e-12, atol=1e-12)


def test_bad_arguments_say_what_is_wrong():
    sos = signal.butter(2, 6, fs=1000.0, output="sos")
    with pytest.raises(ValueError, match="too few"):
        sosfiltfilt_columns(sos, np.zeros(padlen(sos)))
    with pytest.raises(ValueError, match="n_sections, 6"):
        sosfiltfilt_columns(np.zeros((1, 5)), np.zeros(100))
    with pytest.raises(ValueError, match="a0 == 1"):
        sosfiltfilt_columns(np.array([[1.0, 0, 0, 2.0, 0, 0]]), np.zeros(100))
    with pytest.raises(ValueError, match="C-contiguous"):
        sosfiltfilt_into(sos, np.zeros((100, 2)).T, 6)
    with pytest.raises(ValueError, match="array"):
        sosfiltfilt_columns(sos, np.zeros((100, 2, 2)))
