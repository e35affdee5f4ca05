"""realtime_ser.serve and realtime_ser.client: protocol, limits, HTTP routes, same results as the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from realtime_ser import protocol
from realtime_ser.protocol import ProtocolError, StreamConfig
from realtime_ser.serve import DROPPABLE, Metrics, Outbox, ServerConfig
from serve_common import (ENV, ROOT, SAMPLE, ServerProcess, load_16k, plain, raw_session, reference_events, run,
                          stream_samples)

# a small --max-pending-bytes: a client sending at full speed is paused (backpressure) and loses nothing
LIMITS = ("--max-streams", "40", "--max-message-bytes", "65536", "--idle-timeout-s", "2",
          "--max-pending-bytes", "32768")


@pytest.fixture(scope="module")
def server():
    s = ServerProcess(*LIMITS)
    yield s
    assert s.stop() == 0, s.stderr()
    assert "Traceback" not in s.stderr()


@pytest.fixture(scope="module")
def speech():
    x = load_16k(SAMPLE)
    return x, reference_events(x)


# ------------------------------------------------------------ units

def test_config_validates_and_names_the_problem():
    ok = StreamConfig.from_message(json.dumps({"sample_rate": 44100, "format": "s16le", "channels": 2}))
    assert ok.frame_bytes == 4
    cases = {"not json": "not valid JSON", "[1]": "JSON object", "{}": "sample_rate",
             '{"sample_rate": 7999}': "8000 to 192000", '{"sample_rate": 16000, "format": "mp3"}': "f32le, s16le",
             '{"sample_rate": 16000, "channels": 0}': "channels", '{"sample_rate": 16000, "chunk_ms": 15}': "chunk_ms",
             '{"sample_rate": 16000, "partials": 1}': "partials", '{"sample_rate": 16000, "colour": 1}': "unknown"}
    for text, words in cases.items():
        with pytest.raises(ProtocolError, match=words):
            StreamConfig.from_message(text)
    with pytest.raises(ProtocolError, match="binary"):
        StreamConfig.from_message(b"\0\0")
    with pytest.raises(ProtocolError, match="whole number"):
        ok.samples(b"\0" * 6)
    assert ok.samples(b"\0" * 8).shape == (2, 2)


def test_server_config_validates_and_prints_itself():
    c = ServerConfig()
    c.validate()
    assert "max_streams=200" in str(c) and "chunk=100 ms" in str(c)
    with pytest.raises(ValueError, match="max_streams"):
        ServerConfig(max_streams=0).validate()


def test_outbox_drops_partials_first_and_never_segments():
    box = Outbox(3, Metrics())
    assert box.put("spike", "s1") and box.put("partial", "p1") and box.put("segment", "g1")
    assert box.put("partial", "p2")              # full: a new droppable event is dropped
    assert box.put("utterance", "u1")            # full: the oldest partial makes room
    assert [k for k, _ in box.items] == ["spike", "segment", "utterance"]
    assert box.put("segment", "g2")              # then the spike
    assert not box.put("utterance", "u2")        # nothing left to drop: the reader is too slow
    assert [k for k, _ in box.items] == ["segment", "utterance", "segment"]
    assert box.metrics.events_dropped == 3
    assert DROPPABLE[0] == "partial"


# ------------------------------------------------------------ end to end

def test_events_match_the_engine_with_stream_ids(server, speech):
    x, ref = speech
    s = run(stream_samples(server.url, x, config={"source": "mine"}))
    assert s.code == protocol.NORMAL and s.reason == "utterance sent"
    assert [plain(e) for e in s.events] == ref
    assert {e["stream"] for e in s.events} == {s.ready["stream"]}
    assert {e["source"] for e in s.events} == {"mine"}
    assert s.events[-1]["type"] == "utterance"


def test_s16le_stereo_at_48k_is_resampled(server, speech):
    import soxr

    x, ref = speech
    y = soxr.resample(x, 16000, 48000).astype(np.float32)
    stereo = np.stack([y, y], axis=1)
    data = (np.clip(stereo, -1, 1) * 32767).astype("<i2")
    cfg = json.dumps({"sample_rate": 48000, "format": "s16le", "channels": 2})
    s = run(raw_session(server.url, [cfg, *[data[i:i + 4800].tobytes() for i in range(0, len(data), 4800)],
                                     json.dumps({"eof": True})]))
    assert s.code == protocol.NORMAL, s.events
    utt = s.of("utterance")
    assert len(utt) == 1 and utt[0]["emotion"] == next(e for e in ref if e["type"] == "utterance")["emotion"]


def test_client_options_partials_and_posteriors(server, speech):
    x, _ = speech
    s = run(stream_samples(server.url, x[:32000], pace=0.03, config={"partials": True, "posteriors": True,
                                                          "spikes": False, "latency": True}))
    kinds = {e["type"] for e in s.events}
    assert {"partial", "posteriors", "utterance"} <= kinds and "spike" not in kinds
    assert all("latency_s" in e for e in s.events)


@pytest.mark.parametrize("messages, code, words", [
    (["{bad"], protocol.INVALID_DATA, "not valid JSON"),
    ([b"\x00\x01"], protocol.UNSUPPORTED, "config message first"),
    (['{"sample_rate": 16000, "format": "mp3"}'], protocol.POLICY, "format"),
    (['{"sample_rate": 4000}'], protocol.POLICY, "sample_rate"),
    (['{"sample_rate": 16000, "format": "s16le"}', b"\x00\x01\x02"], protocol.INVALID_DATA, "whole number"),
    (['{"sample_rate": 16000}', "hello"], protocol.UNSUPPORTED, "audio must be binary"),
    (['{"sample_rate": 16000}', '{"pause": true}'], protocol.UNSUPPORTED, "eof"),
    (['{"sample_rate": 16000}', b"\x00" * 70000], protocol.TOO_BIG, "over the limit"),
    (['{"sample_rate": 16000}', np.full(1600, 9.0, "<f4").tobytes()], protocol.INVALID_DATA, "[-1, 1]"),
    (['{"sample_rate": 16000}'], protocol.POLICY, "no message for 2 s"),    # idle
])
def test_bad_client_gets_one_error_and_a_close_code(server, messages, code, words):
    s = run(raw_session(server.url, messages))
    assert s.code == code, (s.code, s.reason, s.events)
    assert [e["type"] for e in s.events] == ["error"], s.events
    assert words in s.events[0]["error"] and s.reason
    assert "Traceback" not in s.events[0]["error"]


def test_empty_input_is_an_error_event_not_an_utterance(server):
    s = run(raw_session(server.url, ['{"sample_rate": 16000}', '{"eof": true}']))
    assert [e["type"] for e in s.events] == ["error"] and "no samples" in s.events[0]["error"]


def test_http_routes(server):
    assert server.http("/healthz") == (200, "ok\n")
    status, text = server.http("/metrics")
    assert status == 200
    for name in ("active_streams", "ticks_total", 'tick_seconds{quantile="0.99"}', "refused_connections_total",
                 "bytes_in_total", "events_out_total"):
        assert f"realtime_ser_{name} " in text
    status, page = server.http("/")
    assert status == 200 and "<html" in page.lower()
    assert server.http("/worklet.js")[0] == 200 and server.http("/app.js")[0] == 200
    assert server.http("/nope")[0] == 404


def test_client_cli_gives_the_stream_cli_decisions(server, emodb_wavs):
    files = [str(SAMPLE)] + [str(p) for p in emodb_wavs[:3]]

    def lines(cmd):
        proc = subprocess.run([sys.executable, "-m", *cmd, *files], cwd=ROOT, env=ENV, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return [plain(json.loads(line)) for line in proc.stdout.splitlines()]

    via_server = lines(["realtime_ser.client", "--url", server.url])
    direct = lines(["realtime_ser.stream", "--quiet"])
    decisions = lambda events: [e for e in events if e["type"] in ("segment", "utterance")]  # noqa: E731
    assert len([e for e in direct if e["type"] == "utterance"]) == len(files)
    assert decisions(via_server) == decisions(direct)


def test_client_cli_unreachable_server_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "realtime_ser.client", str(SAMPLE), "--url", "ws://127.0.0.1:9/ws"],
                          cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "cannot reach" in proc.stderr


def test_bad_server_options_are_one_line():
    proc = subprocess.run([sys.executable, "-m", "realtime_ser.serve", "--model", "/nonexistent"], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


SERVE_WITHOUT_TORCH = """
import asyncio, os, signal, sys
import numpy as np
from realtime_ser import serve
from realtime_ser.engine import Engine
from serve_common import SAMPLE, load_16k, stream_samples

