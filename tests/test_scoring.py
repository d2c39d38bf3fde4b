"""Tests for gennie.scoring.score: the one scoring function of train, evaluate and tune."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gennie.scoring.score import score

# Four samples, two classes: P(b) = 0.2, 0.6, 0.4, 0.8 for true classes a, a, b, b.
PROBS = np.column_stack([[0.8, 0.4, 0.6, 0.2], [0.2, 0.6, 0.4, 0.8]])
LABELS = np.array([0, 0, 1, 1])
CLASSES = ["a", "b"]

WRITTEN = {
    "metrics.json",
    *(
        f"{stem}.{ext}"
        for stem in ("roc_curve", "pr_curve", "confusion_matrix")
        for ext in ("png", "svg", "tsv")
    ),
}


def test_scores_without_a_folder_write_nothing(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    metrics = score(PROBS, LABELS, CLASSES)
    # Pairs (b, a): 0.4 > 0.2, 0.4 < 0.6, 0.8 > 0.2, 0.8 > 0.6 -> AUROC 3/4; argmax a, b, a, b.
    assert metrics["auroc"] == pytest.approx(0.75)
    assert metrics["accuracy"] == 0.5
    assert metrics["confusion_matrix"] == [[1, 1], [1, 1]]
    assert metrics["n"] == 4 and metrics["class_names"] == CLASSES
    assert list(tmp_path.iterdir()) == []


def test_scores_with_a_folder_write_the_evaluation_files(tmp_path: Path) -> None:
    folder = tmp_path / "new" / "evaluation"
    metrics = score(PROBS, LABELS, CLASSES, folder)
    assert {p.name for p in folder.iterdir()} == WRITTEN
    assert json.loads((folder / "metrics.json").read_text()) == metrics
    confusion = pd.read_csv(folder / "confusion_matrix.tsv", sep="\t", index_col=0)
    assert confusion.to_numpy().tolist() == metrics["confusion_matrix"]
    roc = pd.read_csv(folder / "roc_curve.tsv", sep="\t")
    assert set(roc["class"]) == {"a", "b", "micro", "macro"}


def test_the_numbers_do_not_depend_on_the_folder(tmp_path: Path) -> None:
    assert score(PROBS, LABELS, CLASSES, tmp_path) == score(PROBS, LABELS, CLASSES)


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="columns"):
        score(PROBS, LABELS, ["a", "b", "c"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
