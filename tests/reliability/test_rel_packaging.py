"""The wheel carries what the README's first command needs: the sample recording and the model."""

from __future__ import annotations

import fnmatch
import tomllib

from rel_common import ROOT


def test_package_data_includes_sample_and_model():
    """`pip wheel .` left out realtime_ser/samples/speech.wav."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["realtime_ser"]
    package = ROOT / "realtime_ser"
    needed = ["samples/speech.wav", "models/default/config.json", "models/default/model.safetensors",
              "models/default/MODEL_CARD.md"]
    for rel in needed:
        assert (package / rel).is_file(), rel
        assert any(fnmatch.fnmatch(rel, pat) for pat in patterns), f"{rel} not in package-data {patterns}"
