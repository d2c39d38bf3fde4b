"""Tests of the default preset, the training module's metric logging, and the RBP24
benchmark's table writing (on made-up results; the benchmark data is not used)."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gennie.config import TrainConfig
from gennie.config.presets import preset_architecture
from gennie.model import build_network, layer_table

ROOT = Path(__file__).resolve().parents[1]


def _rbp24():
    spec = importlib.util.spec_from_file_location("rbp24", ROOT / "benchmarks" / "rbp24.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["rbp24"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_default_preset_is_gennie_and_enngene_stays_available() -> None:
    assert TrainConfig().preset == "gennie"
    assert preset_architecture("enngene", ["seq"]).branches["seq"][0].filters == 40


def test_gennie_preset_layer_shapes() -> None:
    inputs = {"seq": (4, 150)}
    model = build_network(preset_architecture("gennie", ["seq"]), inputs, 2)
    rows = [(r["layer"], r["output_shape"], r["parameters"]) for r in layer_table(model, inputs)]
    # 150 - 11 = 139 positions after the first convolution, floor(139 / 3) = 46 after
    # pooling, 46 after the 'same' convolution, floor(46 / 3) = 15 after pooling.
    assert rows == [
        ("branches.seq.0.conv", "(n, 64, 139)", 4 * 12 * 64 + 64),
        ("branches.seq.0.activation", "(n, 64, 139)", 0),
        ("branches.seq.0.batch_norm", "(n, 64, 139)", 2 * 64),
        ("branches.seq.1.pool", "(n, 64, 46)", 0),
        ("branches.seq.1.dropout", "(n, 64, 46)", 0),
        ("branches.seq.2.conv", "(n, 64, 46)", 64 * 5 * 64 + 64),
        ("branches.seq.2.activation", "(n, 64, 46)", 0),
        ("branches.seq.2.batch_norm", "(n, 64, 46)", 2 * 64),
        ("branches.seq.3.pool", "(n, 64, 15)", 0),
        ("branches.seq.3.dropout", "(n, 64, 15)", 0),
        ("concat", "(n, 64, 15)", 0),
        ("common.0.flatten", "(n, 960)", 0),
        ("common.0.linear", "(n, 64)", 64 * 15 * 64 + 64),
        ("common.0.activation", "(n, 64)", 0),
        ("common.0.dropout", "(n, 64)", 0),
        ("output", "(n, 2)", 64 * 2 + 2),
    ]


def test_gennie_preset_on_two_branches_joins_channels() -> None:
    inputs = {"seq": (4, 150), "fold": (3, 150)}
    model = build_network(preset_architecture("gennie", list(inputs)), inputs, 2)
    shapes = {r["layer"]: r["output_shape"] for r in layer_table(model, inputs)}
    assert shapes["concat"] == "(n, 128, 15)"
    assert model.branches["fold"][0].conv.weight.shape == (64, 3, 12)


def test_train_metrics_are_logged_once_per_epoch_with_exact_values() -> None:
    from gennie.training.module import Classifier

    class Fixed(torch.nn.Module):
        """Logits given by the input itself: x has shape (n, 2, 1)."""

        def __init__(self) -> None:
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, :, 0] + 0 * self.unused

    module = Classifier(Fixed(), 2, TrainConfig(shift=0), steps_per_epoch=2)
    logged: dict[str, float] = {}
    module.log = lambda name, value, **_: logged.__setitem__(name, float(value))
    module.on_train_epoch_start()
    # Batch 1: probabilities of class 1 are 0.5 and 0.73; batch 2: 0.27.
    x1 = torch.tensor([[[0.0], [0.0]], [[0.0], [1.0]]])
    x2 = torch.tensor([[[1.0], [0.0]]])
    module._train_loss((x1,), torch.tensor([0, 1]))
    module._train_loss((x2,), torch.tensor([1]))
    assert logged == {}  # the batches only collect their outputs
    module._log_train()  # at the epoch's last group
    logits = torch.cat([x1, x2])[:, :, 0]
    labels = torch.tensor([0, 1, 1])
    expected_loss = torch.nn.functional.cross_entropy(logits, labels).item()
    assert logged["train_loss"] == pytest.approx(expected_loss, abs=1e-6)
    # argmax: [0 (tie → first), 1, 0] against [0, 1, 1] → 2 of 3 right.
    assert logged["train_accuracy"] == pytest.approx(2 / 3)
    # Class-1 scores 0.5, 0.73, 0.27 for labels 0, 1, 1: one of two positive pairs
    # ranked right → 0.5 for each class, macro 0.5.
    assert logged["train_auroc"] == pytest.approx(0.5)


PUM2 = (0.964, 0.967, 0.965, 0.972)
ALKBH5 = (0.668, 0.758, 0.740, 0.877)


def test_rbp24_table_and_csv_from_made_up_results(tmp_path: Path) -> None:
    rbp24 = _rbp24()
    results = [
        rbp24.Result("PARCLIP_PUM2", 0.97, 120.0, 8, 18, PUM2),
        rbp24.Result("ALKBH5_Baltz2012", 0.70, 30.0, 3, 13, ALKBH5),
    ]
    csv_path, md_path = rbp24.write_table(results, tmp_path, label="gennie seq")
    lines = md_path.read_text().splitlines()
    assert lines[0] == "| experiment | gennie seq | DeepBind | iDeepE | DeepRKE | ENNGene |"
    # Table order, not input order; the means cover only the experiments with results.
    assert lines[2] == "| ALKBH5_Baltz2012 | 0.700 | 0.668 | 0.758 | 0.740 | 0.877 |"
    assert lines[3] == "| PARCLIP_PUM2 | 0.970 | 0.964 | 0.967 | 0.965 | 0.972 |"
    assert lines[4] == (
        "| **mean of 2** | **0.835** | **0.816** | **0.863** | **0.853** | **0.924** |"
    )
    assert lines[6] == "Total time (preprocess + train + evaluate): 2.5 min."
    with open(csv_path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == rbp24.CSV_COLUMNS
    assert rows[1] == ["ALKBH5_Baltz2012", "0.7000", "0.668", "0.758", "0.740", "0.877"] + [
        "30.0",
        "3",
        "13",
    ]
    assert rbp24.read_results(tmp_path) == sorted(results, key=lambda r: r.experiment)
    pngs = rbp24.plot_results(results, tmp_path)
    assert all(p.stat().st_size > 0 for p in pngs)


def test_rbp24_table_with_an_experiment_not_in_the_paper(tmp_path: Path) -> None:
    rbp24 = _rbp24()
    results = [
        rbp24.Result("ICLIP_NEW", 0.91, 60.0, 5, 15),
        rbp24.Result("PARCLIP_PUM2", 0.97, 120.0, 8, 18, PUM2),
        rbp24.Result("ALKBH5_Baltz2012", 0.70, 30.0, 3, 13, ALKBH5),
    ]
    csv_path, md_path = rbp24.write_table(results, tmp_path)
    lines = md_path.read_text().splitlines()
    assert lines[4] == "| ICLIP_NEW | 0.910 | — | — | — | — |"  # after the bundled ten
    assert lines[5] == "| **mean of 3** | **0.860** | — | — | — | — |"
    assert lines[6] == (
        "| **mean of the 2 in the paper's Table 1** | **0.835** | **0.816** | **0.863** "
        "| **0.853** | **0.924** |"
    )
    with open(csv_path, newline="") as handle:
        assert list(csv.reader(handle))[3][:6] == ["ICLIP_NEW", "0.9100", "", "", "", ""]
    assert rbp24.read_results(tmp_path)[-1] == results[0]
    assert all(p.stat().st_size > 0 for p in rbp24.plot_results(results, tmp_path))


def test_rbp24_published_means_match_the_paper_and_the_data_readme() -> None:
    rbp24 = _rbp24()
    # The paper's average over all 24 (Table 1, last row) ...
    means = np.mean([row[3] for row in rbp24.TABLE_1], axis=0)
    assert np.round(means, 3).tolist() == [0.918, 0.931, 0.934, 0.947]
    # ... and over the bundled ten (train positives as in the data README).
    ten = {1213, 1860, 9369, 8140, 8595, 9464, 8539, 9116, 10276, 7298}
    means = np.mean([row[3] for row in rbp24.TABLE_1 if row[1] in ten], axis=0)
    assert np.round(means, 3).tolist() == [0.892, 0.911, 0.909, 0.946]


def _fasta(path: Path, records: int) -> None:
    text = "".join(f">s{i};chr1,{i},{i + 5},+\nacgtACGUAacgt\n" for i in range(records))
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)


def test_rbp24_finds_any_experiment_and_its_published_row(tmp_path: Path) -> None:
    rbp24 = _rbp24()
    # GraphProt's uncompressed files, with ALKBH5's numbers of training sequences.
    _fasta(tmp_path / "RENAMED.train.positives.fa", 1213)
    _fasta(tmp_path / "RENAMED.train.negatives.fa", 1197)
    for cls in ("positives", "negatives"):
        _fasta(tmp_path / f"PARCLIP_PUM2.train.{cls}.fa.gz", 3)
        _fasta(tmp_path / f"PARCLIP_PUM2.ls.{cls}.fa.gz", 2)
        _fasta(tmp_path / f"RENAMED.ls.{cls}.fa", 2)
    _fasta(tmp_path / "HALF.train.positives.fa.gz", 2)  # no other file: not an experiment
    assert rbp24.find_experiments(tmp_path) == ["PARCLIP_PUM2", "RENAMED"]
    assert rbp24.train_files(tmp_path, "RENAMED")["negative"].name == ("RENAMED.train.negatives.fa")
    assert rbp24.published_aurocs(tmp_path, "RENAMED") == ALKBH5
    assert rbp24.published_aurocs(tmp_path, "PARCLIP_PUM2") is None  # 3/3: no such row
    with pytest.raises(SystemExit) as error:
        rbp24.main(["--data", str(tmp_path), "--experiments", "HALF"])
    assert error.value.code == 2


def test_rbp24_defaults_summary_means_per_variant(tmp_path) -> None:
    _rbp24()  # the variants script imports its experiment list
    spec = importlib.util.spec_from_file_location(
        "rbp24_defaults", ROOT / "benchmarks" / "rbp24_defaults.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def row(experiment: str, variant: str, seed: int, auroc: float) -> dict[str, str]:
        return {
            "experiment": experiment,
            "variant": variant,
            "seed": str(seed),
            "test_auroc": str(auroc),
        }

    rows = [
        row("PARCLIP_PUM2", "default", 0, 0.9),
        row("PARCLIP_PUM2", "default", 1, 0.8),
        row("ALKBH5_Baltz2012", "default", 0, 0.7),
        row("PARCLIP_PUM2", "window375", 0, 0.95),
    ]
    text = module.summarise(rows, tmp_path)
    assert text.splitlines() == [
        "| variant | ALKBH5_Baltz2012 | PARCLIP_PUM2 | mean |",
        "|---|---|---|---|",
        "| default | 0.700 | 0.850 (n=2) | 0.775 |",
        "| window375 |  | 0.950 |  |",
    ]
    assert (tmp_path / "variants.md").read_text() == text


def test_rbp24_quick_run_with_another_seed(tmp_path: Path, monkeypatch) -> None:
    rbp24 = _rbp24()
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))  # for the worker process
    rng = np.random.default_rng(0)
    for part, records in (("train", 100), ("ls", 20)):
        for cls in ("positives", "negatives"):
            lines = []
            for i in range(records):
                bases = "".join(rng.choice(list("ACGU"), 40))
                if cls == "positives":  # a planted site, so that the run can learn
                    bases = bases[:15] + "UGUAAAUA" + bases[23:]
                lines.append(f">s{i};chr1,{i},{i + 40},+\n{bases}\n")
            (tmp_path / f"TOY.{part}.{cls}.fa").write_text("".join(lines))
    out = tmp_path / "out"
    args = ["--data", str(tmp_path), "--quick", "--jobs", "1", "--window", "40"]
    rbp24.main([*args, "--seed", "3", "--out", str(out)])
    runs = out / "runs" / "TOY"
    for stage in ("preprocess", "train"):
        assert "seed: 3\n" in (runs / f"TOY-{stage}" / "parameters.yaml").read_text()
    (row,) = csv.DictReader((out / "results.csv").open())
    assert row["experiment"] == "TOY" and float(row["gennie"]) > 0.9
