"""EmoDB phone labels (``lablaut/*.lablaut``): segments, per-frame kinds, voiced-phone counts.

File format (xlabel, Latin-1): a header up to a line ``#``, then one line per label:
``TIME FIELD2 REST`` where FIELD2 is ``-1`` (or ``125`` in some files) and REST is
``PHONE[<TAB>ANNOTATION[<TAB>STRESS]]`` (tabs sometimes spaces, leading spaces optional).
TIME is where the labelled segment BEGINS; it runs to the next segment's time. Before the
first time is leading silence; ``.`` marks the end of speech (silence from there on).

Lines that are not segments and are skipped (the previous segment runs on through them):
  * annotation-only lines: an empty PHONE (``<TAB>+hoe``), an annotation standing where a
    phone would be (``+nas``, ``-sth``, ``[+eng``, ``-eng]``) or a bare annotation word
    (``hoe``). A label that is a digit is a phone: the SAMPA vowels ``6`` ``9``, the r
    variant ``4`` and ``8`` (the files carry stress only in the third field).
A phone glued to its annotation (``I+nas``, ``g-sth``, ``tasp+sth``) is split off.

Kinds (German SAMPA as these files use it; checked against the waveforms, see below):
  * ``voiced``: vowels (a e i o u y E I O U Y @ 2 9 6 and their length/r-coloured forms
    i6 E6 a6 @6 ...), diphthongs (aI aU OY and the ad-hoc aO AO AU OU @E ...), nasals
    m n N, liquids l L R 4, glides j J, voiced fricatives v z Z B D G V H, and the voiced
    plosives b d g: their closure (plain ``b``/``d``/``g``), release (``!b`` ``!d`` ``!g``)
    and aspiration (``basp`` ``dasp`` ``gasp``). German lenis plosives are often devoiced
    in the signal (measured: ``!d`` bursts are noise-like), but they count as voiced here
    by phonology, so that the voiced-phone count is a phoneme count comparable with the
    English ARPAbet one (B D G voiced). Medial lenis closures do carry a voice bar
    (``b`` closures: autocorrelation peak 0.63, like nasals).
  * ``unvoiced``: p t k f s S C x X h ``?`` (glottal stop) and the closures, releases and
    aspiration of p t k (``t`` ``!t`` ``tasp``, ...), a bare release ``!``, and every
    ``_x`` closure whatever the plosive: ``_x`` stands after silence (utterance-initial or
    after a pause) and is itself silent (0.04-0.14x the utterance's RMS, no voicing), so it
    is never voiced; it is kept "unvoiced" rather than "silence" since it is part of a
    phone. ``8`` (two occurrences, noise-like in the signal) is taken as unvoiced.
  * ``silence``: leading silence, the pause labels ``(`` and ``(gef`` (0.07x / 0.12x the
    utterance's RMS), ``.`` and what follows it, and ``<p:>``/``<sil>``-style labels.
  Unknown labels: voiced if they contain a vowel symbol, otherwise unvoiced.

``count_voiced_phones`` counts voiced PHONEMES: a plosive's closure, release(s) and
aspiration are one phoneme (voicing taken from its release, which names the plosive the
labeller heard, else from its closure); every other voiced segment counts once.
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

KINDS = ("silence", "unvoiced", "voiced")
KIND_INDEX = {k: i for i, k in enumerate(KINDS)}

VOWEL_SYMBOLS = set("aeiouyAEIOUY@269")
VOICED_CONSONANTS = {"m", "n", "N", "l", "L", "R", "4", "j", "J", "v", "z", "Z",
                     "B", "D", "G", "V", "H", "r"}
UNVOICED_CONSONANTS = {"p", "t", "k", "f", "s", "S", "C", "x", "X", "h", "?", "T", "8"}
VOICED_PLOSIVES = {"b", "d", "g"}
UNVOICED_PLOSIVES = {"p", "t", "k"}
PLOSIVES = VOICED_PLOSIVES | UNVOICED_PLOSIVES
SILENCE_LABELS = {".", "(", "(gef", "<p:>", "<p>", "<sil>", "sil", "pau", "#", "_"}
ANNOTATION_WORDS = {"hoe", "lar", "sth", "nas", "beh", "tie", "flu", "zen", "vor", "lat",
                    "eng", "rue", "den", "har", "ger", "spr", "lab", "pal", "pha", "vel",
                    "ung", "fr", "na", "sil", "asp", "gef"}
TYPOS = {"gas": "gasp", "dsap": "dasp", "mm": "m", "nn": "n", "NN": "N", "vv": "v",
         "ss": "s"}

_LINE = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s+(-?\d+)(.*)$")


@dataclass(frozen=True)
class Segment:
    start: float
    end: float  # math.inf for a last segment with no end-of-speech mark after it
    phone: str
    kind: str


def _phone_of(rest: str) -> str | None:
    """The phone label of a line's remainder, or None for an annotation-only line."""
    tokens = rest.split()
    if not tokens:
        return None
    tok = tokens[0]
    if tok[0] in "+-[]" or tok in ANNOTATION_WORDS:
        return None
    tok = re.split(r"(?<=.)[+\-\[\]]", tok, maxsplit=1)[0]  # 'I+nas' -> 'I'
    return TYPOS.get(tok, tok)


