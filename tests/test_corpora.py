"""Corpus loaders on real EmoDB and RAVDESS, a generated IEMOCAP tree, and manifests."""
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from training.corpora import EMOTIONS, load_corpus

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"


def test_emodb_real():
    utts = load_corpus("emodb", CORPORA / "emodb")
    assert len(utts) == 339
    assert Counter(u.label for u in utts) == {"anger": 127, "happiness": 71, "neutral": 79,
                                              "sadness": 62}
    assert {u.speaker for u in utts} == {"03", "08", "09", "10", "11", "12", "13", "14",
                                         "15", "16"}
    a = next(u for u in utts if u.utt_id == "03a01Fa")
    assert a.label == "happiness" and a.corpus == "emodb" and a.path.is_file()
    assert a.text == "Der Lappen liegt auf dem Eisschrank."
    assert a.phones_path.name == "03a01Faxx.lablaut"
    assert all(u.phones_path is not None and u.text for u in utts)
    assert len({u.utt_id for u in utts}) == 339


def test_emodb_other_emotions():
    utts = load_corpus("emodb", CORPORA / "emodb", emotions=("boredom",))
    assert len(utts) == 81


def test_ravdess_real():
    utts = load_corpus("ravdess", CORPORA / "ravdess-16k")
    assert len(utts) == 336
    assert Counter(u.label for u in utts) == {"anger": 96, "happiness": 96, "neutral": 48,
                                              "sadness": 96}
    per_actor = Counter(u.speaker for u in utts)
    assert per_actor == {f"{a:02d}": 28 for a in range(1, 13)}
    u = next(u for u in utts if u.utt_id == "03-01-05-02-02-01-07")
    assert (u.label, u.speaker, u.text) == ("anger", "07", "Dogs are sitting by the door")
    assert not any("-02-" == u.utt_id[5:9] for u in utts)  # calm dropped


def test_ravdess_filters_modality_and_channel(tmp_path):
    actor = tmp_path / "Actor_03"
    actor.mkdir()
    for name in ["03-01-05-01-01-01-03", "01-01-05-01-01-01-03", "03-02-05-01-01-01-03",
                 "03-01-02-01-01-01-03"]:
        (actor / f"{name}.wav").write_bytes(b"")
    utts = load_corpus("ravdess", tmp_path)
    assert [u.utt_id for u in utts] == ["03-01-05-01-01-01-03"]


def _wav(path, seconds=0.5, sr=16000):
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, 0.1 * np.sin(2 * np.pi * 220 * t), sr, subtype="PCM_16")


EVAL_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def _block(start, end, utt, code):
    return (f"[{start:.4f} - {end:.4f}]\t{utt}\t{code}\t[2.5000, 2.5000, 2.5000]\n"
            f"C-E1:\tNeutral;\t()\nC-E2:\tFrustration; Anger;\t(annoyed)\n"
            f"A-E3:\tval 3; act 2; dom  2;\t()\n\n")


