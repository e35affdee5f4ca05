"""nEMO loader on the real corpus, and the Polish spelling rules behind its PN."""
from collections import Counter

import pytest

from tests.conftest import CORPORA
from training import polish, targets
from training.corpora import load_corpus

NEMO = CORPORA / "nemo-16k"


@pytest.mark.parametrize("word, phones", [
    ("wtorek", "f t o r e k"),        # regressive devoicing: w before t
    ("prośba", "p r o ź b a"),        # regressive voicing: ś before b
    ("także", "t a g ż e"),           # k before ż
    ("kwiat", "k f j a t"),           # w devoiced after k; i before a vowel is j
    ("przy", "p sz y"),               # rz devoiced after p
    ("twój", "t f ó j"),
    ("chleb", "ch l e p"),            # ch one phoneme; final devoicing
    ("grzyb", "g rz y p"),            # rz after a voiced g stays voiced
    ("wszystko", "f sz y s t k o"),
    ("się", "ś ę"),                   # softening i
    ("nie", "ń e"),
    ("dziecko", "dź e c k o"),
    ("mnie", "m ń e"),
    ("pies", "p j e s"),
    ("dwa", "d w a"),
    ("bez", "b e s"),
])
def test_phonemes(word, phones):
    assert polish.phonemes(word) == phones.split()


def test_voiced_count_by_hand():
    # chleb: l e | jest: j e (s t) | dobry: d o b r y  -> 2 + 2 + 5
    assert polish.voiced_count("Chleb jest dobry.") == 9
    # "Mleko jest źródłem wapnia": m l e (k) o | j e | ź r ó d ł e m | w a (p) ń a  (ni + vowel = ń)
    assert polish.voiced_count("Mleko jest źródłem wapnia") == 4 + 2 + 7 + 4
    assert polish.voiced_count("„Tak”, 123!") == 1


def test_nemo_loader_real():
    utts = load_corpus("nemo", NEMO)
    assert len(utts) == 3076
    assert Counter(u.label for u in utts) == {"anger": 749, "happiness": 749, "neutral": 809, "sadness": 769}
    per_speaker = Counter(u.speaker for u in utts)
    assert set(per_speaker) == {"EB0", "IC0", "KD0", "KS0", "MK0", "MP0", "SM0", "TP0", "WR0"}
    assert per_speaker["MP0"] == 198
    u = next(u for u in utts if u.utt_id == "EB0_neutral_13")
    assert u.text == "interesuje mnie historia polski" and u.corpus == "nemo" and u.path.suffix == ".flac"
    assert all(u.path.is_file() and u.text for u in utts)


def test_nemo_targets():
    u = next(u for u in load_corpus("nemo", NEMO) if u.utt_id == "EB0_neutral_13")
    assert targets.target_length(u, "wn") == 4
    # interesuje: i n t e r e s u j e -> i n e r e u j e = 8; mnie 3; historia: (h) i (s t) o r j a = 5;
    # polski: (p) o l (s k) i = 3
    assert targets.target_length(u, "pn") == 8 + 3 + 5 + 3
    assert targets.target_length(u, "pn2") == 2 * 19
