"""Helpers of the server tests: a server in a subprocess, asyncio clients, reference events."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "realtime_ser" / "samples" / "speech.wav"
BLOCK = 1600  # 100 ms at 16 kHz
ENV = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")


class ServerProcess:
    """`python -m realtime_ser.serve --port 0 ARGS` and the port it printed."""

    def __init__(self, *args: str, module: str = "realtime_ser.serve") -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port", "0", *args], cwd=ROOT, env=ENV,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        first = self.proc.stderr.readline()
        match = re.search(r"ws://[\d.]+:(\d+)/ws", first)
        if not match:
            self.proc.kill()
            raise AssertionError(f"server did not start: {first}{self.proc.stderr.read()}")
        self.port = int(match.group(1))
        self.lines = [first]
        self._drain = threading.Thread(target=self._read_stderr, daemon=True)
        self._drain.start()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()

    def metric(self, name: str) -> float:
        _, text = self.http("/metrics")
        match = re.search(rf"^realtime_ser_{name} (\S+)$", text, re.M)
        assert match, text
        return float(match.group(1))

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self._drain.join(timeout=5)
        return rc

    def stderr(self) -> str:
        return "".join(self.lines)


def load_16k(path) -> np.ndarray:
    from realtime_ser import audio

    return np.ascontiguousarray(audio.load(path).reshape(-1), np.float32)


def reference_events(samples: np.ndarray, **options) -> list[dict]:
    """The engine's events for these samples, in process (the stream CLI's path)."""
    from realtime_ser.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(**options))
    s = engine.create_stream("ref")
    out = []
    for i in range(0, len(samples), BLOCK):
        s.accept_waveform(16000, samples[i:i + BLOCK])
        if engine.ready([s]):
            engine.decode([s])
        out += [e.to_dict() for e in s.events()]
    s.input_finished()
    engine.decode([s])
    out += [e.to_dict() for e in s.events()]
    return [plain(e) for e in out]


def plain(event: dict) -> dict:
    """An event without its source and stream id (they differ between paths)."""
    return {k: v for k, v in event.items() if k not in ("source", "stream")}


class Session:
    """What one client saw: events (ready excluded), close code and reason."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.ready: dict | None = None
        self.code: int | None = None
        self.reason = ""

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]


async def stream_samples(url: str, samples: np.ndarray, pace: float = 0.0, config: dict | None = None,
                         fmt: str = "f32le", stop_after: int | None = None) -> Session:
    """Send samples in 100 ms blocks (one every `pace` s), then eof; collect every event.

    stop_after: send only that many blocks, then wait for the server to close (no eof).
    """
    session = Session()
    message = {"sample_rate": 16000, "format": fmt, "channels": 1, **(config or {})}
    async with connect(url, max_size=None) as ws:
        await ws.send(json.dumps(message))
        reader = asyncio.create_task(collect(ws, session))
        try:
            for k, i in enumerate(range(0, len(samples), BLOCK)):
                if stop_after is not None and k >= stop_after:
                    break
                block = samples[i:i + BLOCK]
                data = (block * 32767).astype("<i2") if fmt == "s16le" else block.astype("<f4")
                await ws.send(data.tobytes())
                await asyncio.sleep(pace)
            if stop_after is None:
                await ws.send(json.dumps({"eof": True}))
        except ConnectionClosed:
            pass
        await reader
    return session


async def collect(ws, session: Session) -> None:
    try:
        async for message in ws:
            event = json.loads(message)
            if event["type"] == "ready":
                session.ready = event
            else:
                session.events.append(event)
    except ConnectionClosed:
        pass
    session.code, session.reason = ws.close_code, ws.close_reason


async def raw_session(url: str, messages: list, wait: bool = True) -> Session:
    """Send these messages (str or bytes) as they are; collect what comes back until the close."""
    session = Session()
    async with connect(url, max_size=None) as ws:
        reader = asyncio.create_task(collect(ws, session))
        try:
            for m in messages:
                await ws.send(m)
        except ConnectionClosed:
            pass
        if wait:
            await reader
        else:
            reader.cancel()
    return session


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=120))


def sigterm(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
