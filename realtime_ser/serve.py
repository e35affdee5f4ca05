"""WebSocket server: many clients, one Engine, one batched decode loop.

    python -m realtime_ser.serve [--host 127.0.0.1] [--port 8000] [--model DIR] [--max-streams 200]
        [--chunk-ms 100] [--right-context-ms MS] [--endpoint-ms 500] [--threads N] [--tick-ms 20]
        [--max-message-bytes 1048576] [--max-pending-bytes 4194304] [--idle-timeout-s 30]
        [--max-queued-events 256] [--max-engines 4] [--shutdown-timeout-s 10]

ws://HOST:PORT/ws speaks realtime_ser.protocol; HTTP on the same port: /healthz, /metrics
(Prometheus text) and / (the browser microphone page, realtime_ser/web).

Micro-batching: received audio waits in its connection; every tick (at most one per
--tick-ms) the worker thread feeds every waiting stream its audio, then runs one
engine.decode() over all ready streams of each engine (spread over the engine's --threads
native threads, without the GIL), and turns their events into JSON.
The event loop only moves bytes, so it never blocks on the model. A stream is touched only
by the worker thread. A client that sends faster than the worker decodes is not read from
while it has more than max_pending_bytes waiting (TCP backpressure), so memory stays bounded.

Each client's events wait in a bounded queue (--max-queued-events). When it is full, a
partial, posteriors or spike event is dropped (the oldest of those, partials first);
segments, utterances and errors are never dropped: when the queue is full of them the
client is too slow and is closed (1008).

SIGTERM / SIGINT: stop accepting, finish every open stream with what it has (its last
segment and utterance), close them with 1001, exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from importlib import resources

import numpy as np
from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response

from realtime_ser import protocol
from realtime_ser.engine import Engine, EngineConfig
from realtime_ser.model import ModelError
from realtime_ser.protocol import ProtocolError, StreamConfig
from realtime_ser.stream import EXIT_USAGE, Parser, add_engine_options

PROG = "python -m realtime_ser.serve"
DROPPABLE = ("partial", "posteriors", "spike")   # in the order they are dropped
WEB_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
             "/index.html": ("index.html", "text/html; charset=utf-8"),
             "/app.js": ("app.js", "text/javascript; charset=utf-8"),
             "/worklet.js": ("worklet.js", "text/javascript; charset=utf-8")}


@dataclass
class ServerConfig:
    """Server settings; `engine` holds the defaults a client may override."""

    host: str = "127.0.0.1"
    port: int = 8000                       # 0 = any free port (printed at start)
    max_streams: int = 200                 # open WebSocket streams; one more is refused (1013)
    max_message_bytes: int = 1 << 20       # a bigger message is refused (1009)
    max_pending_bytes: int = 4 << 20       # audio waiting for the decoder; beyond it, reading pauses
    idle_timeout_s: float = 30.0           # no message for this long: closed (1008)
    max_queued_events: int = 256           # per client, see the module doc
    tick_ms: int = 20                      # decode at most once per tick
    max_engines: int = 4                   # distinct engine option sets in use at once
    shutdown_timeout_s: float = 10.0       # SIGTERM: time to finish open streams
    engine: EngineConfig = field(default_factory=EngineConfig)

    def validate(self) -> None:
        """ValueError naming the first bad setting."""
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0 to 65535, got {self.port}")
        for name, low, high in (("max_streams", 1, 100000), ("max_message_bytes", 1024, 1 << 30),
                                ("max_pending_bytes", 1024, 1 << 32),
                                ("max_queued_events", 8, 1 << 20), ("tick_ms", 1, 1000), ("max_engines", 1, 64)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be {low} to {high}, got {value}")
        for name in ("idle_timeout_s", "shutdown_timeout_s"):
            if not 0 < getattr(self, name) <= 86400:
                raise ValueError(f"{name} must be above 0 and at most 86400 s, got {getattr(self, name)}")
        self.engine.validate()

    def __str__(self) -> str:
        own = " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self) if f.name != "engine")
        return f"{own} engine: {self.engine}"


class Metrics:
    """Counters for /metrics; tick times over the last 1000 ticks."""

    def __init__(self) -> None:
        self.connections = self.refused = self.bytes_in = 0
        self.events_out = self.events_dropped = self.errors = self.ticks = 0
        self.tick_s: deque[float] = deque(maxlen=1000)

    def prometheus(self, active: int) -> str:
        ticks = np.asarray(self.tick_s) if self.tick_s else np.zeros(1)
        p50, p99 = np.percentile(ticks, [50, 99])
        rows = [("active_streams", "gauge", "open WebSocket streams", active),
                ("connections_total", "counter", "WebSocket connections accepted or refused", self.connections),
                ("refused_connections_total", "counter", "connections refused (server full or stopping)", self.refused),
                ("bytes_in_total", "counter", "audio bytes received", self.bytes_in),
                ("events_out_total", "counter", "events sent", self.events_out),
                ("events_dropped_total", "counter", "droppable events dropped for slow readers", self.events_dropped),
                ("errors_total", "counter", "error events sent", self.errors),
                ("ticks_total", "counter", "decode ticks", self.ticks)]
        lines = []
        for name, kind, help_text, value in rows:
            lines += [f"# HELP realtime_ser_{name} {help_text}", f"# TYPE realtime_ser_{name} {kind}",
                      f"realtime_ser_{name} {value}"]
        lines += ["# HELP realtime_ser_tick_seconds compute per decode tick (last 1000 ticks)",
                  "# TYPE realtime_ser_tick_seconds summary",
                  f'realtime_ser_tick_seconds{{quantile="0.5"}} {p50:.6f}',
                  f'realtime_ser_tick_seconds{{quantile="0.99"}} {p99:.6f}']
        return "\n".join(lines) + "\n"


class Outbox:
    """A client's bounded queue of JSON texts (see the module doc for what is dropped)."""

    def __init__(self, limit: int, metrics: Metrics) -> None:
        self.items: deque[tuple[str, str]] = deque()
        self.limit, self.metrics = limit, metrics
        self.closed = False
        self.wake = asyncio.Event()

    def put(self, kind: str, text: str, force: bool = False) -> bool:
        """Queue one event; False when it cannot be queued without dropping a kept event."""
        if len(self.items) >= self.limit and not force:
            if kind in DROPPABLE:
                self.metrics.events_dropped += 1
                return True
            if not self._drop_one():
                return False
        self.items.append((kind, text))
        self.wake.set()
        return True

    def _drop_one(self) -> bool:
        for kind in DROPPABLE:
            for i, item in enumerate(self.items):
                if item[0] == kind:
                    del self.items[i]
                    self.metrics.events_dropped += 1
                    return True
        return False

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def get(self) -> str | None:
        """The next text, or None once closed and empty."""
        while not self.items:
            if self.closed:
                return None
            self.wake.clear()
            await self.wake.wait()
        return self.items.popleft()[1]


