"""CTC target lengths (WN / PN / 2PN), the too-short policy, and offline g2p."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import numpy as np

from training import phones, targets
from training.corpora import Utterance, load_corpus

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
KIDS = "K IH1 D Z AA1 R T AO1 K IH0 NG B AY1 DH AH0 D AO1 R".split()


@pytest.fixture(scope="module")
def emodb():
    return load_corpus("emodb", CORPORA / "emodb")


@pytest.fixture()
def no_network(monkeypatch):
    """Any nltk.download or socket connection during the test fails it."""
    import socket

    import nltk

    def refuse(*a, **k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(nltk, "download", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_emodb_word_counts(emodb):
    a01 = next(u for u in emodb if u.utt_id == "03a01Fa")
    assert targets.target_length(a01, "wn") == 6
    b03 = next(u for u in emodb if u.utt_id[2:5] == "b03")
    assert targets.target_length(b03, "wn") == 14


def test_emodb_phone_counts(emodb):
    a01 = next(u for u in emodb if u.utt_id == "03a01Fa")
    assert targets.target_length(a01, "pn") == 13
    assert targets.target_length(a01, "pn2") == 26
    more = sum(targets.target_length(u, "pn") > targets.target_length(u, "wn") for u in emodb)
    assert more >= 0.95 * len(emodb)


def test_emodb_unlabelled_fallback(emodb):
    # 08a01Wa's lablaut has a header and no labels: the a01 median is used
    u = next(u for u in emodb if u.utt_id == "08a01Wa")
    a01 = [phones.count_voiced_phones(x.phones_path) for x in emodb if x.utt_id[2:5] == "a01"]
    median = int(np.median([n for n in a01 if n]))
    assert targets.target_length(u, "pn") == targets.EMODB_TEXT_PN["a01"] == median


def test_emodb_text_pn_are_the_lablaut_medians(emodb):
    counts = {}  # over every labelled EmoDB file, all seven emotions
    for f in sorted(emodb[0].phones_path.parent.glob("*.lablaut")):
        n = phones.count_voiced_phones(f)
        if n:
            counts.setdefault(f.name[2:5], []).append(n)
    assert {k: int(np.median(v)) for k, v in counts.items()} == targets.EMODB_TEXT_PN
    nolab = Utterance(Path("x.wav"), "anger", "99", "emodb", "Das ist ein Test.", None,
                      "99z99Wa")
    assert targets.target_length(nolab, "pn") == targets.german_voiced_estimate(nolab.text) > 0


def test_german_voiced_estimate_by_hand():
    """Vowel groups once each, plus b d g l m n r v w j z letters ('ng' once), counted by hand."""
    by_hand = {
        # der 1+2, lappen 2+2, liegt 1+2, auf 1+0, dem 1+2, eisschrank 2+2
        "Der Lappen liegt auf dem Eisschrank.": 18,
        # wegbringen: e i e + w g b r ng n
        "wegbringen": 9,
        # heute: eu e; abend: a e + b n d
        "Heute Abend": 7,
        # ja 1+1, so 1, ist 1, es 1
        "Ja, so ist es.": 5,
        # tüten: ü e + n
        "Tüten": 3,
        "": 0,
    }
    assert {text: targets.german_voiced_estimate(text) for text in by_hand} == by_hand


# PN of EmoDB files of the four classes, pinned (from their lablaut files, counted by the
# hand-written logic in tests/test_phones.py; 03a01Fa checked by hand).
PINNED_PN = {
    "03a01Fa": 13, "03a01Nc": 13, "03a05Nd": 30, "03a07Nc": 17, "03b01Nb": 25, "08a02Fe": 18,
    "08a05Wa": 33, "08a07Fd": 18, "09a05Tb": 30, "10a07Wb": 16, "11a01Nd": 15, "11a05Fc": 32,
    "11b03Wb": 45, "12a01Fb": 14, "12a02Wc": 17, "13a02Nc": 16, "13a02Wa": 17, "13a05Wc": 31,
    "14a02Nc": 16, "14a02Wa": 19, "14a05Tc": 32, "14a07Tc": 18, "14b03Wb": 45, "15a07Nc": 19,
    "16a02Wb": 18, "16a07Fa": 21, "16a07Fb": 20,
}


def test_emodb_pn_pinned(emodb):
    by_id = {u.utt_id: u for u in emodb}
    assert {k: targets.target_length(by_id[k], "pn") for k in PINNED_PN} == PINNED_PN
    assert {k: targets.target_length(by_id[k], "pn2") for k in PINNED_PN} == {k: 2 * v for k, v in PINNED_PN.items()}


def test_english_g2p_offline(no_network):
    from training import g2p

    phones = g2p.phonemes("Kids are talking by the door.")
    assert phones == KIDS
    assert sum(map(g2p.is_voiced, phones)) == 15  # all but K T K
    utt = Utterance(Path("a.wav"), "anger", "01", "ravdess", "Kids are talking by the door")
    assert [targets.target_length(utt, k) for k in ("wn", "pn", "pn2")] == [6, 15, 30]


def test_g2p_import_makes_no_download_attempt():
    """A fresh interpreter where nltk.download and sockets raise: import and convert."""
    code = textwrap.dedent("""
        import socket, nltk
        def refuse(*a, **k):
            raise SystemExit("network access attempted")
        nltk.download = refuse
        socket.socket.connect = refuse
        socket.create_connection = refuse
        from training import g2p
        print(" ".join(g2p.phonemes("Dogs are sitting by the door")))
    """)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == "D AA1 G Z AA1 R S IH1 T IH0 NG B AY1 DH AH0 D AO1 R".split()
    assert "nltk_data" not in out.stderr


def test_voicing_table():
    from training import g2p

    assert not any(map(g2p.is_voiced, ["P", "T", "K", "F", "TH", "S", "SH", "CH", "HH"]))
    assert all(map(g2p.is_voiced, ["AA1", "ER0", "UW", "B", "DH", "JH", "NG", "W", "Y"]))


def test_words_strip_punctuation():
    assert targets.words("Was sind denn das für Tüten, die da unter dem Tisch stehen?") == [
        "Was", "sind", "denn", "das", "für", "Tüten", "die", "da", "unter", "dem", "Tisch",
        "stehen"]
    assert targets.word_count("Oh -- I don't know... it's fine!") == 6


def test_errors():
    notext = Utterance(Path("a.wav"), "anger", "x", "manifest", None)
    with pytest.raises(ValueError, match="no text"):
        targets.target_length(notext, "wn")
    with pytest.raises(ValueError, match="unknown target kind"):
        targets.target_length(notext, "syllables")


def test_fit_policy():
    assert targets.ctc_feasible(5, 3) and targets.ctc_feasible(6, 3)
    assert not targets.ctc_feasible(4, 3)
    assert targets.fit_length(100, 30) == 30
    assert targets.fit_length(4, 3) == 2 and targets.fit_length(5, 30) == 3
    assert targets.fit_length(1, 5) == 1
    for t in range(1, 40):
        for k in range(1, 40):
            used = targets.fit_length(t, k)
            assert targets.ctc_feasible(t, used) and used <= k
            assert used == k or not targets.ctc_feasible(t, used + 1)
    used, clamped = targets.fit_lengths([100, 4, 5], [30, 3, 30])
    assert used == [30, 2, 3] and clamped == 2
    with pytest.raises(ValueError):
        targets.fit_length(0, 3)
    assert targets.label_sequence(2, 3) == [2, 2, 2]


def test_ravdess_lengths():
    utts = load_corpus("ravdess", CORPORA / "ravdess-16k")
    lengths = {u.text: tuple(targets.target_length(u, k) for k in ("wn", "pn", "pn2"))
               for u in utts}
    assert lengths == {"Kids are talking by the door": (6, 15, 30),
                       "Dogs are sitting by the door": (6, 16, 32)}
