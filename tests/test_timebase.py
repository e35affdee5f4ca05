"""The 10 ms time base: values off the hop are refused, in the engine and in training alike."""

import subprocess
import sys

import numpy as np
import pytest

from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.timebase import FRAME_S, ms_arg, ms_to_frames


def test_ms_to_frames():
    assert ms_to_frames(0) == 0 and ms_to_frames(200) == 20 and FRAME_S == 0.01
    for bad in (15, -10, 1.5, "20", True):
        with pytest.raises(ValueError):
            ms_to_frames(bad, "--chunk-ms")


def test_engine_frames_come_from_the_time_base():
    e = Engine(EngineConfig(chunk_ms=100, endpoint_ms=500))
    assert (e.chunk_frames, e.endpoint_frames) == (10, 50)
    with pytest.raises(ValueError):
        EngineConfig(chunk_ms=15).validate()


@pytest.mark.parametrize("module", ["training.train", "training.evaluate"])
def test_training_refuses_15_ms_chunks(module, tmp_path):
    """Training used to turn --chunk-ms 15 into 1 frame silently; now it is a usage error."""
    out = subprocess.run([sys.executable, "-m", module, "--chunk-ms", "15", "--out", str(tmp_path / "m")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "--chunk-ms" in out.stderr and "15" in out.stderr and "Traceback" not in out.stderr


def test_ms_arg():
    assert ms_arg("200") == 200
    for bad in ("15", "x", "-10"):
        with pytest.raises(Exception):
            ms_arg(bad)


def test_chunking_validates_and_converts():
    from realtime_ser.timebase import Chunking

    c = Chunking.from_ms(100, 200)
    assert (c.chunk_frames, c.right_context_frames, c.latency_frames) == (10, 20, 29)
    assert str(c) == "chunks of 100 ms + 200 ms right context"
    offline = Chunking.from_ms(None, 200)
    assert offline.offline and offline.right_context_frames == 0 and offline.latency_frames is None
    assert Chunking(np.int64(4), np.int64(0)).chunk_frames == 4
    for bad in ((0, 0), (3.5, 0), (True, 0), (4, -1), (4, 1.0)):
        with pytest.raises(ValueError):
            Chunking(*bad)
    with pytest.raises(ValueError, match="chunk_ms"):
        Chunking.from_ms(15, 0)
