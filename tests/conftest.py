import signal
from pathlib import Path

import pytest

# A suite started in the background (`cmd &` in a script) inherits SIGINT ignored, and so would
# every CLI the tests spawn: the Ctrl-C tests could then not interrupt them. Take it back.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
EMODB = CORPORA / "emodb"
RAVDESS = CORPORA / "ravdess-16k"


@pytest.fixture(scope="session")
def emodb_wavs():
    wavs = sorted((EMODB / "wav").glob("*.wav"))
    if not wavs:
        pytest.fail(f"EmoDB not found at {EMODB}: the shared corpora must sit beside the repo")
    return wavs
