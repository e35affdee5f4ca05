"""Fault tests on loopback: each fault runs beside witness streams, which must lose no event.

Bounded: a few clients each, seconds of audio, no timing thresholds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from websockets.asyncio.client import connect

from realtime_ser import protocol
from serve_common import ENV, ROOT, ServerProcess, load_16k, plain, raw_session, reference_events, run, stream_samples

PACE = 0.05  # a 100 ms block every 50 ms: twice real time, so a witness is open for a while


@pytest.fixture(scope="module")
def witness_audio(emodb_wavs):
    x = np.concatenate([load_16k(p) for p in emodb_wavs[:2]])
    return x, reference_events(x)


@pytest.fixture()
def server():
    s = ServerProcess("--max-streams", "30", "--idle-timeout-s", "5", "--max-queued-events", "8")
    yield s
    if s.proc.poll() is None:
        assert s.stop() == 0, s.stderr()
    assert "Traceback" not in s.stderr()


def assert_complete(session, ref) -> None:
    """Every event of the reference, in order, and a normal close."""
    assert session.code == protocol.NORMAL, (session.code, session.reason)
    assert [plain(e) for e in session.events] == ref


async def with_witnesses(url, audio, fault, n: int = 2):
    x, _ = audio
    witnesses = [asyncio.create_task(stream_samples(url, x, pace=PACE)) for _ in range(n)]
    await asyncio.sleep(0.3)  # the witnesses are streaming
    result = await fault()
    return [await w for w in witnesses], result


def test_client_killed_mid_stream(server, witness_audio, emodb_wavs):
    async def fault():
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "realtime_ser.client", str(emodb_wavs[5]), "--url", server.url, "--realtime",
            cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        await asyncio.sleep(1.0)
        proc.kill()
        await proc.wait()
        for _ in range(100):  # the server notices the broken connection and frees the stream
            if server.metric("active_streams") <= 2:
                break
            await asyncio.sleep(0.05)
        return server.metric("active_streams")

    witnesses, active_after = run(with_witnesses(server.url, witness_audio, fault))
    for w in witnesses:
        assert_complete(w, witness_audio[1])
    assert active_after <= 2  # only the witnesses (if still open) hold streams
    assert server.metric("active_streams") == 0


def test_flood_of_malformed_messages(server, witness_audio):
    garbage = [["{bad"], [b"\x00" * 3], ['{"sample_rate": 16000, "format": "s16le"}', b"\x01\x02\x03"],
               ['{"sample_rate": 16000}', "text"], ['{"sample_rate": 99}'], [b"\xff" * 100],
               ['{"sample_rate": 16000}', np.full(800, np.nan, "<f4").tobytes()]]

    async def fault():
        sessions = await asyncio.gather(*[raw_session(server.url, garbage[i % len(garbage)]) for i in range(25)])
        return sessions

    witnesses, sessions = run(with_witnesses(server.url, witness_audio, fault))
    for w in witnesses:
        assert_complete(w, witness_audio[1])
    for s in sessions:
        assert [e["type"] for e in s.events] == ["error"], s.events
        assert s.code in (protocol.INVALID_DATA, protocol.UNSUPPORTED, protocol.POLICY)


def test_max_streams_plus_one_is_refused_politely(witness_audio):
    server = ServerProcess("--max-streams", "3")
    try:
        async def fault():
            await asyncio.sleep(0.2)
            return await raw_session(server.url, ['{"sample_rate": 16000}'])

        witnesses, refused = run(with_witnesses(server.url, witness_audio, fault, n=3))
        for w in witnesses:
            assert_complete(w, witness_audio[1])
        assert refused.code == protocol.TRY_LATER and "server is full" in refused.reason
        assert [e["type"] for e in refused.events] == ["error"] and "server is full" in refused.events[0]["error"]
        assert server.metric("refused_connections_total") == 1
        # room again once they are done
        again = run(stream_samples(server.url, witness_audio[0][:16000]))
        assert again.code == protocol.NORMAL
    finally:
        assert server.stop() == 0


def test_slow_reader_loses_only_droppable_events(server, witness_audio):
    """A client that reads nothing for a while, with a queue of 8 events and many events coming."""
    x = np.tile(witness_audio[0], 8)  # ~30 s of speech, sent at once
    cfg = {"sample_rate": 16000, "format": "f32le", "partials": True, "posteriors": True}

    async def fault():
        async with connect(server.url, max_size=None, max_queue=1) as ws:
            await ws.send(json.dumps(cfg))
            for i in range(0, len(x), 1600):
                await ws.send(x[i:i + 1600].tobytes())
            await ws.send(json.dumps({"eof": True}))
            await asyncio.sleep(3.0)  # not reading: the server's queue for us overflows
            got = []
            try:
                async for message in ws:
                    got.append(json.loads(message))
            except Exception:  # noqa: BLE001 - a close without a frame still shows its code
                pass
            return got, ws.close_code

    witnesses, (got, code) = run(with_witnesses(server.url, witness_audio, fault))
    for w in witnesses:
        assert_complete(w, witness_audio[1])
    kinds = [e["type"] for e in got]
    if code == protocol.NORMAL:
        assert kinds.count("utterance") == 1 and "segment" in kinds
    else:  # queue full of segments: closed as too slow, with one error event
        assert code == protocol.POLICY and kinds[-1] == "error" and "slow reader" in got[-1]["error"]
    assert server.metric("events_dropped_total") > 0


def test_sigterm_finishes_open_streams_and_exits_0(witness_audio):
    server = ServerProcess()
    x, ref = witness_audio

    async def scenario():
        clients = [asyncio.create_task(stream_samples(server.url, x, pace=0.1)) for _ in range(3)]
        await asyncio.sleep(1.0)
        os.kill(server.proc.pid, signal.SIGTERM)
        return [await c for c in clients]

    sessions = run(scenario())
    assert server.proc.wait(timeout=30) == 0, server.stderr()
    full_utterance = ref[-1]
    for s in sessions:
        assert s.code == protocol.GOING_AWAY and "shutting down" in s.reason
        utterances = s.of("utterance")
        assert len(utterances) == 1 and 0 < utterances[0]["end"] < full_utterance["end"]
        end = utterances[0]["end"] - 0.5  # before the cut, where the right context was all there
        spikes = [plain(e) for e in s.of("spike") if e["time"] < end]
        assert spikes == [e for e in ref if e["type"] == "spike" and e["time"] < end]
        segments = [plain(e) for e in s.of("segment")][:-1]  # the last one was cut short
        assert segments == [e for e in ref if e["type"] == "segment"][:len(segments)]
    assert "stopped" in server.stderr()
