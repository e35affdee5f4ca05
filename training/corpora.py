"""Corpus loaders: EmoDB, RAVDESS, nEMO, IEMOCAP and a CSV manifest -> a list of Utterance.

Every loader maps the corpus' own emotion codes to plain English class names and keeps
the utterances whose class is in ``emotions`` (default: the paper's four classes).
"""
from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

EMOTIONS = ("anger", "happiness", "neutral", "sadness")  # label index = position

EMODB_EMOTIONS = {"W": "anger", "L": "boredom", "E": "disgust", "A": "fear",
                  "F": "happiness", "T": "sadness", "N": "neutral"}
EMODB_TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Blatt Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
RAVDESS_EMOTIONS = {"01": "neutral", "02": "calm", "03": "happiness", "04": "sadness",
                    "05": "anger", "06": "fear", "07": "disgust", "08": "surprise"}
RAVDESS_TEXTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
NEMO_EMOTIONS = {"anger": "anger", "happiness": "happiness", "neutral": "neutral", "sadness": "sadness",
                 "fear": "fear", "surprised": "surprise", "surprise": "surprise"}
# hap and exc are merged into happiness, as the paper (and most IEMOCAP work) does.
IEMOCAP_EMOTIONS = {"ang": "anger", "hap": "happiness", "exc": "happiness",
                    "neu": "neutral", "sad": "sadness", "fru": "frustration",
                    "sur": "surprise", "fea": "fear", "dis": "disgust"}

_EMODB_NAME = re.compile(r"^(\d\d)([a-z]\d\d)([A-Z])([a-z]+)$")
_RAVDESS_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")
_IEMOCAP_EVAL = re.compile(r"^\[\s*[\d.]+\s*-\s*[\d.]+\s*\]\s+(Ses\S+)\s+(\w+)\s+\[")
_IEMOCAP_TEXT = re.compile(r"^(Ses\S+)\s+\[[^\]]*\]:\s?(.*)$")


@dataclass(frozen=True)
class Utterance:
    path: Path
    label: str
    speaker: str
    corpus: str
    text: str | None = None  # orthographic text if known
    phones_path: Path | None = None  # EmoDB lablaut file if present
    utt_id: str = ""  # stable id (file stem or IEMOCAP utterance id)

    def label_index(self, emotions=EMOTIONS) -> int:
        return list(emotions).index(self.label)


def _require_dir(data_dir: Path, expected: str) -> Path:
    data_dir = Path(data_dir)
    if not data_dir.is_dir() or not any(data_dir.iterdir()):
        raise ValueError(f"corpus dir {data_dir} is missing or empty: expected {expected}")
    return data_dir


def _none_found(data_dir: Path, expected: str):
    return ValueError(f"no usable utterances in {data_dir}: expected {expected}")


def load_emodb(data_dir: Path, emotions=EMOTIONS) -> list[Utterance]:
    expected = "the EmoDB root with wav/SSTTTEV.wav (and lablaut/)"
    root = _require_dir(data_dir, expected)
    out = []
    for wav in sorted((root / "wav").glob("*.wav")):
        m = _EMODB_NAME.match(wav.stem)
        if not m or EMODB_EMOTIONS.get(m.group(3)) not in emotions:
            continue
        out.append(Utterance(wav, EMODB_EMOTIONS[m.group(3)], m.group(1), "emodb",
                             EMODB_TEXTS.get(m.group(2)), _emodb_lablaut(root, wav.stem),
                             wav.stem))
    if not out:
        raise _none_found(root, expected)
    return out


def _emodb_lablaut(root: Path, stem: str) -> Path | None:
    """lablaut/<stem>xx.lablaut (the usual name) or lablaut/<stem>.lablaut."""
    for name in (f"{stem}xx.lablaut", f"{stem}.lablaut"):
        p = root / "lablaut" / name
        if p.is_file():
            return p
    return None


def load_ravdess(data_dir: Path, emotions=EMOTIONS) -> list[Utterance]:
    expected = "Actor_XX/03-01-EE-II-SS-RR-AA.wav (RAVDESS audio-only speech)"
    root = _require_dir(data_dir, expected)
    out = []
    for wav in sorted(root.rglob("*.wav")):
        m = _RAVDESS_NAME.match(wav.stem)
        if not m:
            continue
        modality, channel, emotion, _, statement, _, actor = m.groups()
        label = RAVDESS_EMOTIONS.get(emotion)
        if modality != "03" or channel != "01" or label not in emotions:
            continue
        out.append(Utterance(wav, label, actor, "ravdess", RAVDESS_TEXTS.get(statement),
                             None, wav.stem))
    if not out:
        raise _none_found(root, expected)
    return out