def _iemocap_tree(root: Path):
    s1 = root / "Session1"
    dialog = "Ses01F_impro01"
    rows = [(6.2901, 8.2357, "Ses01F_impro01_F000", "neu", "Excuse me."),
            (10.01, 11.3925, "Ses01F_impro01_M000", "exc", "Do you have your forms?"),
            (14.8872, 18.0175, "Ses01F_impro01_F001", "fru", "Yeah."),
            (19.29, 20.88, "Ses01F_impro01_M001", "xxx", "Let me see them."),
            (21.3, 24.1, "Ses01F_impro01_F002", "hap", "Is there a problem?"),
            (25.0, 27.5, "Ses01F_impro01_M002", "ang", "Who told you to get in this line?"),
            (28.0, 30.0, "Ses01F_impro01_F003", "sad", "You did.")]  # its wav is missing
    (s1 / "dialog" / "EmoEvaluation").mkdir(parents=True)
    (s1 / "dialog" / "transcriptions").mkdir(parents=True)
    (s1 / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text(
        EVAL_HEADER + "".join(_block(a, b, u, c) for a, b, u, c, _ in rows))
    (s1 / "dialog" / "transcriptions" / f"{dialog}.txt").write_text(
        "".join(f"{u} [{a:08.4f}-{b:08.4f}]: {t}\n" for a, b, u, _, t in rows)
        + "M: [BREATHING]\n")
    for _, _, u, _, _ in rows[:-1]:
        _wav(s1 / "sentences" / "wav" / dialog / f"{u}.wav")
    s2 = root / "Session2"
    dialog2 = "Ses02M_script01_1"
    (s2 / "dialog" / "EmoEvaluation").mkdir(parents=True)
    (s2 / "dialog" / "transcriptions").mkdir(parents=True)
    (s2 / "dialog" / "EmoEvaluation" / f"{dialog2}.txt").write_text(
        EVAL_HEADER + _block(1.0, 3.0, "Ses02M_script01_1_F003", "sad")
        + _block(3.5, 5.0, "Ses02M_script01_1_M004", "sur"))
    (s2 / "dialog" / "transcriptions" / f"{dialog2}.txt").write_text(
        "Ses02M_script01_1_F003 [001.0000-003.0000]: I miss him, that's all.\n"
        "Ses02M_script01_1_M004 [003.5000-005.0000]: Really?\n")
    for u in ["Ses02M_script01_1_F003", "Ses02M_script01_1_M004"]:
        _wav(s2 / "sentences" / "wav" / dialog2 / f"{u}.wav")


def test_iemocap_generated(tmp_path):
    _iemocap_tree(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 labelled"):
        utts = load_corpus("iemocap", tmp_path)
    got = {u.utt_id: (u.label, u.speaker, u.text) for u in utts}
    assert got == {
        "Ses01F_impro01_F000": ("neutral", "Ses01F", "Excuse me."),
        "Ses01F_impro01_M000": ("happiness", "Ses01M", "Do you have your forms?"),  # exc
        "Ses01F_impro01_F002": ("happiness", "Ses01F", "Is there a problem?"),
        "Ses01F_impro01_M002": ("anger", "Ses01M", "Who told you to get in this line?"),
        "Ses02M_script01_1_F003": ("sadness", "Ses02F", "I miss him, that's all."),
    }
    assert all(u.path.is_file() and u.corpus == "iemocap" for u in utts)


def test_manifest(tmp_path):
    _wav(tmp_path / "audio" / "one.wav")
    _wav(tmp_path / "two.wav")
    csv = tmp_path / "list.csv"
    csv.write_text("path,label,speaker,text\n"
                   "audio/one.wav,anger,spk1,Hello there\n"
                   f"{tmp_path / 'two.wav'},sadness,spk2,\n")
    utts = load_corpus("manifest", csv)
    assert [(u.path, u.label, u.speaker, u.text) for u in utts] == [
        (tmp_path / "audio" / "one.wav", "anger", "spk1", "Hello there"),
        (tmp_path / "two.wav", "sadness", "spk2", None)]
    csv.write_text("path,label,speaker,text\n"
                   "audio/one.wav,anger,spk1,Hi\n"
                   "two.wav,joy,spk2,Hi\n")
    with pytest.raises(ValueError, match=r"line 3: label 'joy' is not one of anger"):
        load_corpus("manifest", csv)


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="missing or empty"):
        load_corpus("emodb", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="missing or empty"):
        load_corpus("ravdess", tmp_path)
    (tmp_path / "wav").mkdir()
    (tmp_path / "wav" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="no usable utterances"):
        load_corpus("emodb", tmp_path)
    with pytest.raises(ValueError, match="no usable utterances"):
        load_corpus("iemocap", tmp_path)
    with pytest.raises(ValueError, match="unknown corpus"):
        load_corpus("timit", tmp_path)
    assert EMOTIONS == ("anger", "happiness", "neutral", "sadness")
