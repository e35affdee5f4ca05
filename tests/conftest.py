from pathlib import Path

import pytest

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