def load_nemo(data_dir: Path, emotions=EMOTIONS) -> list[Utterance]:
    """nEMO (Polish): data.tsv rows of file_id, emotion, raw_text, normalized_text, speaker_id, ..."""
    expected = "data.tsv and samples/SPEAKER_EMOTION_N.flac (nEMO)"
    root = _require_dir(data_dir, expected)
    table = root / "data.tsv"
    if not table.is_file():
        raise ValueError(f"nEMO at {root}: data.tsv missing: expected {expected}")
    out, missing = [], 0
    with open(table, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            label = NEMO_EMOTIONS.get((row.get("emotion") or "").strip())
            if label not in emotions:
                continue
            path = root / "samples" / row["file_id"].strip()
            if not path.is_file():
                missing += 1
                continue
            text = (row.get("normalized_text") or row.get("raw_text") or "").strip() or None
            out.append(Utterance(path, label, row["speaker_id"].strip(), "nemo", text, None, path.stem))
    if missing:
        warnings.warn(f"nEMO at {root}: skipped {missing} rows of data.tsv with no audio file", stacklevel=3)
    if not out:
        raise _none_found(root, expected)
    return out


def _iemocap_labels(session: Path) -> dict[str, str]:
    """utterance id -> consensus code, from the bracketed summary lines only."""
    labels = {}
    for f in sorted((session / "dialog" / "EmoEvaluation").glob("*.txt")):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _IEMOCAP_EVAL.match(line.strip())
            if m:
                labels[m.group(1)] = m.group(2)
    return labels


def _iemocap_texts(session: Path) -> dict[str, str]:
    texts = {}
    for f in sorted((session / "dialog" / "transcriptions").glob("*.txt")):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _IEMOCAP_TEXT.match(line.strip())
            if m:
                texts[m.group(1)] = m.group(2).strip()
    return texts


def iemocap_speaker(utt_id: str) -> str:
    """'Ses01F_impro01_M012' -> 'Ses01M': session + the utterance speaker's gender.

    The dialog id's letter (F in Ses01F) is who wore the markers; the letter that starts
    the utterance id's last part is who speaks.
    """
    return utt_id[:5] + utt_id.rsplit("_", 1)[-1][0]


def load_iemocap(data_dir: Path, emotions=EMOTIONS) -> list[Utterance]:
    expected = ("Session1..5/sentences/wav/<dialog>/<utt>.wav with "
                "Session*/dialog/EmoEvaluation/<dialog>.txt")
    root = _require_dir(data_dir, expected)
    out, missing = [], 0
    for session in sorted(root.glob("Session*")):
        texts = _iemocap_texts(session)
        for utt_id, code in sorted(_iemocap_labels(session).items()):
            label = IEMOCAP_EMOTIONS.get(code)
            if label not in emotions:
                continue
            dialog = utt_id.rsplit("_", 1)[0]
            wav = session / "sentences" / "wav" / dialog / f"{utt_id}.wav"
            if not wav.is_file():
                missing += 1
                continue
            out.append(Utterance(wav, label, iemocap_speaker(utt_id), "iemocap",
                                 texts.get(utt_id), None, utt_id))
    if missing:
        warnings.warn(f"IEMOCAP at {root}: skipped {missing} labelled utterances "
                      f"with no wav file", stacklevel=3)
    if not out:
        raise _none_found(root, expected)
    return out


def load_manifest(csv_path: Path, emotions=EMOTIONS) -> list[Utterance]:
    csv_path = Path(csv_path)
    expected = "a CSV file with header path,label,speaker,text"
    if not csv_path.is_file():
        raise ValueError(f"manifest {csv_path} is missing: expected {expected}")
    out = []
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise ValueError(f"manifest {csv_path}: expected {expected}, "
                             f"got header {reader.fieldnames}")
        for row in reader:
            out.append(_manifest_row(csv_path, reader.line_num, row, emotions))
    if not out:
        raise _none_found(csv_path, expected)
    return out


def _manifest_row(csv_path: Path, line: int, row: dict, emotions) -> Utterance:
    where = f"manifest {csv_path} line {line}"
    label = (row.get("label") or "").strip()
    if label not in emotions:
        raise ValueError(f"{where}: label {label!r} is not one of {', '.join(emotions)}")
    path = Path((row.get("path") or "").strip())
    if not path.is_absolute():
        path = csv_path.parent / path
    if not path.is_file():
        raise ValueError(f"{where}: audio file {path} not found")
    text = (row.get("text") or "").strip() or None
    speaker = (row.get("speaker") or "").strip()
    return Utterance(path, label, speaker, "manifest", text, None, path.stem)


LOADERS = {"emodb": load_emodb, "ravdess": load_ravdess, "nemo": load_nemo, "iemocap": load_iemocap,
           "manifest": load_manifest}


def load_corpus(name: str, data_dir: Path, emotions=EMOTIONS) -> list[Utterance]:
    """Utterances of corpus ``name`` (emodb, ravdess, nemo, iemocap, manifest) in ``emotions``."""
    if name not in LOADERS:
        raise ValueError(f"unknown corpus {name!r}: expected one of {', '.join(LOADERS)}")
    return LOADERS[name](Path(data_dir), tuple(emotions))
