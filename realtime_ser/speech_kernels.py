"""numba twin of the native SpeechDetector: speech flags of whole signals on the batch path.

`flags(frames)` runs csrc/ser/speech_detector.cc over all the rows of one input at once: the
same float32 arithmetic in the same order (running noise floor down at once and up by
floor_rise per frame, steady-tone run, voicing and energy test, onset and hangover), so its
flags equal the native detector's frame for frame (tests/test_speech_kernels.py), whatever
chunks the stream was fed in. The options and their defaults are the native ones
(`_native.SpeechDetectorOptions`, validated by the native binding). The rows are features or
base descriptors: only log_energy, voicing_prob and f0_hz are read, un-normalised.

Used by `python -m realtime_ser.stream --offline` (speech-bounded segments and the "no speech"
rule, through decoder_kernels.track_batch); serving never imports this module (numba).
Compiled with cache=True; `warm_up()` compiles or loads the kernel (time it returns).
"""

from __future__ import annotations

import time

import numba
import numpy as np

from realtime_ser import _native
from realtime_ser.features import BASE_NAMES

COLUMNS = tuple(BASE_NAMES.index(name) for name in ("log_energy", "voicing_prob", "f0_hz"))
_FLOATS = ("min_voicing", "snr", "min_log_energy", "floor_init", "floor_rise", "steady_f0", "steady_energy")
_INTS = ("steady_frames", "onset_frames", "hangover_frames")


@numba.njit(cache=True, nogil=True)
def speech_kernel(x, cols, fo, io, out):
    """Flags of the rows of x (n, >= LldDim) float32 into out (n,) uint8.

    cols: (log_energy, voicing_prob, f0_hz) column indices; fo: float32 (min_voicing, snr,
    min_log_energy, floor_init, floor_rise, steady_f0, steady_energy); io: int64
    (steady_frames, onset_frames, hangover_frames). Returns the frames flagged speech."""
    c_e, c_v, c_f0 = cols[0], cols[1], cols[2]
    min_voicing, snr, min_log_energy, floor_rise = fo[0], fo[1], fo[2], fo[4]
    steady_f0, steady_energy = fo[5], fo[6]
    steady_frames, onset_frames, hangover_frames = io[0], io[1], io[2]
    zero = np.float32(0.0)
    floor = fo[3]
    prev_e = zero
    prev_f0 = zero
    steady_run = 0
    run = 0
    in_speech = False
    n_speech = 0
    for t in range(x.shape[0]):
        e = x[t, c_e]
        f0 = x[t, c_f0]
        # Candidate: the floor (down at once, up slowly), the steady run, voiced and loud.
        if np.isfinite(e):
            up = floor + floor_rise
            floor = e if e < up else up  # std::min(up, e)
        same = (f0 > zero and prev_f0 > zero and abs(np.log(f0 / prev_f0)) < steady_f0
                and abs(e - prev_e) < steady_energy)
        steady_run = steady_run + 1 if same else 0
        prev_f0 = f0
        prev_e = e
        steady = steady_run >= steady_frames
        voiced = x[t, c_v] >= min_voicing and f0 > zero
        loud = e >= min_log_energy and e >= floor + snr
        candidate = voiced and loud and not steady
        # Decide: onset and hangover.
        if in_speech:
            run = 0 if candidate else run + 1
            if run >= hangover_frames:
                in_speech = False  # the hangover_frames-th gap frame is not speech
                run = 0
        else:
            run = run + 1 if candidate else 0
            if run >= onset_frames:
                in_speech = True
                run = 0
        out[t] = 1 if in_speech else 0
        n_speech += in_speech
    return n_speech


def options_arrays(options=None) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's (float32, int64) option arrays of a native SpeechDetectorOptions (default: its defaults)."""
    o = options if options is not None else _native.SpeechDetectorOptions()
    _native.SpeechDetector(o)  # the native validation, same messages
    return (np.array([getattr(o, n) for n in _FLOATS], np.float32),
            np.array([getattr(o, n) for n in _INTS], np.int64))


_DEFAULTS = options_arrays()


def flags(frames: np.ndarray, options=None) -> np.ndarray:
    """Speech flags, uint8 (n,), of one input's (n, dim) rows whose first columns are the base
    descriptors: what _native.SpeechDetector(options).accept_frames(frames) returns."""
    x = np.ascontiguousarray(frames, np.float32)
    if x.ndim != 2 or x.shape[1] < len(BASE_NAMES):
        raise ValueError(f"frames must be (n, >= {len(BASE_NAMES)}), got shape {x.shape}")
    if not x.flags.writeable:
        x = x.copy()  # a read-only array would compile a second specialisation
    fo, io = _DEFAULTS if options is None else options_arrays(options)
    out = np.zeros(len(x), np.uint8)
    speech_kernel(x, np.array(COLUMNS, np.int64), fo, io, out)
    return out


def warm_up() -> float:
    """Compile or load the kernel once; returns the seconds it took."""
    t = time.perf_counter()
    flags(np.zeros((2, len(BASE_NAMES)), np.float32))
    return time.perf_counter() - t