class Connection:
    """One client: its stream (touched only by the worker thread), audio waiting, events queued."""

    def __init__(self, stream_id: str, ws, outbox: Outbox) -> None:
        self.id, self.ws, self.outbox = stream_id, ws, outbox
        self.config: StreamConfig | None = None
        self.stream = None
        self.pending: list[np.ndarray] = []
        self.pending_bytes = 0
        self.room = asyncio.Event()   # set while more audio may be read
        self.eof = False            # the client (or shutdown) ended the input
        self.eof_given = False      # the worker has been told
        self.done = asyncio.Event()     # no more events will come
        self.interrupt = asyncio.Event()  # stop reading: failed or shutting down
        self.close_code, self.close_reason = protocol.NORMAL, "utterance sent"
        self.lost = False           # the client went away

    @property
    def source(self) -> str:
        return (self.config.source if self.config and self.config.source else None) or f"stream-{self.id}"

    def has_work(self) -> bool:
        return bool(self.pending) or (self.eof and not self.eof_given)

    def take_work(self) -> tuple[list[np.ndarray], bool]:
        blocks, self.pending, self.pending_bytes = self.pending, [], 0
        self.room.set()
        finish = self.eof and not self.eof_given
        self.eof_given |= finish
        return blocks, finish

    def fail(self, message: str, code: int) -> None:
        """Queue one error event (never dropped) and end the stream with close code `code`."""
        if self.done.is_set():
            return
        self.outbox.metrics.errors += 1
        self.outbox.put("error", protocol.error_event(self.id, self.source, message), force=True)
        self.close_code, self.close_reason = code, _reason(message)
        self.done.set()
        self.interrupt.set()
        self.room.set()


def _reason(message: str) -> str:
    """A close reason fits in 123 bytes."""
    data = message.encode("utf-8")[:120]
    return data.decode("utf-8", "ignore")


