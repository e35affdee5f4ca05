"""The browser microphone page in a real headless Chromium, with an EmoDB WAV as its microphone.

Needs Debian's chromium and chromium-driver (.ci/run installs them): without them this FAILS.
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
import soundfile as sf

from serve_common import ServerProcess, load_16k

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def fake_microphone(path, wavs) -> float:
    """EmoDB utterances padded with silence (the fake device loses its first ~40 ms); seconds of speech."""
    silence = np.zeros(8000, np.float32)
    parts = [silence]
    for w in wavs:
        parts += [load_16k(w), silence]
    x = np.concatenate(parts + [silence, silence])
    sf.write(path, x, 16000, subtype="PCM_16")
    return len(x) / 16000


def chrome(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for tool in (CHROMIUM, CHROMEDRIVER):
        if not os.access(tool, os.X_OK):
            pytest.fail(f"{tool} not found: apt-get install chromium chromium-driver (.ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required",
                 f"--use-file-for-fake-audio-capture={tmp_path / 'mic.wav'}%noloop", "--window-size=1000,800",
                 f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    env = dict(os.environ, TMPDIR=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_CACHE_HOME=str(tmp_path / "cache"))
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER, env=env))


def test_browser_page_streams_the_microphone_and_shows_events(tmp_path, emodb_wavs):
    seconds = fake_microphone(tmp_path / "mic.wav", emodb_wavs[:2])
    server = ServerProcess("--idle-timeout-s", "20")
    driver = None
    try:
        driver = chrome(tmp_path)
        driver.get(f"http://127.0.0.1:{server.port}/?autostart=1&seconds={seconds - 0.5:.1f}")
        state = None
        for _ in range(600):  # until the utterance, an error or the close (a bound, not a measurement)
            state = driver.execute_script("return window.serState")
            if state and (state["utterance"] or state["error"] or state["closed"]):
                break
            time.sleep(0.1)
        shot = tmp_path / "browser.png"
        driver.save_screenshot(str(shot))
        print(f"screenshot: {shot}")
        assert state["error"] is None, state["error"]
        assert state["maxLevel"] > 0.001, "the fake microphone delivered silence (wrong file path?)"
        assert state["counts"].get("segment", 0) >= 1, state["counts"]
        assert state["counts"].get("utterance") == 1, state["counts"]
        assert state["utterance"]["emotion"] in ("anger", "happiness", "neutral", "sadness")
        assert state["latencies"], "no latency measured"
        assert state["rate"] in (44100, 48000, 16000)
        assert shot.stat().st_size > 10000
    finally:
        if driver is not None:
            driver.quit()
        assert server.stop() == 0, server.stderr()
