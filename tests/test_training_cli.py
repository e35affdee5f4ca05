"""A small, fast training run on real EmoDB: evaluate (one fold, resumable) and train -> model dir -> runtime."""

import json
from pathlib import Path

import numpy as np
import pytest

from realtime_ser import features, model
from training import evaluate, latency, train
from training.corpora import Utterance
from tests.conftest import EMODB


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def test_evaluate_one_fold_then_resume(tmp_path, cache_dir, capsys):
    out = tmp_path / "run"
    argv = ["--corpus", "emodb", "--data", str(EMODB), "--system", "ctc", "--target", "pn", "--out", str(out),
            "--epochs", "2", "--limit-folds", "1", "--jobs", "1", "--cache-dir", str(cache_dir), "--quiet"]
    assert evaluate.main(argv) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["system"] == "ctc" and line["target"] == "pn" and line["folds"] == 1
    assert 0.0 <= line["uar"] <= 100.0 and 0.0 <= line["war"] <= 100.0
    fold = json.loads((out / "folds" / "fold_00.json").read_text())
    assert fold["test_speakers"] == ["03"] and fold["n_test"] == len(fold["y_pred"]) > 0
    assert fold["targets"]["k_min"] >= 1
    for name in ("results.json", "table.md", "confusion.png"):
        assert (out / name).stat().st_size > 0
    posts = np.load(out / "folds" / "fold_00_posteriors.npz")
    assert set(posts.files) == set(fold["utt_ids"])
    assert posts[fold["utt_ids"][0]].shape[1] == 5

    # The fold model serves its held-out speaker offline and chunk by chunk.
    assert model.load(out / "folds" / "fold_00_model").config.training["held_out_speakers"] == ["03"]
    lat = tmp_path / "latency"
    assert latency.main(["--run", str(out), "--out", str(lat), "--chunks-ms", "100", "--right-context-ms", "0",
                         "--cache-dir", str(cache_dir)]) == 0
    rows = json.loads((lat / "latency.json").read_text())
    assert [(r["chunk_ms"], r["right_context_ms"]) for r in rows] == [(None, 0), (100, 0)]
    assert rows[0]["uar"] == pytest.approx(line["uar"], abs=1e-6)  # offline serving == training's decisions
    assert (lat / "latency.png").stat().st_size > 0
    capsys.readouterr()

    # Resume: the saved fold is reused, not retrained (its file stays untouched).
    stamp = (out / "folds" / "fold_00.json").stat().st_mtime_ns
    assert evaluate.main(argv) == 0
    assert (out / "folds" / "fold_00.json").stat().st_mtime_ns == stamp
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["uar"] == line["uar"]

    # A different run in the same directory is refused without --restart.
    with pytest.raises(SystemExit, match="different run"):
        evaluate.main([a if a != "pn" else "wn" for a in argv])


def test_train_writes_a_model_the_runtime_serves(tmp_path, cache_dir):
    out = tmp_path / "model"
    argv = ["--corpus", "emodb", "--data", str(EMODB), "--out", str(out), "--epochs", "1",
            "--cache-dir", str(cache_dir), "--quiet"]
    assert train.main(argv) == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "EmoDB" in card and "CC BY-NC-SA" not in card
    m = model.load(out)
    assert m.config.feature_names == features.NAMES and m.config.target == "pn"
    x = np.random.default_rng(0).normal(size=(50, features.DIM)).astype(np.float32)
    post = m.posteriors(x)
    assert post.shape == (50, 5)
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-5)

    # New figures go into the card and config without touching the weights.
    weights = (out / "model.safetensors").read_bytes()
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"corpus": "emodb", "system": "ctc", "target": "pn",
                                   "uar": 81.25, "war": 80.5, "folds": 10}))
    assert train.main(["--out", str(out), "--card-only", "--metrics", str(results)]) == 0
    assert "| emodb | ctc | pn | 81.2 | 80.5 | 10 |" in (out / "MODEL_CARD.md").read_text()
    assert model.load(out).config.metrics["emodb/ctc/pn"]["uar"] == 81.25
    assert (out / "model.safetensors").read_bytes() == weights


