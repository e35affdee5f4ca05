"""Bounded memory: two hours of audio through one stream keep every per-stream buffer small.

The stream gets noise, then a speech-like signal with pauses (segments closed by endpoints)
alternating with noise; in one 60 s piece, then 100 ms pieces, then 10 s pieces (fast
enough for 2 h in ~30 s). Whether the model finds emotion in noise depends on the model, so
the closure at max_segment_ms has its own test, with endpoints put out of reach.
"""

from __future__ import annotations

import numpy as np
import pytest

from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.features import DELTA_LOOKAHEAD

RATE = 16000
HOURS = 2.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def noise(rng, n):
    return np.clip(0.5 * rng.standard_normal(n), -1, 1).astype(np.float32)


def speech_like(rng, n, t0):
    """A gliding 150-250 Hz tone, on for 0.25 s and off for 0.25 s, plus a little noise."""
    t = (t0 + np.arange(n)) / RATE
    tone = 0.3 * np.sin(2 * np.pi * (150 + 50 * np.sin(2 * np.pi * 0.5 * t)) * t)
    return (tone * (np.sin(2 * np.pi * 2 * t) > 0) + 0.01 * rng.standard_normal(n)).astype(np.float32)


def schedule():
    """(kind, piece seconds, block seconds) blocks that add up to HOURS."""
    blocks = [("noise", 60.0, 60.0), ("noise", 0.1, 300.0), ("noise", 10.0, 1800.0)]
    left = HOURS * 3600 - sum(b[2] for b in blocks)
    kinds = ["speech", "noise"]
    i = 0
    while left > 0:
        block = min(600.0, left)
        blocks.append((kinds[i % 2], 10.0, block))
        left -= block
        i += 1
    return blocks


def check_buffers(s, engine, piece_frames):
    """Every per-stream buffer is small, whatever has been fed before this piece."""
    tr = s._native.tracker
    assert s._native.feature_history <= 4 * DELTA_LOOKAHEAD + 8, "feature history not trimmed"
    # arrivals are kept from the oldest frame an event may still name: the open segment's last
    # active frame, at most max(endpoint, max segment) frames back; one arrival per piece
    assert tr.num_frames - tr.oldest_open_frame <= max(engine.endpoint_frames, tr.max_frames)
    held = s.duration * 100 - tr.oldest_open_frame
    assert len(s._arrivals) <= held / piece_frames + 2, f"{len(s._arrivals)} arrivals kept over {held:.0f} frames"
    assert tr.num_queued == 0, f"{tr.num_queued} events kept by the tracker"
    assert tr.null_run < engine.endpoint_frames or tr.open_start is None
    assert tr.open_start is None or s.num_frames - tr.open_start <= tr.max_frames
    assert tr.open_frames <= tr.max_frames
    assert s._native.queued_samples == 0
    assert s._native.lstm_capacity <= 2 * piece_frames + 4096
    assert s._native.queued_speech <= 4096, "speech flags kept"


def test_two_hours_of_audio_keep_memory_bounded():
    engine = Engine(EngineConfig(segments="spikes"))  # speech_like() is not voiced: spike segments
    s = engine.create_stream("long")
    rng = np.random.default_rng(0)
    fed = 0  # samples
    segments, lengths, warm_rss, peak_rss = 0, [], None, 0.0
    for kind, piece_s, block_s in schedule():
        piece = int(piece_s * RATE)
        for _ in range(int(round(block_s / piece_s))):
            x = noise(rng, piece) if kind == "noise" else speech_like(rng, piece, fed)
            s.accept_waveform(RATE, x)
            fed += piece
            engine.decode([s])
            for e in s.events():
                if e.type == "segment":
                    segments += 1
                    lengths.append(e.end - e.start)
            check_buffers(s, engine, piece // 160)
        if kind == "noise" and piece_s < 1:  # after 60 s in one piece the BiLSTM buffer shrank
            assert s._native.lstm_capacity <= 1024
        if fed >= 1800 * RATE:
            warm_rss = warm_rss or rss_mb()
            peak_rss = max(peak_rss, rss_mb())
    s.input_finished()
    engine.decode([s])
    events = s.events()
    assert fed / RATE >= 2 * 3600 and events[-1].type == "utterance"
    assert events[-1].end == pytest.approx(fed / RATE)
    lengths += [e.end - e.start for e in events if e.type == "segment"]
    # speech-like: segments closed by endpoints
    print(f"RSS {warm_rss:.1f} -> {peak_rss:.1f} MB; {len(lengths)} segments")
    assert max(lengths) <= engine.config.max_segment_ms / 1000 + 1e-6
    assert sum(1 for x in lengths if x < 5) >= 100
    assert peak_rss - warm_rss <= 4.0, f"RSS grew {warm_rss:.1f} -> {peak_rss:.1f} MB"


def test_segments_close_at_their_maximum_length():
    """With the endpoint out of reach, only max_segment_ms closes segments, and buffers stay small."""
    engine = Engine(EngineConfig(endpoint_ms=60000, max_segment_ms=5000, segments="spikes"))
    s = engine.create_stream("no endpoint")
    rng = np.random.default_rng(0)
    piece, lengths = 1600, []
    for i in range(600):  # 60 s
        s.accept_waveform(RATE, speech_like(rng, piece, i * piece))
        engine.decode([s])
        lengths += [e.end - e.start for e in s.events() if e.type == "segment"]
        check_buffers(s, engine, piece // 160)
    assert lengths and max(lengths) <= 5.0 + 1e-6
    assert sum(1 for x in lengths if x >= 4.9) >= 8, lengths


def test_memory_accounting_follows_the_buffers():
    """OnlineStream.memory() counts what the stream holds: it adds up, it sees the BiLSTM's
    pending rows grow for one big piece and shrink back, and it is steady in steady streaming."""
    engine = Engine(EngineConfig())
    s = engine.create_stream("accounted")
    hidden = engine.model.out_w.shape[1] // 2  # out_w: (classes, 2H)
    row_bytes = 5 * hidden * 4  # forward output (H) and backward input gates (4H), float32
    rng = np.random.default_rng(1)

    def feed(seconds, piece_s):
        piece = int(piece_s * RATE)
        for _ in range(int(round(seconds / piece_s))):
            s.accept_waveform(RATE, speech_like(rng, piece, 0))
            engine.decode([s])
            s.events()
        return s._native.memory()

    new = s._native.memory()
    assert new["total"] == sum(v for k, v in new.items() if k != "total")
    big = feed(30.0, 30.0)
    assert big["lstm"] >= s._native.lstm_capacity * row_bytes >= 3000 * row_bytes
    steady = feed(5.0, 0.1)
    assert steady["lstm"] < big["lstm"] / 20, "pending rows not released"
    later = feed(20.0, 0.1)
    assert later["total"] <= steady["total"] + 4096, (steady, later)
    assert later["lstm"] >= s._native.lstm_capacity * row_bytes
