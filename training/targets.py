"""CTC label-sequence targets: one utterance label y becomes (y, y, ..., y) of length K.

K (Han et al., 2018) is, by ``kind``:
  * ``"wn"``: the number of words of the utterance's text (punctuation stripped);
  * ``"pn"``: the number of voiced phonemes;
  * ``"pn2"``: 2 * PN.

Voiced phonemes:
  * EmoDB (German): counted from the corpus' own phone segmentation (``lablaut``) by
    ``phones.count_voiced_phones`` (a plosive's closure+release+aspiration is one phoneme).
    g2p_en is English-only, so where a file has no usable labels (no lablaut file, or an
    empty one: 08a01Ab and 08a01Wa carry a header and no labels) the fallback is
    ``EMODB_TEXT_PN``, the median lablaut count of that text over all 535 labelled
    EmoDB files (other speakers' readings of the same sentence); for German text outside
    the ten, ``german_voiced_estimate``, a letter heuristic (about 1.3x the lablaut
    counts on EmoDB's texts).
  * Polish (nEMO): ``polish.voiced_count`` of the transcript, from spelling rules
    (documented in training/polish.py).
  * English (RAVDESS, IEMOCAP, manifest): g2p_en ARPAbet phones of the text that are
    voiced (``g2p.is_voiced``).
  An utterance with no text (and no lablaut) has no WN/PN: ValueError.

Too-short utterances: CTC emitting K identical labels needs T >= 2K - 1 frames (a blank
between each pair of repeats). Policy: clamp K to (T + 1) // 2, the largest feasible K
(``fit_length``); ``fit_lengths`` also returns how many were clamped, for the report.
"""
from __future__ import annotations

import functools
import re

from .corpora import Utterance

KINDS = ("wn", "pn", "pn2")
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")  # letters/digits, inner ' and - kept

# Median voiced-phoneme count per EmoDB text over all its labelled files (lablaut).
EMODB_TEXT_PN = {"a01": 15, "a02": 17, "a04": 15, "a05": 31, "a07": 18,
                 "b01": 26, "b02": 34, "b03": 42, "b09": 31, "b10": 27}

_GERMAN_VOWEL_GROUPS = re.compile(r"äu|eu|ei|ai|au|ie|aa|ee|oo|[aeiouyäöü]")
_GERMAN_VOICED_CONSONANTS = re.compile(r"ng|[bdglmnrvwjz]")


def words(text: str | None) -> list[str]:
    """The words of a text, punctuation removed."""
    return _WORD.findall(text or "")


def word_count(text: str | None) -> int:
    return len(words(text))


def german_voiced_estimate(text: str) -> int:
    """Rough voiced-phoneme count of German text from its spelling (fallback only).

    Vowel letter groups (diphthongs and long-vowel spellings once) plus the letters of
    voiced consonants (b d g l m n r v w j z, 'ng' once). Crude: German final devoicing,
    's' voicing and silent 'h' are ignored.
    """
    total = 0
    for w in words(text.lower()):
        total += len(_GERMAN_VOWEL_GROUPS.findall(w))
        total += len(_GERMAN_VOICED_CONSONANTS.findall(w))
    return total


def english_voiced_count(text: str) -> int:
    from . import g2p

    return sum(g2p.is_voiced(p) for p in g2p.phonemes(text))


def _require_text(utt: Utterance) -> str:
    if not utt.text or not words(utt.text):
        raise ValueError(f"utterance {utt.utt_id or utt.path} ({utt.corpus}) has no text: "
                         f"word and phoneme counts need its transcription")
    return utt.text


@functools.lru_cache(maxsize=None)
def voiced_phoneme_count(utt: Utterance) -> int:
    """PN of one utterance (see the module docstring for the sources)."""
    if utt.phones_path is not None:
        from .phones import count_voiced_phones

        n = count_voiced_phones(utt.phones_path)
        if n > 0:
            return n
    if utt.corpus == "emodb":
        code = utt.utt_id[2:5]
        if code in EMODB_TEXT_PN:
            return EMODB_TEXT_PN[code]
        return german_voiced_estimate(_require_text(utt))
    text = _require_text(utt)
    if utt.corpus == "nemo":
        from .polish import voiced_count

        return voiced_count(text)
    return english_voiced_count(text)


@functools.lru_cache(maxsize=None)
def target_length(utt: Utterance, kind: str) -> int:
    """K for one utterance: 'wn' words, 'pn' voiced phonemes, 'pn2' twice that. >= 1."""
    if kind == "wn":
        k = word_count(_require_text(utt))
    elif kind == "pn":
        k = voiced_phoneme_count(utt)
    elif kind == "pn2":
        k = 2 * voiced_phoneme_count(utt)
    else:
        raise ValueError(f"unknown target kind {kind!r}: expected one of {', '.join(KINDS)}")
    return max(k, 1)


def ctc_feasible(n_frames: int, k: int) -> bool:
    """Can CTC emit K identical labels in n_frames frames? (needs T >= 2K - 1)"""
    return k >= 1 and n_frames >= 2 * k - 1


def fit_length(n_frames: int, k: int) -> int:
    """The K actually used: K itself, or (T + 1) // 2 when T < 2K - 1 (clamped)."""
    if n_frames < 1 or k < 1:
        raise ValueError(f"need n_frames >= 1 and k >= 1, got n_frames={n_frames}, k={k}")
    return k if ctc_feasible(n_frames, k) else (n_frames + 1) // 2


def fit_lengths(n_frames, ks) -> tuple[list[int], int]:
    """fit_length over a batch/corpus: (K used per utterance, number clamped)."""
    used = [fit_length(t, k) for t, k in zip(n_frames, ks, strict=True)]
    return used, sum(u != k for u, k in zip(used, ks))


def label_sequence(label_index: int, k: int) -> list[int]:
    """The CTC target (y, y, ..., y) of length k."""
    return [label_index] * k