@dataclass
class Result:
    """What one tick did to one connection."""

    conn: Connection
    events: list[tuple[str, str]]
    final: bool = False
    error: tuple[str, int] | None = None


def feed_and_decode(work: list[tuple[Connection, list[np.ndarray], bool]]) -> list[Result]:
    """Worker thread: audio into each stream, one batched decode per engine, events as JSON."""
    results, by_engine = [], {}
    for conn, blocks, finish in work:
        result = Result(conn, [], final=finish)
        results.append(result)
        try:
            for block in blocks:
                conn.stream.accept_waveform(conn.config.sample_rate, block)
            if finish:
                conn.stream.input_finished()
        except ValueError as err:  # AudioError included: bad samples
            result.error = (_one_line(err), protocol.INVALID_DATA)
            continue
        by_engine.setdefault(id(conn.stream.engine), []).append(result)
    for group in by_engine.values():
        _decode_group(group)
    for result in results:
        if result.error is None:
            result.events = _events_json(result.conn)
    return results


def _decode_group(group: list[Result]) -> None:
    """One batched decode; if it fails, each stream alone, so one bad stream fails alone."""
    engine = group[0].conn.stream.engine
    streams = [r.conn.stream for r in group]
    try:
        engine.decode(engine.ready(streams))
        return
    except Exception:  # noqa: BLE001 - isolate the stream that failed
        pass
    for r in group:
        try:
            if r.conn.stream.is_ready():
                engine.decode([r.conn.stream])
        except Exception as err:  # noqa: BLE001 - one line for this client only
            r.error = (f"{r.conn.source}: engine failed ({type(err).__name__}: {_one_line(err)})",
                       protocol.INTERNAL)


def _events_json(conn: Connection) -> list[tuple[str, str]]:
    timing = bool(conn.config.latency)
    out = []
    for event in conn.stream.events():
        data = event.to_dict(timing)
        data["stream"] = conn.id
        try:
            text = json.dumps(data, ensure_ascii=False, allow_nan=False)
        except ValueError:
            data = {"type": "error", "source": conn.source, "error": f"{conn.source}: {event.type} event "
                    "holds NaN or infinite values", "stream": conn.id}
            text = json.dumps(data)
        out.append((data["type"], text))
    return out


class Engines:
    """One Engine per distinct option set (the default one made at start-up), at most max_engines.

    When full, an engine that no open stream uses is dropped to make room; the default stays.
    """

    def __init__(self, default: Engine, limit: int, executor, in_use) -> None:
        self.default_key = _key(default.config)
        self.by_key = {self.default_key: default}
        self.limit, self.executor = limit, executor
        self.in_use = in_use        # () -> ids of the engines open streams use
        self.lock = asyncio.Lock()

    async def get(self, config: EngineConfig) -> Engine:
        key = _key(config)
        async with self.lock:
            if key not in self.by_key:
                self._make_room()
                loop = asyncio.get_running_loop()
                self.by_key[key] = await loop.run_in_executor(self.executor, Engine, config)
            return self.by_key[key]

    def _make_room(self) -> None:
        if len(self.by_key) < self.limit:
            return
        used = self.in_use()
        for key, engine in list(self.by_key.items()):
            if key != self.default_key and id(engine) not in used:
                del self.by_key[key]
                return
        raise ProtocolError(f"too many distinct engine option sets in use (at most {self.limit}); "
                            "leave chunk_ms/right_context_ms/endpoint_ms/partials/posteriors/spikes "
                            "unset to use the server's")


def _key(c: EngineConfig) -> tuple:
    return (c.chunk_ms, c.right_context_ms, c.endpoint_ms, c.max_segment_ms, c.partials, c.posteriors, c.spikes,
            c.segments)


class Interrupted(Exception):
    """The connection was told to stop reading (failed, or the server is stopping)."""


class IdleTimeout(Exception):
    """No message within idle_timeout_s."""


