"""Polish voiced-phoneme counts from spelling (nEMO's PN).

Polish spelling is close to phonemic. The rules, applied word by word to lower-case text:

1. Letters to phonemes. Digraphs first: ``ch`` (x), ``cz``, ``dz``, ``dź``, ``dż``, ``rz``,
   ``sz`` are one phoneme each; every other letter is one phoneme.
2. Softening ``i``: after ``c s z n dz`` an ``i`` before a vowel only softens the consonant
   (``cie`` = ć e, ``się`` = ś ę, ``zie`` = ź e, ``nie`` = ń e, ``dzie`` = dź e). After any
   other consonant, ``i`` before a vowel is /j/ (``pies`` = p j e s). Everywhere else ``i``
   is the vowel.
3. Classes. Vowels ``a ą e ę i o ó u y`` and sonorants ``l ł m n ń j r`` are voiced and never
   change. Obstruents come in voiced/voiceless pairs: b-p d-t g-k w-f z-s ź-ś ż/rz-sz dz-c
   dź-ć dż-cz, and voiceless ``h``/``ch`` (x).
4. Voicing assimilation inside a word. A run of adjacent obstruents takes the voicing of its
   last member (``wtorek``: w -> f; ``prośba``: ś -> ź; ``także``: k -> g), except that
   ``w`` and ``rz`` after a voiceless obstruent are devoiced and do not voice what precedes
   them (``kwiat`` = k f j a t, ``przy`` = p sz y, ``twój`` = t f u j).
5. Final devoicing: a word-final run of obstruents is voiceless (``chleb`` = x l e p,
   ``grzyb`` = g ʒ y p).

PN counts the voiced phonemes after these rules. Not modelled: voicing across word
boundaries, ``au``/``eu`` diphthongs, loan-word spellings and prepositions fused with the
next word. On nEMO's transcripts PN is 0.68 of the letters (23.6 per utterance).
"""

from __future__ import annotations

import re

VOWELS = frozenset("aąeęioóuy")
SONORANTS = frozenset(["l", "ł", "m", "n", "ń", "j", "r"])
# voiced obstruent -> voiceless partner
DEVOICE = {"b": "p", "d": "t", "g": "k", "w": "f", "z": "s", "ź": "ś", "ż": "sz", "rz": "sz",
           "dz": "c", "dź": "ć", "dż": "cz"}
VOICELESS = frozenset(["p", "t", "k", "f", "s", "ś", "sz", "c", "ć", "cz", "ch", "h"])
VOICE = {v: k for k, v in DEVOICE.items() if k not in ("rz",)}  # voiceless -> voiced (ż for sz)
SOFTENED = {"c": "ć", "s": "ś", "z": "ź", "n": "ń", "dz": "dź"}
DIGRAPHS = ("ch", "cz", "dz", "dź", "dż", "rz", "sz")
_WORD = re.compile(r"[a-ząćęłńóśźż]+")


def split_letters(word: str) -> list[str]:
    """Spelling units of one lower-case word, digraphs as one unit."""
    units, i = [], 0
    while i < len(word):
        pair = word[i:i + 2]
        if pair in DIGRAPHS:
            units.append(pair)
            i += 2
        else:
            units.append(word[i])
            i += 1
    return units


def phonemes(word: str) -> list[str]:
    """The phonemes of one lower-case word (rules 1, 2, 4 and 5)."""
    out: list[str] = []
    units = split_letters(word)
    for k, u in enumerate(units):
        nxt = units[k + 1] if k + 1 < len(units) else ""
        if u == "i" and out and out[-1] not in VOWELS and nxt in VOWELS:
            if out[-1] in SOFTENED:
                out[-1] = SOFTENED[out[-1]]
            else:
                out.append("j")
            continue
        out.append(u)
    return _assimilate(out)


def is_obstruent(p: str) -> bool:
    return p in DEVOICE or p in VOICELESS


def _assimilate(ph: list[str]) -> list[str]:
    """Rules 4 and 5 over every run of adjacent obstruents."""
    out = list(ph)
    i = 0
    while i < len(out):
        j = i
        while j < len(out) and is_obstruent(out[j]):
            j += 1
        if j > i:
            _assimilate_run(out, i, j, final=j == len(out))
        i = max(j, i + 1)
    return out


def _assimilate_run(out: list[str], start: int, stop: int, final: bool) -> None:
    if final:
        out[start:stop] = [_with_voicing(p, False) for p in out[start:stop]]
        return
    voiced = None  # voicing of the nearest trigger to the right
    for k in range(stop - 1, start - 1, -1):
        if out[k] in ("w", "rz") and k > start:
            continue  # w, rz after an obstruent never voice what precedes them
        if voiced is None:
            voiced = out[k] in DEVOICE
        else:
            out[k] = _with_voicing(out[k], voiced)
    for k in range(start + 1, stop):
        if out[k] in ("w", "rz"):
            out[k] = _with_voicing(out[k], out[k - 1] in DEVOICE)


def _with_voicing(p: str, voiced: bool) -> str:
    if voiced:
        return VOICE.get(p, p)
    return DEVOICE.get(p, p)


def is_voiced(p: str) -> bool:
    return p in VOWELS or p in SONORANTS or p in DEVOICE


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def voiced_count(text: str) -> int:
    """PN of a Polish sentence: voiced phonemes over all its words."""
    return sum(is_voiced(p) for w in words(text) for p in phonemes(w))
