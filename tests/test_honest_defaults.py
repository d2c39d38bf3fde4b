"""Tests for the honest defaults: the minority class's scores beside the macro averages,
class weights in the training loss, logo numbering, the FASTA padding note and the
quickstart's interpretation inputs. Exact values on tiny hand-made inputs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydantic
import pytest
import torch
import torch.nn.functional as F
import yaml
from cli_run import run_gennie

from gennie.attribution.report import ReportSample, branch_views, logo_figure
from gennie.cli import _minority
from gennie.config import TrainConfig
from gennie.config.stages import parse_class_weights
from gennie.dataset.mapping import choose_window, padding_note
from gennie.encode import make_encoder
from gennie.errors import UserError
from gennie.quickstart import _first_records
from gennie.scoring.metrics import class_balance, classification_metrics, headline_metrics
from gennie.scoring.score import imbalance_warned_once, score
from gennie.training.module import Classifier, class_weight_vector

CLASSES = ["positive", "negative"]

# 1 positive : 4 negatives. positive's scores: its one sample (0.6) ranks second after a
# negative (0.7) -> AP 1/2, AUROC 3/4. negative's (1 - p): 0.9, 0.8, 0.7 (negatives),
# 0.4 (the positive), 0.3 (a negative) -> AP (1 + 1 + 1 + 4/5) / 4 = 0.95, AUROC 3/4.
P_POSITIVE = np.array([0.6, 0.7, 0.2, 0.1, 0.3])
PROBS = np.column_stack([P_POSITIVE, 1 - P_POSITIVE])
LABELS = np.array([0, 1, 1, 1, 1])


# --------------------------------------------------------------------------- scoring


def test_minority_scores_beside_the_macro_ones() -> None:
    metrics = classification_metrics(PROBS, LABELS, CLASSES)
    assert metrics["auprc"] == pytest.approx(0.725)
    assert metrics["per_class"]["negative"]["auprc"] == pytest.approx(0.95)
    assert metrics["minority"] == {
        "class": "positive",
        "auroc": pytest.approx(0.75),
        "auprc": pytest.approx(0.5),
        "share": pytest.approx(0.2),
    }
    assert metrics["class_shares"] == {"positive": 0.2, "negative": 0.8}
    assert metrics["imbalance"] == 4.0
    headline = headline_metrics(metrics)
    assert headline["minority"]["auprc"] == pytest.approx(0.5)
    assert headline["class_shares"] == {"positive": 0.2, "negative": 0.8}


def test_class_balance_ties_and_missing_classes() -> None:
    per_class = {
        "a": {"auroc": 0.5, "auprc": 0.25, "support": 2},
        "b": {"auroc": 0.75, "auprc": 0.5, "support": 2},
        "c": {"auroc": None, "auprc": None, "support": 0},
    }
    balance = class_balance(per_class, 4)
    # The first of equals, never a class without samples; no ratio with an empty class.
    assert balance["minority"] == {"class": "a", "auroc": 0.5, "auprc": 0.25, "share": 0.5}
    assert balance["class_shares"] == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert balance["imbalance"] is None


def test_score_warns_on_imbalance(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    with caplog.at_level(logging.WARNING, logger="gennie.scoring"):
        metrics = score(PROBS, LABELS, CLASSES, tmp_path)
    assert metrics["imbalance"] == 4.0
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "gennie.scoring"]
    assert "positive 20.0%, negative 80.0%" in warning
    assert "largest 4.0× the smallest" in warning
    assert "macro AUPRC 0.725 hides the smallest class positive, whose own AUPRC is 0.500" in (
        warning
    )
    assert '"minority"' in (tmp_path / "metrics.json").read_text()


def test_a_search_warns_once_per_class_shares(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="gennie.scoring"):
        with imbalance_warned_once():
            for _ in range(3):  # three trials scoring the same validation split
                score(PROBS, LABELS, CLASSES)
        score(PROBS, LABELS, CLASSES)  # outside: every scoring warns again
    warnings = [r for r in caplog.records if r.name == "gennie.scoring"]
    assert len(warnings) == 2


def test_score_is_quiet_below_three_to_one(caplog: pytest.LogCaptureFixture) -> None:
    labels = np.array([0, 0, 1, 1, 1, 1])  # 1 : 2
    probs = np.column_stack([np.linspace(0.9, 0.1, 6), np.linspace(0.1, 0.9, 6)])
    with caplog.at_level(logging.WARNING, logger="gennie.scoring"):
        metrics = score(probs, labels, CLASSES)
    assert metrics["imbalance"] == 2.0
    assert not [r for r in caplog.records if r.name == "gennie.scoring"]


def test_cli_summary_names_the_minority_class() -> None:
    minority = {"class": "positive", "auprc": 0.5, "auroc": 0.75, "share": 0.2}
    assert _minority({"minority": minority}) == (
        "  AUPRC(minority positive) 0.5000  AUROC(minority positive) 0.7500"
    )
    assert _minority({"auprc": 0.9}) == ""  # metrics of runs from before


# --------------------------------------------------------------------------- class weights


def test_class_weights_setting() -> None:
    assert TrainConfig().class_weights == "none"
    assert TrainConfig(class_weights=" balanced ").class_weights == "balanced"
    assert parse_class_weights("positive=4, negative=0.5") == {"positive": 4.0, "negative": 0.5}
    for bad in ("", "positive", "positive=", "positive=-1", "positive=0", "a=1,a=2", "=2"):
        with pytest.raises(ValueError, match="is not NAME=W"):
            parse_class_weights(bad)
    with pytest.raises(pydantic.ValidationError, match="class_weights"):
        TrainConfig(class_weights="balance")


def test_balanced_weights_are_n_over_k_times_count() -> None:
    # 5 samples, 2 classes: positive 5 / (2 * 1) = 2.5, negative 5 / (2 * 4) = 0.625.
    weights = class_weight_vector("balanced", LABELS, CLASSES)
    assert weights.tolist() == [2.5, 0.625]
    assert weights.dtype == torch.float32
    # 3 classes, one absent from training: 4 / (3 * 3), 4 / (3 * 1), 0.
    weights = class_weight_vector("balanced", np.array([0, 0, 0, 1]), ["a", "b", "c"])
    np.testing.assert_allclose(weights.numpy(), [4 / 9, 4 / 3, 0.0], rtol=1e-6)


def test_named_and_no_weights() -> None:
    assert class_weight_vector("none", LABELS, CLASSES) is None
    assert class_weight_vector("negative=0.5", LABELS, CLASSES).tolist() == [1.0, 0.5]
    with pytest.raises(UserError, match="'negativ'") as caught:
        class_weight_vector("negativ=2", LABELS, CLASSES)
    assert caught.value.field == "class_weights"


def test_training_loss_uses_the_class_weights() -> None:
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.5, -0.5], [0.0, 3.0]])
    y = torch.from_numpy(LABELS)
    weights = class_weight_vector("balanced", LABELS, CLASSES)
    network = torch.nn.Linear(1, 2)
    weighted = Classifier(network, 2, TrainConfig(), 1, class_weights=weights)
    plain = Classifier(network, 2, TrainConfig(), 1)
    per_sample = F.cross_entropy(logits, y, reduction="none")
    w = weights[y]
    expected = float((w * per_sample).sum() / w.sum())
    assert float(weighted._loss(logits, y)) == pytest.approx(expected, rel=1e-6)
    assert float(plain._loss(logits, y)) == pytest.approx(float(per_sample.mean()), rel=1e-6)
    assert expected != pytest.approx(float(per_sample.mean()))
    # Not saved with the model: the weights shape training only.
    assert "class_weights" not in weighted.state_dict()


# --------------------------------------------------------------------------- logos


def test_logo_file_and_title_number_the_row_alike() -> None:
    length = 6
    seq = np.eye(4, dtype=np.float32)[:, [0, 1, 2, 3, 0, 1]]
    sample = ReportSample(
        section="bound", rank=1, row=70, label="seq 71",
        probabilities={"bound": 0.9, "unbound": 0.1}, target="bound", score=2.0,
        baseline_score=0.1, delta=1e-3, inputs={"seq": seq},
        values={"seq": np.ones((4, length), np.float32)},
    )  # fmt: skip
    assert sample.number == 71
    assert sample.stem == "bound_01_row71"
    views = branch_views({"seq": make_encoder("seq")}, "rna")
    title = logo_figure(sample, views).axes[0].get_title(loc="left")
    assert title.startswith("#1 bound, row 71: seq 71")


# --------------------------------------------------------------------------- padding note


def test_padding_note_suggests_the_longest_when_all_are_short() -> None:
    note = padding_note(np.array([101, 101, 101]), 150)
    assert note == (
        "3 of 3 sequences shorter than the window (150) were padded with N (49 N per "
        "sequence on average); lengths: median 101, max 101; use --window 101 to fit them"
    )


def test_padding_note_suggests_the_median_when_some_are_long() -> None:
    # Padded: 150 - 100 = 50 and 150 - 120 = 30, 40 on average.
    note = padding_note(np.array([100, 120, 200]), 150)
    assert note.endswith("(40 N per sequence on average); lengths: median 120, max 200; "
                         "use --window 120 to fit them")  # fmt: skip
    assert note.startswith("2 of 3 sequences")


def test_window_chosen_from_lengths_is_the_longest_unless_a_few_are_far_longer() -> None:
    assert choose_window(np.array([101, 101, 101])) == 101
    assert choose_window(np.array([90, 100, 150])) == 150  # 150 <= 1.5 * 100
    assert choose_window(np.array([90, 100, 151])) == 100  # the median
    assert choose_window(np.array([2, 2])) == 4


def test_window_not_given_is_chosen_from_fasta_and_recorded(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("bound", "unbound"):
        seqs = ["".join(rng.choice(list("ACGU"), 101)) for _ in range(30)]
        (tmp_path / f"{name}.fa").write_text(
            "".join(f">{name}{i}\n{s}\n" for i, s in enumerate(seqs))
        )
    out = tmp_path / "runs"
    done = run_gennie(
        "preprocess", "--class", f"bound={tmp_path / 'bound.fa'}",
        "--class", f"unbound={tmp_path / 'unbound.fa'}", "--out", out, "--threads", 1,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_dir = Path(done.stdout.strip())
    assert yaml.safe_load((run_dir / "parameters.yaml").read_text())["window"] == 101
    assert "padded" not in done.stderr
    assert "window not given: 101 bases, from the lengths of 60 sequences" in done.stderr
    log = (run_dir / "gennie.log").read_text()
    assert "dataset: 60 samples, window 101 (train " in log
    assert "  bound: 30 samples (train " in log and " of 30 records" in log
    assert not (run_dir / "progress.json").exists()


def test_padding_note_has_no_suggestion_when_most_fill_the_window() -> None:
    note = padding_note(np.array([100, 200, 200]), 150)
    assert note.endswith("lengths: median 200, max 200")


# --------------------------------------------------------------------------- quickstart


def test_quickstart_explains_the_first_records(tmp_path: Path) -> None:
    fasta = tmp_path / "a.fa"
    fasta.write_text(">x\nACGU\n>y\nGG\n>z\nCC\n")
    assert _first_records(fasta, 2, None) == ["ACGU", "GG"]
    bed = tmp_path / "a.bed"
    bed.write_text("# header\nchr1\t0\t10\nchr1\t5\t15\nchr2\t1\t9\n")
    target = _first_records(bed, 2, tmp_path / "first.bed")
    assert target.read_text() == "chr1\t0\t10\nchr1\t5\t15\n"


# --------------------------------------------------------------------------- train stage


def test_train_stage_applies_class_weights(tmp_path: Path, one_thread: None) -> None:
    import pandas as pd
    from planted import planted_motif_dataset

    from gennie.training.stage import train

    (tmp_path / "data").mkdir()
    dataset = planted_motif_dataset(tmp_path / "data", 40, seed=0)

    def first_train_loss(weights: str) -> float:
        config = TrainConfig(
            dataset=dataset, out=tmp_path / weights, epochs=1, batch_size=16, ensemble=1,
            preset="1layer", early_stopping=False, class_weights=weights,
        )  # fmt: skip
        run = train(config).run_dir
        return float(pd.read_csv(run / "metrics.tsv", sep="\t")["train_loss"][0])

    # Same seed, same batches: only the weights of the loss differ.
    assert first_train_loss("pos=3") != pytest.approx(first_train_loss("none"), rel=1e-6)
    with pytest.raises(UserError, match="'posi'"):
        train(TrainConfig(dataset=dataset, out=tmp_path / "bad", class_weights="posi=2"))
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").glob("train_*"))


def test_predict_ends_with_a_summary_line():
    from gennie.prediction.stage import prediction_summary

    assert prediction_summary(200, {"bound": 120, "unbound": 80}, 0) == (
        "predicted 200 inputs; highest class: bound 120, unbound 80"
    )
    assert prediction_summary(5, {"bound": 5}, 2) == (
        "predicted 5 inputs; highest class: bound 5; 2 without a window"
    )
