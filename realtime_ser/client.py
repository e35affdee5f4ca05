"""Stream audio files to realtime_ser.serve and print its events as JSON Lines.

    python -m realtime_ser.client FILE|DIR ... [--url ws://127.0.0.1:8000/ws] [--realtime]
        [--chunk-ms N] [--right-context-ms N] [--endpoint-ms N] [--partials] [--posteriors]
        [--no-spikes] [--latency] [--block-ms 100]

One connection per file, one after the other. Each file is read in blocks and sent as
16 kHz mono f32le (what the stream CLI feeds its engine); the server's events are printed
as they come (see realtime_ser.protocol; the server's "ready" message is not printed).
Exit status as for realtime_ser.stream: 0 all good, 1 some input failed (an error event,
or the connection was lost: one error line), 2 bad usage or the server cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from realtime_ser.audio import SAMPLE_RATE, AudioError, iter_blocks
from realtime_ser.engine import EngineConfig
from realtime_ser.stream import EXIT_FAILED, EXIT_OK, EXIT_USAGE, OutputClosed, Parser, _expand, _name, discard_stdout
from realtime_ser.timebase import ms_option

PROG = "python -m realtime_ser.client"


def parse_args(argv=None) -> argparse.Namespace:
    p = Parser(prog=PROG, description="Send audio files to a realtime_ser server; print its events.")
    p.add_argument("inputs", nargs="+", metavar="FILE|DIR", help="audio files or directories")
    p.add_argument("--url", default="ws://127.0.0.1:8000/ws", help="server (default ws://127.0.0.1:8000/ws)")
    p.add_argument("--realtime", action="store_true", help="send audio at real-time pace")
    p.add_argument("--block-ms", type=ms_option(10, 10000), default=100, help="audio per message (default 100)")
    p.add_argument("--chunk-ms", type=ms_option(*EngineConfig.range_ms("chunk_ms")), default=None, help="BiLSTM chunk (default: server's)")
    p.add_argument("--right-context-ms", type=ms_option(*EngineConfig.range_ms("right_context_ms")), default=None,
                   help="BiLSTM right context (default: server's)")
    p.add_argument("--endpoint-ms", type=ms_option(*EngineConfig.range_ms("endpoint_ms")), default=None,
                   help="Null run that ends a segment (default: server's)")
    p.add_argument("--partials", action="store_true", help="also print the running decision")
    p.add_argument("--posteriors", action="store_true", help="also print frame posteriors")
    p.add_argument("--no-spikes", action="store_true", help="do not print spike events")
    p.add_argument("--latency", action="store_true", help="add the server's latency_s to every event")
    return p.parse_args(argv)


def stream_config(args, source: str) -> dict:
    """The config message for one file."""
    config = {"sample_rate": SAMPLE_RATE, "format": "f32le", "channels": 1, "source": source}
    for name in ("chunk_ms", "right_context_ms", "endpoint_ms"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    for name in ("partials", "posteriors", "latency"):
        if getattr(args, name):
            config[name] = True
    if args.no_spikes:
        config["spikes"] = False
    return config


def write(line: str) -> None:
    try:
        sys.stdout.buffer.write((line + "\n").encode("utf-8"))
        sys.stdout.buffer.flush()
    except BrokenPipeError:
        raise OutputClosed() from None


def error_line(source: str, message: str) -> str:
    return json.dumps({"type": "error", "source": source, "error": message}, ensure_ascii=False)


async def run_one(url: str, path: str, args) -> bool:
    """Send one file, print its events; False if it failed."""
    source = _name(path)
    try:
        blocks = iter_blocks(path, args.block_ms / 1000.0)
    except AudioError as err:
        write(error_line(source, str(err)))
        return False
    async with connect(url, max_size=None, open_timeout=10) as ws:
        await ws.send(json.dumps(stream_config(args, source)))
        printer = asyncio.create_task(_print_events(ws))
        try:
            await _send_audio(ws, blocks, args.realtime)
        except AudioError as err:
            printer.cancel()
            write(error_line(source, str(err)))
            return False
        except ConnectionClosed:
            pass  # the server closed first: its reason is printed by the printer
        return await printer


async def _send_audio(ws, blocks, realtime: bool) -> None:
    start, sent = time.monotonic(), 0.0
    for block in blocks:
        await ws.send(block.astype("<f4").tobytes())
        sent += len(block) / SAMPLE_RATE
        if realtime:
            await asyncio.sleep(max(0.0, start + sent - time.monotonic()))
        else:
            await asyncio.sleep(0)
    await ws.send(json.dumps({"eof": True}))


async def _print_events(ws) -> bool:
    """Prints every event until the server closes; False on an error event or a lost connection."""
    ok, source = True, "<stream>"
    try:
        async for message in ws:
            event = json.loads(message)
            if event.get("type") == "ready":
                source = event.get("source", source)
                continue
            ok &= event.get("type") != "error"
            write(message)
    except ConnectionClosed:
        pass
    code = ws.close_code
    if code not in (1000, 1001) and ok:
        write(error_line(source, f"{source}: connection closed ({code}: {ws.close_reason or 'no reason'})"))
        ok = False
    return ok


async def run_all(args) -> int:
    failed = False
    for item in _expand(args.inputs):
        if isinstance(item, AudioError):
            write(error_line(item.source, str(item)))
            failed = True
            continue
        failed |= not await run_one(args.url, item, args)
    return EXIT_FAILED if failed else EXIT_OK


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        return asyncio.run(run_all(args))
    except OutputClosed:
        discard_stdout()
        return EXIT_FAILED
    except (OSError, InvalidHandshake, InvalidURI, asyncio.TimeoutError) as err:
        print(f"{PROG}: error: cannot reach {args.url}: {' '.join(str(err).split()) or type(err).__name__}",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