def test_model_load_errors_are_one_line(tmp_path):
    with pytest.raises(model.ModelError, match="not a model directory"):
        model.load(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(model.ModelError, match="invalid model") as e:
        model.load(tmp_path)
    assert "\n" not in str(e.value)


def hand_uar(y_true, y_pred):
    """Mean over the classes present in y_true of the share of their utterances predicted right."""
    recalls = [np.mean([p == c for t, p in zip(y_true, y_pred) if t == c]) for c in sorted(set(y_true))]
    return 100.0 * float(np.mean(recalls))


def tiny_manifest(path, per_class=2, speakers=("03", "08")):
    """A manifest of a few EmoDB files: per_class utterances per class and speaker."""
    letters = {"W": "anger", "F": "happiness", "N": "neutral", "T": "sadness"}
    rows = ["path,label,speaker,text"]
    for spk in speakers:
        for letter, label in letters.items():
            for wav in sorted((EMODB / "wav").glob(f"{spk}*{letter}?.wav"))[:per_class]:
                rows.append(f"{wav},{label},{spk},Kids are talking by the door")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_evaluate_two_folds_in_parallel_then_restart_and_alignment(tmp_path, cache_dir, capsys):
    from training import alignment

    manifest = tiny_manifest(tmp_path / "tiny.csv")
    out = tmp_path / "run"
    argv = ["--corpus", "manifest", "--data", str(manifest), "--system", "ctc", "--target", "wn",
            "--out", str(out), "--epochs", "2", "--jobs", "2", "--cache-dir", str(cache_dir), "--quiet"]
    assert evaluate.main(argv) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    folds = [json.loads((out / "folds" / f"fold_0{i}.json").read_text()) for i in range(2)]
    assert line["folds"] == 2 and [f["test_speakers"] for f in folds] == [["03"], ["08"]]
    for f in folds:  # per-fold UAR is recall over the true classes, not over the predictions
        assert f["n_test"] == 8 and f["uar"] == pytest.approx(hand_uar(f["y_true"], f["y_pred"]))
    assert any(hand_uar(f["y_true"], f["y_pred"]) != pytest.approx(hand_uar(f["y_pred"], f["y_true"]))
               for f in folds), "the case must tell uar(y, pred) from uar(pred, y)"
    summary = json.loads((out / "results.json").read_text())
    assert summary["uar_per_fold"] == [round(f["uar"], 2) for f in folds]
    one_job = tmp_path / "one_job"  # the same folds trained one after the other
    assert evaluate.main([a if a != str(out) else str(one_job) for a in argv] + ["--jobs", "1"]) == 0
    for i, f in enumerate(folds):
        assert json.loads((one_job / "folds" / f"fold_0{i}.json").read_text())["y_pred"] == f["y_pred"]
    capsys.readouterr()

    # training.alignment on the held-out posteriors (the manifest's files are EmoDB's)
    align = tmp_path / "alignment"
    assert alignment.main(["--run", str(out), "--data", str(EMODB), "--out", str(align), "--examples", "1"]) == 0
    # 08a01Wa's lablaut file has no labels: skipped
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"utterances": 15, "skipped": 1, "plots": 1}
    counts = json.loads((align / "alignment.json").read_text())["counts"]
    posts = alignment.load_posteriors(out)
    assert len(posts) == 16
    del posts["08a01Wa"]
    assert sum(c[k][1] for c in counts.values() for k in c) == sum(len(p) for p in posts.values())
    assert sum(c[k][0] for c in counts.values() for k in c) == sum(int((p.argmax(1) == 0).sum()) for p in posts.values())
    assert "| all |" in (align / "alignment.md").read_text() and len(list(align.glob("fig2_*.png"))) == 1

    # --restart: another run in the same directory replaces the saved folds
    other = [a if a != "2" else "1" for a in argv]  # --epochs 1, --jobs 1
    with pytest.raises(SystemExit, match="different run"):
        evaluate.main(other)
    stamps = [(out / "folds" / f"fold_0{i}.json").stat().st_mtime_ns for i in range(2)]
    assert evaluate.main(other + ["--restart"]) == 0
    assert json.loads((out / "run.json").read_text())["epochs"] == 1
    assert all((out / "folds" / f"fold_0{i}.json").stat().st_mtime_ns != s for i, s in enumerate(stamps))


def test_speaker_and_corpus_folds():
    from training import dataset

    assert dataset.speaker_folds(["a", "b", "c", "d", "e"], 2) == [["a", "c", "e"], ["b", "d"]]
    assert dataset.speaker_folds(["a", "b"], 0) == dataset.speaker_folds(["a", "b"], 5) == [["a"], ["b"]]
    one = dataset.Corpus.__new__(dataset.Corpus)
    one.utterances = [Utterance(Path("x.wav"), "anger", "s1", "emodb", "", None, "x")]
    with pytest.raises(ValueError, match="two or more"):
        dataset.corpus_folds(one)


def test_reference_svm_on_speaker_folds(tmp_path, cache_dir, capsys):
    from training import reference

    manifest = tiny_manifest(tmp_path / "tiny.csv", speakers=("03", "08", "09"))
    out = tmp_path / "ref.json"
    argv = ["--corpus", "manifest", "--data", str(manifest), "--features", "lld", "--folds", "2",
            "--norm", "adaptive", "--cache-dir", str(cache_dir), "--out", str(out)]
    assert reference.main(argv) == 0
    r = json.loads(out.read_text())
    assert [f["held_out"] for f in r["folds"]] == [["03", "09"], ["08"]]
    for cond in ("utterance", "session", "emotion", "speaker"):
        fold = r["folds"][1][cond]
        assert len(fold["y_true"]) == 8 and fold["uar"] == pytest.approx(hand_uar(fold["y_true"], fold["y_pred"]))
    assert "utterance" in capsys.readouterr().out