def read_labels(path) -> list[tuple[float, str]]:
    """(start time, phone) of every segment line, in file order."""
    lines = Path(path).read_text(encoding="latin-1").splitlines()
    body = lines[lines.index("#") + 1:] if "#" in lines else lines
    labels = []
    for line in body:
        m = _LINE.match(line)
        if not m:
            continue
        phone = _phone_of(m.group(3))
        if phone is not None:
            labels.append((float(m.group(1)), phone))
    return labels


def _plosive_parts(phone: str) -> tuple[str, str] | None:
    """('closure'|'release'|'aspiration'|'initial_closure', plosive) for plosive pieces."""
    if phone in PLOSIVES:
        return "closure", phone
    if len(phone) == 2 and phone[0] == "_" and phone[1] in PLOSIVES:
        return "initial_closure", phone[1]
    if phone[0] == "!" and phone[1:] in PLOSIVES | {""}:
        return "release", phone[1:]
    if len(phone) == 4 and phone.endswith("asp") and phone[0] in PLOSIVES:
        return "aspiration", phone[0]
    return None


def phone_kind(phone: str) -> str:
    """'silence', 'unvoiced' or 'voiced' for one EmoDB SAMPA segment label."""
    if phone in SILENCE_LABELS or phone.startswith("<"):
        return "silence"
    part = _plosive_parts(phone)
    if part is not None:
        role, plosive = part
        if role == "initial_closure" or plosive == "":
            return "unvoiced"
        return "voiced" if plosive in VOICED_PLOSIVES else "unvoiced"
    if phone in VOICED_CONSONANTS:
        return "voiced"
    if phone in UNVOICED_CONSONANTS:
        return "unvoiced"
    return "voiced" if any(c in VOWEL_SYMBOLS for c in phone) else "unvoiced"


def has_labels(path) -> bool:
    """True when the file has at least one segment label."""
    return bool(read_labels(path))


def segments(path) -> list[Segment]:
    """Contiguous segments from 0 s: leading silence, the labelled phones, then '.' on."""
    labels = read_labels(path)
    out: list[Segment] = []
    if labels and labels[0][0] > 0:
        out.append(Segment(0.0, labels[0][0], "<sil>", "silence"))
    for i, (start, phone) in enumerate(labels):
        end = labels[i + 1][0] if i + 1 < len(labels) else math.inf
        out.append(Segment(start, max(end, start), phone, phone_kind(phone)))
    return out


def frame_kinds(path, n_frames: int, hop: float = 0.01, win: float = 0.025,
                as_index: bool = False) -> np.ndarray:
    """Kind of each analysis frame, read at the frame centre ``t*hop + win/2``.

    Frames past the last segment's end are silence. ``as_index`` gives indices into KINDS.
    A file with no labels (08a01Ab, 08a01Wa have a header only) raises ValueError.
    """
    if not has_labels(path):
        raise ValueError(f"{path}: no phone labels after the header")
    centres = np.arange(n_frames) * hop + win / 2
    kinds = np.full(n_frames, "silence", dtype=object)
    for seg in segments(path):
        kinds[(centres >= seg.start) & (centres < seg.end)] = seg.kind
    if as_index:
        return np.array([KIND_INDEX[k] for k in kinds], dtype=np.int64)
    return kinds.astype(str)


def phoneme_groups(path) -> list[tuple[str, str]]:
    """(label, kind) per phoneme: a plosive's closure/release/aspiration merged into one."""
    groups: list[tuple[str, str]] = []
    open_plosive = False  # the last group is a plosive that can still take a release/asp
    released = False  # ... and it already has a release
    for seg in segments(path):
        if seg.kind == "silence":
            open_plosive = False
            continue
        part = _plosive_parts(seg.phone)
        if part is None:
            groups.append((seg.phone, seg.kind))
            open_plosive = False
            continue
        role = part[0]
        if open_plosive and role in ("release", "aspiration"):
            label, kind = groups[-1]
            if role == "release" and part[1] and not released:
                kind = seg.kind  # the release names the plosive actually heard
                released = True
            groups[-1] = (label + "+" + seg.phone, kind)
        else:
            groups.append((seg.phone, seg.kind))
            open_plosive = True
            released = role == "release" and bool(part[1])
    return groups


@functools.lru_cache(maxsize=4096)
def _count_cached(path: str) -> int:
    return sum(kind == "voiced" for _, kind in phoneme_groups(path))


def count_voiced_phones(path) -> int:
    """Number of voiced phonemes in a lablaut file (the paper's PN for EmoDB); 0 if unlabelled."""
    return _count_cached(str(Path(path).resolve()))