class Server:
    """The WebSocket server, its decode loop and its HTTP routes."""

    def __init__(self, config: ServerConfig, engine: Engine) -> None:
        self.config = config
        self.metrics = Metrics()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="decode")  # the worker thread
        self.engines = Engines(engine, config.max_engines, self.executor, self._engines_in_use)
        self.conns: dict[str, Connection] = {}      # open connections, streaming or not
        self.handlers: set[asyncio.Task] = set()
        self.next_id = 0
        self.stopping = False
        self.wake: asyncio.Event | None = None
        self.web = {path: (_web_file(name), kind) for path, (name, kind) in WEB_FILES.items()}

    def _engines_in_use(self) -> set[int]:
        return {id(c.stream.engine) for c in self.conns.values() if c.stream is not None}

    # ------------------------------------------------------------ lifecycle

    async def run(self, ready=None) -> int:
        """Serve until SIGTERM/SIGINT; 0 after a graceful shutdown."""
        loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        hard_cap = 4 * self.config.max_message_bytes  # beyond this, refused unread (1009, no event)
        async with serve(self._handle, self.config.host, self.config.port, process_request=self._http,
                         max_size=hard_cap, max_queue=4, compression=None, close_timeout=2, ping_interval=20,
                         ping_timeout=20) as server:
            decoder = asyncio.create_task(self._decode_loop())
            port = server.sockets[0].getsockname()[1]
            print(f"{PROG}: listening on ws://{self.config.host}:{port}/ws ({self.config})",
                  file=sys.stderr, flush=True)
            if ready is not None:
                ready(port)
            await stop.wait()
            print(f"{PROG}: shutting down ({len(self.conns)} open streams)", file=sys.stderr, flush=True)
            await self._shutdown(server)
            decoder.cancel()
        self.executor.shutdown(wait=True)
        print(f"{PROG}: stopped", file=sys.stderr, flush=True)
        return 0

    async def _shutdown(self, server) -> None:
        self.stopping = True
        server.close(close_connections=False)   # stop listening; open streams go on
        for conn in list(self.conns.values()):
            conn.interrupt.set()
        self.wake.set()
        if self.handlers:
            await asyncio.wait(set(self.handlers), timeout=self.config.shutdown_timeout_s)

    # ------------------------------------------------------------ decode loop

    async def _decode_loop(self) -> None:
        loop = asyncio.get_running_loop()
        tick = self.config.tick_ms / 1000.0
        while True:
            await self.wake.wait()
            self.wake.clear()
            start = time.monotonic()
            work = [(c, *c.take_work()) for c in self.conns.values() if c.stream is not None and c.has_work()]
            if work:
                try:
                    results = await loop.run_in_executor(self.executor, feed_and_decode, work)
                    self.metrics.ticks += 1
                    self.metrics.tick_s.append(time.monotonic() - start)
                    self._dispatch(results)
                except Exception as err:  # noqa: BLE001 - fail this tick's streams, keep serving
                    print(f"{PROG}: decode tick failed: {type(err).__name__}: {_one_line(err)}", file=sys.stderr)
                    for conn, _, _ in work:
                        conn.fail(f"{conn.source}: internal error ({type(err).__name__})", protocol.INTERNAL)
            await asyncio.sleep(max(0.0, start + tick - time.monotonic()))

    def _dispatch(self, results: list[Result]) -> None:
        for r in results:
            conn = r.conn
            if conn.done.is_set() or self.conns.get(conn.id) is not conn:
                continue  # gone, or failed meanwhile: its events are dropped with it
            if r.error is not None:
                conn.fail(*r.error)
                continue
            for kind, text in r.events:
                if not conn.outbox.put(kind, text):
                    conn.fail(f"{conn.source}: slow reader: {self.config.max_queued_events} events "
                              "queued and none can be dropped", protocol.POLICY)
                    break
            if r.final and not conn.done.is_set():
                conn.done.set()
                conn.interrupt.set()

    # ------------------------------------------------------------ one connection

    async def _handle(self, ws) -> None:
        self.next_id += 1
        conn = Connection(str(self.next_id), ws, Outbox(self.config.max_queued_events, self.metrics))
        self.metrics.connections += 1
        if self.stopping or len(self.conns) >= self.config.max_streams:
            self.metrics.refused += 1
            why = "server is shutting down" if self.stopping else \
                f"server is full ({self.config.max_streams} streams)"
            await self._refuse(conn, why, protocol.GOING_AWAY if self.stopping else protocol.TRY_LATER)
            return
        task = asyncio.current_task()
        self.conns[conn.id] = conn
        self.handlers.add(task)
        try:
            await self._serve(conn)
        except Exception as err:  # noqa: BLE001 - one line, and this client only
            print(f"{PROG}: stream {conn.id}: {type(err).__name__}: {_one_line(err)}", file=sys.stderr)
        finally:
            self.conns.pop(conn.id, None)  # frees the stream
            self.handlers.discard(task)

    async def _refuse(self, conn: Connection, why: str, code: int) -> None:
        self.metrics.errors += 1
        try:
            await conn.ws.send(protocol.error_event(conn.id, conn.source, why))
            await conn.ws.close(code, _reason(why))
        except ConnectionClosed:
            pass

    async def _serve(self, conn: Connection) -> None:
        sender = asyncio.create_task(self._send_loop(conn))
        try:
            if await self._start(conn):
                await self._read_audio(conn)
            await conn.done.wait()
        finally:
            conn.outbox.close()
        if conn.lost:
            sender.cancel()
            return
        try:
            await asyncio.wait_for(sender, self.config.shutdown_timeout_s)
        except asyncio.TimeoutError:
            pass  # the reader does not read: close without the rest
        await conn.ws.close(conn.close_code, conn.close_reason)

    async def _start(self, conn: Connection) -> bool:
        """Config message -> stream; False after a failure (already queued)."""
        try:
            message = await self._recv(conn)
            conn.config = StreamConfig.from_message(message)
            engine = await self.engines.get(conn.config.engine_config(self.config.engine))
        except ProtocolError as err:
            conn.fail(f"{conn.source}: {err}", err.code)
            return False
        except (Interrupted, IdleTimeout, ConnectionClosed) as err:
            self._stop_reading(conn, err)
            return False
        conn.stream = engine.create_stream(conn.source)
        ready = {"type": "ready", "stream": conn.id, "source": conn.source, "engine": str(engine.config),
                 "labels": engine.labels, "chunk_ms": engine.config.chunk_ms,
                 "right_context_ms": engine.right_context_frames * 10,
                 "endpoint_ms": engine.config.endpoint_ms}
        conn.outbox.put("ready", json.dumps(ready, ensure_ascii=False), force=True)
        return True

    async def _read_audio(self, conn: Connection) -> None:
        while True:
            try:
                message = await self._recv(conn)
                if isinstance(message, str):
                    if protocol.is_eof(message):
                        break
                    continue
                block = conn.config.samples(message)
            except ProtocolError as err:
                conn.fail(f"{conn.source}: {err}", err.code)
                return
            except (Interrupted, IdleTimeout, ConnectionClosed) as err:
                self._stop_reading(conn, err)
                return
            self.metrics.bytes_in += len(message)
            if len(block):
                conn.pending.append(block)
                conn.pending_bytes += len(message)
                self.wake.set()
            if conn.pending_bytes > self.config.max_pending_bytes:
                conn.room.clear()  # backpressure: read no more until the worker took it
                await conn.room.wait()
        conn.eof = True
        self.wake.set()

    def _stop_reading(self, conn: Connection, err: Exception) -> None:
        """Interrupted (shutdown or failure), idle, or the client went away."""
        if isinstance(err, ConnectionClosed):
            conn.lost = True
            conn.done.set()
        elif isinstance(err, IdleTimeout):
            conn.fail(f"{conn.source}: no message for {self.config.idle_timeout_s:g} s", protocol.POLICY)
        elif conn.done.is_set():
            return  # failed: the error is queued
        elif conn.stream is None:
            conn.fail(f"{conn.source}: server is shutting down", protocol.GOING_AWAY)
        else:  # shutting down: finish with what it has
            conn.close_code, conn.close_reason = protocol.GOING_AWAY, "server shutting down"
            conn.eof = True
            self.wake.set()

    async def _recv(self, conn: Connection):
        """The next message; Interrupted, IdleTimeout, ConnectionClosed or ProtocolError (too big)."""
        if conn.interrupt.is_set():
            raise Interrupted()
        recv = asyncio.ensure_future(conn.ws.recv())
        stop = asyncio.ensure_future(conn.interrupt.wait())
        done, _ = await asyncio.wait({recv, stop}, timeout=self.config.idle_timeout_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if recv not in done:
            recv.cancel()
            recv.add_done_callback(_retrieve)  # it may have failed meanwhile: no "never retrieved" log
            raise Interrupted() if stop in done else IdleTimeout()
        message = recv.result()
        if len(message) > self.config.max_message_bytes:
            raise ProtocolError(f"message of {len(message)} bytes is over the limit of "
                                f"{self.config.max_message_bytes}", protocol.TOO_BIG)
        return message

    async def _send_loop(self, conn: Connection) -> None:
        try:
            while (text := await conn.outbox.get()) is not None:
                await conn.ws.send(text)
                self.metrics.events_out += 1
        except ConnectionClosed:
            conn.lost = True
            conn.done.set()
            conn.interrupt.set()

    # ------------------------------------------------------------ HTTP

    def _http(self, connection, request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            if self.stopping:
                return connection.respond(503, "server is shutting down\n")
            return None
        if path == "/healthz":
            return connection.respond(503, "shutting down\n") if self.stopping else connection.respond(200, "ok\n")
        if path == "/metrics":
            return _response(200, self.metrics.prometheus(len(self.conns)), "text/plain; version=0.0.4")
        if path in self.web:
            body, kind = self.web[path]
            return _response(200, body, kind)
        return connection.respond(404, f"not found: {path} (try /ws, /healthz, /metrics or /)\n")


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


def _response(status: int, body: str, content_type: str) -> Response:
    data = body.encode("utf-8")
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(data))),
                       ("Cache-Control", "no-store"), ("Connection", "close")])
    return Response(status, "OK" if status == 200 else "Error", headers, data)


