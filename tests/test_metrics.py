"""Tests for gennie.scoring.metrics and gennie.scoring.plots on tiny hand-made inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gennie.scoring.metrics import classification_metrics, pr_curves, roc_curves
from gennie.scoring.plots import plot_training_curves, write_confusion_matrix, write_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def two_class_example() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Four samples, two classes; P(class b) = 0.2, 0.6, 0.4, 0.8 for labels a, a, b, b.

    Pairs (positive b, negative a): 0.4>0.2, 0.4<0.6, 0.8>0.2, 0.8>0.6 -> AUROC 3/4.
    Argmax predicts a, b, a, b -> two of four right. Class a is the mirror image.
    """
    p_b = np.array([0.2, 0.6, 0.4, 0.8])
    return np.column_stack([1 - p_b, p_b]), np.array([0, 0, 1, 1]), ["a", "b"]


def calibration_example() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Three samples, one per class; each class's column ranks its own sample first.

    So every one-vs-rest AUROC/AP is 1 (macro 1), but the scores are not comparable
    across classes: pooled, the positive 0.4 ties the negative 0.4 and the micro
    scores are below 1 (computed in the test).
    """
    probs = np.array(
        [
            [0.40, 0.35, 0.25],
            [0.10, 0.50, 0.40],
            [0.30, 0.20, 0.50],
        ]
    )
    return probs, np.array([0, 1, 2]), ["a", "b", "c"]


def test_two_class_metrics_exact() -> None:
    probs, labels, names = two_class_example()
    m = classification_metrics(probs, labels, names)
    assert m["accuracy"] == 0.5
    assert m["auroc"] == pytest.approx(0.75)
    assert m["micro_auroc"] == pytest.approx(0.75)
    # True-class probabilities 0.8, 0.4, 0.4, 0.8: loss = -(2 ln 0.8 + 2 ln 0.4) / 4
    # = -ln(0.32) / 2 = 0.569717...
    assert m["loss"] == pytest.approx(-math.log(0.32) / 2)
    assert m["loss"] == pytest.approx(0.5697171, abs=1e-7)
    # Ranking for b: 0.8 (b), 0.6 (a), 0.4 (b), 0.2 (a): AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert m["auprc"] == pytest.approx(5 / 6)
    assert m["per_class"]["b"] == pytest.approx(
        {"auroc": 0.75, "auprc": 5 / 6, "support": 2, "precision": 0.5, "recall": 0.5}
    )
    assert m["confusion_matrix"] == [[1, 1], [1, 1]]
    assert m["n"] == 4
    assert m["class_names"] == ["a", "b"]
    assert isinstance(m["per_class"]["a"]["support"], int)
    assert all(isinstance(m[key], float) for key in ("loss", "accuracy", "auroc", "auprc"))


def test_loss_is_clipped_like_keras() -> None:
    # A true-class probability of 0 costs -ln(1e-7) = 16.118..., not infinity.
    m = classification_metrics(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 0]), ["a", "b"])
    assert m["loss"] == pytest.approx((-math.log(1e-7) - math.log(1 - 1e-7)) / 2)
    assert m["loss"] == pytest.approx(8.059047, abs=1e-6)


def test_three_class_confusion_matrix() -> None:
    probs = np.array(
        [
            [0.7, 0.2, 0.1],  # a -> a
            [0.3, 0.6, 0.1],  # a -> b
            [0.1, 0.8, 0.1],  # b -> b
            [0.2, 0.5, 0.3],  # b -> b
            [0.1, 0.1, 0.8],  # c -> c
            [0.5, 0.2, 0.3],  # c -> a
        ]
    )
    labels = np.array([0, 0, 1, 1, 2, 2])
    m = classification_metrics(probs, labels, ["a", "b", "c"])
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # b is predicted three times, twice correctly; all of b's samples are found.
    assert m["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert m["per_class"]["b"]["recall"] == 1.0
    assert m["per_class"]["c"]["precision"] == 1.0
    assert m["per_class"]["c"]["recall"] == 0.5


def test_perfect_classifier() -> None:
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6], [0.6, 0.3, 0.1]])
    m = classification_metrics(probs, np.array([0, 1, 2, 0]), ["a", "b", "c"])
    assert m["accuracy"] == 1.0
    assert m["auroc"] == 1.0
    assert m["auprc"] == 1.0
    assert m["micro_auroc"] == 1.0
    assert m["micro_auprc"] == 1.0
    assert all(c["auroc"] == 1.0 and c["auprc"] == 1.0 for c in m["per_class"].values())


def test_micro_and_macro_differ() -> None:
    probs, labels, names = calibration_example()
    m = classification_metrics(probs, labels, names)
    assert m["auroc"] == 1.0
    assert m["auprc"] == 1.0
    # Pooled: positives 0.4, 0.5, 0.5 against negatives 0.35, 0.25, 0.1, 0.4, 0.3, 0.2.
    # 0.5 beats all 6 (twice); 0.4 beats 5 and ties 1 (counts 1/2): 17.5 / 18 = 35/36.
    assert m["micro_auroc"] == pytest.approx(35 / 36)
    # Threshold 0.5: 2 TP, 0 FP (recall 2/3, precision 1); threshold 0.4: 3 TP, 1 FP
    # (recall 1, precision 3/4). AP = 2/3 * 1 + 1/3 * 3/4 = 11/12.
    assert m["micro_auprc"] == pytest.approx(11 / 12)


def test_class_missing_from_labels() -> None:
    probs, _, names = calibration_example()
    labels = np.array([0, 1, 1])  # no sample of class c
    m = classification_metrics(probs, labels, names)
    c = m["per_class"]["c"]
    assert c["auroc"] is None
    assert c["auprc"] is None
    assert c["support"] == 0
    assert c["recall"] is None
    # Sample 3 is predicted c but is b, so c's precision is defined: 0 of 1.
    assert c["precision"] == 0.0
    # Macro averages leave c out: a is ranked perfectly (1.0); b's positives 0.5 and
    # 0.2 against negative 0.35 give AUROC 1/2 and AP 1/2 * 1 + 1/2 * 2/3 = 5/6.
    assert m["per_class"]["a"]["auroc"] == 1.0
    assert m["per_class"]["b"]["auroc"] == pytest.approx(0.5)
    assert m["auroc"] == pytest.approx(0.75)
    assert m["auprc"] == pytest.approx((1.0 + 5 / 6) / 2)
    assert m["confusion_matrix"][2] == [0, 0, 0]
    json.dumps(m, allow_nan=False)  # raises on NaN


def test_metrics_are_json_serialisable() -> None:
    probs, labels, names = two_class_example()
    m = classification_metrics(probs.astype(np.float32), labels.astype(np.int32), names)
    assert json.loads(json.dumps(m, allow_nan=False)) == m


@pytest.mark.parametrize(
    ("probs", "labels", "match"),
    [
        (np.ones((2, 2)) / 2, np.array([0, 2]), "labels must lie"),
        (np.ones((2, 3)) / 3, np.array([0, 1]), "class names"),
        (np.ones(4) / 2, np.array([0, 1]), "shape"),
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), np.array([0, 1]), "NaN"),
        (np.ones((2, 2)) / 2, np.array([0.0, 1.0]), "integer"),
    ],
)
def test_invalid_inputs_are_rejected(probs: np.ndarray, labels: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        classification_metrics(probs, labels, ["a", "b"])


def test_roc_curves_exact_points() -> None:
    probs, labels, names = two_class_example()
    roc = roc_curves(probs, labels, names)
    assert list(roc.columns) == ["class", "fpr", "tpr", "threshold"]
    assert list(roc["class"].unique()) == ["a", "b", "micro", "macro"]
    b = roc[roc["class"] == "b"]
    assert b["fpr"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert b["tpr"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert b["threshold"].tolist()[1:] == [0.8, 0.6, 0.4, 0.2]
    # Both classes share this curve, so their vertical average keeps its steps.
    macro = roc[roc["class"] == "macro"]
    assert macro["fpr"].tolist() == b["fpr"].tolist()
    assert macro["tpr"].tolist() == b["tpr"].tolist()


def test_roc_curves_end_at_one_and_macro_area_matches() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 25)
    logits = rng.normal(size=(100, 4)) + 1.5 * np.eye(4)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    names = ["w", "x", "y", "z"]
    roc = roc_curves(probs, labels, names)
    for _, curve in roc.groupby("class"):
        assert (curve["fpr"].iloc[0], curve["tpr"].iloc[0]) == (0.0, 0.0)
        assert (curve["fpr"].iloc[-1], curve["tpr"].iloc[-1]) == (1.0, 1.0)
        assert (np.diff(curve["fpr"]) >= 0).all() and (np.diff(curve["tpr"]) >= 0).all()
    macro = roc[roc["class"] == "macro"]
    area = np.trapezoid(macro["tpr"], macro["fpr"])
    assert area == pytest.approx(classification_metrics(probs, labels, names)["auroc"])


def test_curves_skip_missing_class() -> None:
    probs, _, names = calibration_example()
    labels = np.array([0, 1, 1])
    assert set(roc_curves(probs, labels, names)["class"]) == {"a", "b", "micro", "macro"}
    assert set(pr_curves(probs, labels, names)["class"]) == {"a", "b", "micro"}


def test_pr_curves_exact_points() -> None:
    probs, labels, names = two_class_example()
    pr = pr_curves(probs, labels, names)
    assert list(pr.columns) == ["class", "recall", "precision", "threshold"]
    assert list(pr["class"].unique()) == ["a", "b", "micro"]
    b = pr[pr["class"] == "b"]
    assert b["recall"].tolist() == [1.0, 1.0, 0.5, 0.5, 0.0]
    assert b["precision"].tolist() == pytest.approx([0.5, 2 / 3, 0.5, 1.0, 1.0])
    assert b["threshold"].tolist()[:4] == [0.2, 0.4, 0.6, 0.8]
    assert math.isnan(b["threshold"].iloc[-1])


def assert_png(path: Path) -> None:
    assert path.is_file()
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 5000


def test_write_curves_files(tmp_path: Path) -> None:
    probs, labels, names = calibration_example()
    written = write_curves(probs, labels, names, tmp_path / "eval", prefix="test_")
    expected = {f"{kind}_curve.{ext}" for kind in ("roc", "pr") for ext in ("png", "svg", "tsv")}
    assert set(written) == expected
    for name, path in written.items():
        assert path == tmp_path / "eval" / f"test_{name}"
        assert path.stat().st_size > 0
    assert_png(written["roc_curve.png"])
    assert_png(written["pr_curve.png"])
    assert written["roc_curve.svg"].read_text().lstrip().startswith("<?xml")
    roc = pd.read_csv(written["roc_curve.tsv"], sep="\t")
    assert list(roc.columns) == ["class", "fpr", "tpr", "threshold"]
    assert set(roc["class"]) == {"a", "b", "c", "micro", "macro"}
    pr = pd.read_csv(written["pr_curve.tsv"], sep="\t")
    assert list(pr.columns) == ["class", "recall", "precision", "threshold"]
    assert set(pr["class"]) == {"a", "b", "c", "micro"}


def test_write_curves_binary_with_missing_class(tmp_path: Path) -> None:
    # Only class a occurs: no per-class curves, but the plots are still written.
    probs = np.array([[0.7, 0.3], [0.4, 0.6]])
    written = write_curves(probs, np.array([0, 0]), ["a", "b"], tmp_path)
    assert_png(written["roc_curve.png"])
    assert_png(written["pr_curve.png"])


def test_write_confusion_matrix(tmp_path: Path) -> None:
    matrix = [[1, 1, 0], [0, 2, 0], [0, 0, 0]]
    written = write_confusion_matrix(matrix, ["a", "b", "c"], tmp_path, prefix="val_")
    assert set(written) == {"confusion_matrix.png", "confusion_matrix.svg", "confusion_matrix.tsv"}
    assert_png(written["confusion_matrix.png"])
    assert written["confusion_matrix.svg"].stat().st_size > 0
    table = pd.read_csv(tmp_path / "val_confusion_matrix.tsv", sep="\t", index_col=0)
    assert list(table.index) == ["a", "b", "c"]
    assert list(table.columns) == ["a", "b", "c"]
    assert table.to_numpy().tolist() == matrix


def test_write_confusion_matrix_rejects_wrong_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="shape"):
        write_confusion_matrix([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path)


def test_plot_training_curves_three_epochs(tmp_path: Path) -> None:
    tsv = tmp_path / "metrics.tsv"
    # An empty validation cell and no AUROC columns must be tolerated.
    tsv.write_text(
        "epoch\ttrain_loss\tval_loss\ttrain_accuracy\tval_accuracy\tlr\n"
        "1\t1.05\t0.98\t0.45\t0.50\t0.001\n"
        "2\t0.80\t\t0.60\t\t0.001\n"
        "3\t0.62\t0.71\t0.72\t0.68\t0.0001\n"
    )
    paths = plot_training_curves(tsv, tmp_path / "plots", best_epoch=3)
    assert paths == [
        tmp_path / "plots" / "training_curves.png",
        tmp_path / "plots" / "training_curves.svg",
    ]
    assert_png(paths[0])
    assert paths[1].read_text().lstrip().startswith("<?xml")


def test_plot_training_curves_single_row_and_split_rows(tmp_path: Path) -> None:
    single = tmp_path / "single.tsv"
    single.write_text("epoch\tval_loss\n0\t0.69\n")
    assert_png(plot_training_curves(single, tmp_path / "single")[0])
    # Training and validation values logged on separate rows of the same epoch.
    split = tmp_path / "split.tsv"
    split.write_text("epoch\ttrain_loss\tval_loss\n0\t0.9\t\n0\t\t0.8\n1\t0.7\t\n1\t\t0.75\n")
    assert_png(plot_training_curves(split, tmp_path / "split", best_epoch=1)[0])
