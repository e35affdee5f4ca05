"""nginx (least_conn) in front of two servers: connections spread, a stopped backend's clients are
closed cleanly (SIGTERM) or at once (SIGKILL), the other backend's streams go on untouched, new
connections go to the survivor.

Needs Debian's nginx (.ci/run installs it): without it this FAILS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time

import numpy as np
import pytest

from realtime_ser import protocol
from serve_common import ServerProcess, load_16k, plain, reference_events, run, stream_samples

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONF = """
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log {dir}/access.log;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream realtime_ser {{
    least_conn;
    server 127.0.0.1:{a};
    server 127.0.0.1:{b};
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://realtime_ser;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_buffering off;
    }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nginx:
    def __init__(self, folder, a: int, b: int) -> None:
        if not os.access(NGINX, os.X_OK):
            pytest.fail(f"{NGINX} not found: apt-get install nginx (.ci/run does)")
        self.dir = folder
        self.port = free_port()
        conf = folder / "nginx.conf"
        conf.write_text(CONF.format(dir=folder, a=a, b=b, port=self.port))
        self.proc = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"nginx did not start: {self.proc.stderr.read()}")

    def stop(self) -> None:
        subprocess.run([NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-s", "quit"],
                       capture_output=True)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_nginx_spreads_streams_and_survives_a_backend(tmp_path, emodb_wavs, sig):
    """SIGTERM: a's clients get their utterance and 1001. SIGKILL: they see 1006 (no close frame can
    come from a dead process) and end at once. Either way b's streams are untouched."""
    x = np.concatenate([load_16k(p) for p in emodb_wavs[:2]])
    ref = reference_events(x)
    a, b = ServerProcess(), ServerProcess()
    lb = Nginx(tmp_path, a.port, b.port)
    url = f"ws://127.0.0.1:{lb.port}/ws"
    try:
        async def scenario():
            clients = []
            for _ in range(6):
                clients.append(asyncio.create_task(stream_samples(url, x, pace=0.1)))
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
            spread = (a.metric("active_streams"), b.metric("active_streams"))
            a.proc.send_signal(getattr(signal, sig))
            a.proc.wait(timeout=30)
            late = [asyncio.create_task(stream_samples(url, x[:32000])) for _ in range(2)]
            return spread, [await c for c in clients], [await c for c in late]

        spread, sessions, late = run(scenario())
        assert spread == (3, 3), spread
        lost_code = protocol.GOING_AWAY if sig == "SIGTERM" else 1006
        on_a = [s for s in sessions if s.code == lost_code]
        on_b = [s for s in sessions if s.code != lost_code]
        assert len(on_a) == 3 and len(on_b) == 3, [s.code for s in sessions]
        for s in on_a:
            if sig == "SIGTERM":  # a clean close: the utterance of what it had, then 1001
                assert s.of("utterance") and s.events[-1]["type"] == "utterance"
            else:
                assert not s.of("utterance")
        for s in on_b:  # untouched
            assert s.code == protocol.NORMAL and [plain(e) for e in s.events] == ref
        for s in late:  # the survivor takes new connections
            assert s.code == protocol.NORMAL and len(s.of("utterance")) == 1
        assert b.metric("connections_total") == 5
        assert a.proc.returncode == (0 if sig == "SIGTERM" else -signal.SIGKILL)
    finally:
        lb.stop()
        a.stop()
        b.stop()