config = serve.ServerConfig(port=0)
server = serve.Server(config, Engine(config.engine))
seen = {}

def ready(port):
    async def go():
        s = await stream_samples(f"ws://127.0.0.1:{port}/ws", load_16k(SAMPLE)[:48000])
        seen["types"] = [e["type"] for e in s.events]
        os.kill(os.getpid(), signal.SIGTERM)
    asyncio.get_running_loop().create_task(go())

assert asyncio.run(server.run(ready)) == 0
assert seen["types"][-1] == "utterance", seen
print(*(m in sys.modules for m in ("torch", "numba", "llvmlite", "training")))
"""


def test_live_serving_imports_neither_torch_nor_numba():
    env = dict(ENV, PYTHONPATH=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", SERVE_WITHOUT_TORCH], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False"] * 4


@pytest.mark.parametrize("threads", ["1", "2"])
def test_one_or_two_native_threads_give_the_same_events(speech, threads):
    x, ref = speech
    server = ServerProcess("--threads", threads)
    try:
        async def four():
            import asyncio

            return await asyncio.gather(*[stream_samples(server.url, x, pace=0.01) for _ in range(4)])

        for s in run(four()):
            assert s.code == protocol.NORMAL and [plain(e) for e in s.events] == ref
    finally:
        assert server.stop() == 0


def test_engine_option_sets_are_limited_and_unused_ones_make_room(speech):
    import asyncio

    x, _ = speech
    server = ServerProcess("--max-engines", "2")
    try:
        async def scenario():
            first = await stream_samples(server.url, x[:8000], config={"chunk_ms": 200})  # a second engine
            second = await stream_samples(server.url, x[:8000], config={"chunk_ms": 300})  # replaces it
            holder = asyncio.create_task(stream_samples(server.url, x, pace=0.1, config={"chunk_ms": 300}))
            await asyncio.sleep(0.5)
            refused = await raw_session(server.url, ['{"sample_rate": 16000, "chunk_ms": 400}'])
            default = await stream_samples(server.url, x[:8000])  # the default engine is always there
            return first, second, await holder, refused, default

        first, second, holder, refused, default = run(scenario())
        for s in (first, second, holder, default):
            assert s.code == protocol.NORMAL and s.of("utterance"), (s.code, s.reason)
        assert second.ready["chunk_ms"] == 300
        assert refused.code == protocol.POLICY and "too many distinct engine option sets" in refused.events[0]["error"]
    finally:
        assert server.stop() == 0