def _web_file(name: str) -> str:
    return resources.files("realtime_ser").joinpath("web", name).read_text(encoding="utf-8")


def _one_line(err: object) -> str:
    return " ".join(str(err).split()) or type(err).__name__


# ------------------------------------------------------------ command line

def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog=PROG, description="Real-time speech emotion recognition over WebSocket "
               "(ws://HOST:PORT/ws; /healthz, /metrics, / on the same port).")
    d = ServerConfig()
    p.add_argument("--host", default=d.host, help=f"address to listen on (default {d.host})")
    p.add_argument("--port", type=int, default=d.port, help=f"port (default {d.port}; 0 = any free port)")
    add_engine_options(p)
    p.add_argument("--partials", action="store_true", help="send partials unless a client says otherwise")
    p.add_argument("--max-streams", type=int, default=d.max_streams, help=f"open streams (default {d.max_streams})")
    p.add_argument("--max-message-bytes", type=int, default=d.max_message_bytes,
                   help=f"largest message (default {d.max_message_bytes})")
    p.add_argument("--max-pending-bytes", type=int, default=d.max_pending_bytes,
                   help=f"audio waiting per client before reading pauses (default {d.max_pending_bytes})")
    p.add_argument("--idle-timeout-s", type=float, default=d.idle_timeout_s,
                   help=f"close a client silent this long (default {d.idle_timeout_s:g})")
    p.add_argument("--max-queued-events", type=int, default=d.max_queued_events,
                   help=f"events queued per client (default {d.max_queued_events})")
    p.add_argument("--tick-ms", type=int, default=d.tick_ms, help=f"decode tick (default {d.tick_ms} ms)")
    p.add_argument("--max-engines", type=int, default=d.max_engines,
                   help=f"distinct client engine option sets (default {d.max_engines})")
    p.add_argument("--shutdown-timeout-s", type=float, default=d.shutdown_timeout_s,
                   help=f"time to finish open streams on SIGTERM (default {d.shutdown_timeout_s:g})")
    return p.parse_args(argv)


def config_from_args(args) -> ServerConfig:
    engine = EngineConfig.from_args(args)
    return ServerConfig(host=args.host, port=args.port, max_streams=args.max_streams,
                        max_message_bytes=args.max_message_bytes, max_pending_bytes=args.max_pending_bytes,
                        idle_timeout_s=args.idle_timeout_s,
                        max_queued_events=args.max_queued_events, tick_ms=args.tick_ms,
                        max_engines=args.max_engines, shutdown_timeout_s=args.shutdown_timeout_s, engine=engine)


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # our own one-line messages instead
    try:
        config = config_from_args(args)
        config.validate()
        engine = Engine(config.engine)
    except (ModelError, ValueError, OSError) as err:
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        status = asyncio.run(Server(config, engine).run())
    except OSError as err:  # e.g. the port is taken
        print(f"{PROG}: error: {_one_line(err)}", file=sys.stderr)
        return EXIT_USAGE
    for sig in (signal.SIGTERM, signal.SIGINT):  # a second signal while exiting changes nothing
        signal.signal(sig, signal.SIG_IGN)
    return status


__all__ = ["Server", "ServerConfig", "Metrics", "Outbox", "feed_and_decode", "main"]

if __name__ == "__main__":
    sys.exit(main())
