"""EmoDB lablaut parsing, segment kinds, frame kinds and voiced-phoneme counts."""
import math
from pathlib import Path

import numpy as np
import pytest

from training import phones

LABLAUT = Path(__file__).resolve().parents[1].parent / "shared" / "corpora" / "emodb" / "lablaut"


@pytest.fixture(scope="module")
def a01fa():
    path = LABLAUT / "03a01Faxx.lablaut"
    if not path.is_file():
        pytest.fail(f"EmoDB lablaut not found at {LABLAUT}")
    return path


def test_real_file_segments(a01fa):
    segs = phones.segments(a01fa)
    assert segs[0] == phones.Segment(0.0, 0.080109, "<sil>", "silence")
    assert [s.phone for s in segs[1:4]] == ["_t", "!t", "E6"]
    assert segs[-1].phone == "." and segs[-1].kind == "silence" and math.isinf(segs[-1].end)
    # contiguous: each segment ends where the next begins
    assert all(a.end == b.start for a, b in zip(segs, segs[1:]))
    # the annotation-only line at 0.768183 ('\t+hoe') is not a segment: 'i' runs through it
    i = next(s for s in segs if s.phone == "i")
    assert (i.start, i.end) == (0.698978, 0.802292)
    assert all(s.phone and s.phone[0] not in "+-" for s in segs)


def test_real_file_voiced_count(a01fa):
    groups = phones.phoneme_groups(a01fa)
    # "Der Lappen liegt auf dem Eisschrank": plosive pieces merge into one phoneme
    assert ("d+!d", "voiced") in groups and ("k+!k+kasp", "unvoiced") in groups
    assert phones.count_voiced_phones(a01fa) == 13


def test_kind_table():
    for p in ["a", "E6", "aI", "OY", "@", "m", "N", "l", "R", "4", "j", "v", "z", "b", "!d",
              "gasp", "B", "V", "H"]:
        assert phones.phone_kind(p) == "voiced", p
    for p in ["p", "!t", "tasp", "f", "s", "S", "C", "x", "X", "h", "?", "_t", "_d", "!"]:
        assert phones.phone_kind(p) == "unvoiced", p
    for p in [".", "(", "(gef", "<p:>"]:
        assert phones.phone_kind(p) == "silence", p


def test_quirky_file(tmp_path):
    text = ("signal x\ncomment Grüße\nnfields 1\n#\n"
            "    0.100000   125 _d\n"
            "0.150000 125 !d\t+asp\n"
            "    0.170000   -1 a\t+lar\t2\n"
            "    0.250000   -1 \t-lar\n"
            "    0.300000   -1 +nas\n"
            "    0.320000   -1 I+nas\n"
            "    0.400000   -1 (\n"
            "    0.600000   -1 s  +sth\n"
            "    0.700000   -1 .\n")
    path = tmp_path / "x.lablaut"
    path.write_bytes(text.encode("latin-1"))
    segs = phones.segments(path)
    assert [(s.start, s.phone, s.kind) for s in segs] == [
        (0.0, "<sil>", "silence"), (0.1, "_d", "unvoiced"), (0.15, "!d", "voiced"),
        (0.17, "a", "voiced"), (0.32, "I", "voiced"), (0.4, "(", "silence"),
        (0.6, "s", "unvoiced"), (0.7, ".", "silence")]
    assert phones.count_voiced_phones(path) == 3  # _d+!d, a, I
    # frame centres 0.0125, 0.0225, ...: frame 9 (0.1025) is in _d, frame 16 (0.1725) in a
    kinds = phones.frame_kinds(path, 80)
    assert kinds[9] == "unvoiced" and kinds[16] == "voiced" and kinds[0] == "silence"
    assert kinds[45] == "silence" and kinds[60] == "unvoiced" and kinds[79] == "silence"
    idx = phones.frame_kinds(path, 80, as_index=True)
    assert idx.dtype == np.int64 and phones.KINDS[idx[16]] == "voiced"


def test_empty_label_file(tmp_path):
    path = tmp_path / "e.lablaut"
    path.write_text("signal e\nnfields 0\n#\n", encoding="latin-1")
    assert phones.segments(path) == [] and phones.count_voiced_phones(path) == 0
    with pytest.raises(ValueError, match="no phone labels"):
        phones.frame_kinds(path, 10)


def test_all_real_files_parse():
    files = sorted(LABLAUT.glob("*.lablaut"))
    assert len(files) == 538
    known = (phones.VOICED_CONSONANTS | phones.UNVOICED_CONSONANTS | phones.SILENCE_LABELS)
    unlabelled = 0
    for f in files:
        segs = phones.segments(f)
        if not segs:
            unlabelled += 1
            continue
        assert segs[-1].phone == ".", f.name
        for s in segs[1:]:
            assert (s.phone in known or phones._plosive_parts(s.phone)
                    or set(s.phone) <= phones.VOWEL_SYMBOLS), (f.name, s.phone)
    assert unlabelled == 3  # 08a01Ab, 08a01Wa, 14b09Ea: header only


def test_frame_kinds_against_energy(a01fa):
    import soundfile as sf

    x, sr = sf.read(LABLAUT.parent / "wav" / "03a01Fa.wav")
    hop, win = int(0.01 * sr), int(0.025 * sr)
    n = 1 + (len(x) - win) // hop
    energy = np.array([np.mean(x[i * hop:i * hop + win] ** 2) for i in range(n)])
    kinds = phones.frame_kinds(a01fa, n)
    assert energy[kinds == "voiced"].mean() > 5 * energy[kinds == "silence"].mean()


# ---------------------------------------------------------------- PN, counted independently
#
# A second, plain reading of the lablaut format, written for these tests from the files
# themselves (not from phones.py): the first word after TIME and FIELD2 is the label;
# annotations (+x, -x, [x, 'hoe') are skipped and cut off a label they are glued to; a
# plosive's closure (b d g p t k, or '_x' after silence: silent), release(s) ('!x', '!')
# and aspiration ('xasp') are one phoneme, voiced if its first named release (else its
# closure) is b, d or g; otherwise a label is voiced if it is a sonorant or voiced
# fricative (m n N l L R 4 r j J v z Z B D G V H...) or holds a vowel symbol.

def plain_labels(text: str) -> list[str]:
    lines = text.splitlines()
    out = []
    for line in lines[lines.index("#") + 1:]:
        parts = line.split(None, 2)
        if len(parts) < 3:
            continue
        label = parts[2].split()[0]
        if label[0] in "+-[" or label == "hoe":
            continue
        cut = [i for i, ch in enumerate(label) if i and ch in "+-["]
        out.append(label[:cut[0]] if cut else label)
    return out


def plain_plosive(label: str):
    """(role, plosive letter) of a plosive piece, else None."""
    if len(label) == 1 and label in "bdgptk":
        return "closure", label
    if len(label) == 2 and label[0] == "_" and label[1] in "bdgptk":
        return "silent", label[1]
    if label[0] == "!":
        return "release", label[1:]
    if label in ("gas", "dsap") or (len(label) == 4 and label[1:] == "asp" and label[0] in "bdgptk"):
        return "aspiration", label[0]
    return None


def plain_voiced_count(text: str) -> int:
    n, plosive = 0, None  # plosive: [voiced, named release seen] of the open plosive phoneme
    for label in plain_labels(text):
        part = plain_plosive(label)
        if part is not None and plosive is not None and part[0] in ("release", "aspiration"):
            if part[0] == "release" and part[1] and not plosive[1]:
                plosive = [part[1] in "bdg", True]
            continue
        if plosive is not None:
            n += plosive[0]
            plosive = None
        if part is not None:
            role, p = part
            plosive = [role != "silent" and p in "bdg", role == "release" and bool(p)]
        elif label not in (".", "(", "(gef"):
            n += label[0] in "mnNlLR4rjJvzZBDGVH" or any(c in "aeiouyAEIOUY@2369" for c in label)
    return n + (plosive[0] if plosive else 0)


def has_digit_label(text: str) -> bool:
    """A label that is a digit: the SAMPA vowels 6 and 9, the r variant 4, or 8."""
    return any(label.isdigit() for label in plain_labels(text))


# Checked by hand for 03a01Fa and 10a01Ac (both 13: "Der Lappen liegt auf dem Eisschrank");
# the rest from plain_voiced_count. Files with no digit labels, where both readings agree.
PINNED_PN = {
    "03a01Fa": 13, "03a05Nd": 30, "03b01Nb": 25, "08a02Fe": 18, "08a07Fd": 18, "09a01Ea": 15,
    "09a05Lc": 27, "10a01Ac": 13, "10a07Aa": 16, "11a01Nd": 15, "11a05Fc": 32, "11b03Wb": 45,
    "12a02Wc": 17, "13a01Ea": 14, "13a02Nc": 16, "13a05Wc": 31, "14a01Ea": 15, "14a02Wa": 19,
    "14a05Tc": 32, "14a07Tc": 18, "15a02La": 15, "15a07Ac": 19, "16a01Lb": 14, "16a02Wb": 18,
    "16a07Fb": 20,
}


def test_pn_pinned_for_real_files():
    got = {name: phones.count_voiced_phones(LABLAUT / f"{name}xx.lablaut") for name in PINNED_PN}
    assert got == PINNED_PN
    assert {name: plain_voiced_count((LABLAUT / f"{name}xx.lablaut").read_text(encoding="latin-1"))
            for name in PINNED_PN} == PINNED_PN


def test_pn_equals_an_independent_count_on_every_file_without_digit_labels():
    checked, differ = 0, []
    for f in sorted(LABLAUT.glob("*.lablaut")):
        text = f.read_text(encoding="latin-1")
        if not plain_labels(text) or has_digit_label(text):
            continue
        checked += 1
        if phones.count_voiced_phones(f) != plain_voiced_count(text):
            differ.append((f.name, phones.count_voiced_phones(f), plain_voiced_count(text)))
    assert checked >= 220 and differ == []


def test_digit_labels_are_phones():
    path = LABLAUT / "08a04Tbxx.lablaut"  # "... könnte ich ...": _k !k 9 n t !t I
    assert "9" in [s.phone for s in phones.segments(path)]
    assert phones.count_voiced_phones(path) == plain_voiced_count(path.read_text(encoding="latin-1")) == 13
