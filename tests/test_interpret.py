"""Tests of gennie.interpret: Integrated Gradients, exports, report, motifs, ISM.

Exact values come from tiny hand-made models: for a two-class model that is linear in
its inputs the attributed log-odds is linear too, so Integrated Gradients must equal
``(x - baseline) * (w_1 - w_0)`` and ISM must equal differences of weights. The
end-to-end part trains one small model (seeded, 8 epochs, 600 sequences of 60 bases)
on sequences with TGTAAATA planted at a random position in the bound class and checks
that IG, the filter motifs and ISM all find the planted site.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from cli_run import GENNIE
from torch import nn

from gennie.attribution.attributions import (
    SHUFFLE_SEED_STEP,
    attribute,
    log_odds,
    make_baselines,
    one_hot_letters,
    resolve_target,
    shuffled_baseline,
)
from gennie.attribution.report import BranchView, branch_views, colour, tracks
from gennie.config import ArchitectureConfig, IsmConfig, MotifsConfig, PredictConfig
from gennie.encode import make_encoder
from gennie.encode.alphabet import base_codes, one_hot
from gennie.errors import UserError
from gennie.interpret.ism import mutagenesis, reference_importance, substitutions
from gennie.interpret.motifs import (
    FilterMotif,
    class_activations,
    filter_motifs,
    motifs_table,
    write_meme,
)
from gennie.model.network import MultiBranchNetwork

MOTIF = "TGTAAATA"


def encode(sequences: list[str]) -> np.ndarray:
    """One-hot (n, 4, L) of equal-length sequences."""
    return one_hot(np.stack([base_codes(s) for s in sequences]))


class LinearTwoClass(nn.Module):
    """logits_k = sum(w_k * seq) + sum(v_k * cons) + b_k: log-odds is linear."""

    def __init__(self, w: np.ndarray, v: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=torch.float32))
        self.v = nn.Parameter(torch.tensor(v, dtype=torch.float32))
        self.b = nn.Parameter(torch.tensor(b, dtype=torch.float32))

    def forward(self, seq: torch.Tensor, cons: torch.Tensor) -> torch.Tensor:
        return (
            torch.einsum("kcl,ncl->nk", self.w, seq)
            + torch.einsum("kcl,ncl->nk", self.v, cons)
            + self.b
        )


@pytest.fixture
def linear() -> LinearTwoClass:
    w = np.zeros((2, 4, 5))
    w[1] = np.arange(20).reshape(4, 5) / 10  # class 1 weight of base c at position l
    v = np.zeros((2, 1, 5))
    v[1, 0] = [1.0, -1.0, 0.5, 0.0, 2.0]
    return LinearTwoClass(w, v, np.array([0.0, -1.0]))


# --------------------------------------------------------------------------- IG


def test_log_odds_is_logit_difference_for_two_classes() -> None:
    logits = torch.tensor([[1.0, 3.0], [0.5, -0.5]])
    assert torch.allclose(log_odds(logits), torch.tensor([[-2.0, 2.0], [1.0, -1.0]]))
    three = torch.tensor([[0.0, 0.0, 0.0]])
    # log(p/(1-p)) with p = 1/3 is log(1/2).
    assert torch.allclose(log_odds(three), torch.full((1, 3), float(np.log(0.5))))
    probs = torch.tensor([[0.2, 0.8]])
    assert torch.allclose(log_odds(probs, True), torch.log(torch.tensor([[0.25, 4.0]])))


def test_ig_of_a_linear_model_is_input_times_weight(linear: LinearTwoClass) -> None:
    seq = encode(["ACGTA", "TTGCA"])
    cons = np.array([[[0.5, 1.0, 0.0, 2.0, 1.0]], [[0.0, 0.0, 1.0, 1.0, -1.0]]], np.float32)
    result = attribute(linear, [[seq, cons]], ["seq", "cons"], ["a", "b"], target="b", steps=7)
    w = (linear.w[1] - linear.w[0]).detach().numpy()
    v = (linear.v[1] - linear.v[0]).detach().numpy()
    np.testing.assert_allclose(result.values["seq"][:, 0], seq * w, atol=1e-6)
    np.testing.assert_allclose(result.values["cons"][:, 0], cons * v, atol=1e-6)
    # Sample 1, ACGTA: w[A,0] + w[C,1] + w[G,2] + w[T,3] + w[A,4] = 0+.6+1.2+1.8+.4 = 4.0;
    # cons: .5*1 - 1*1 + 0 + 0 + 1*2 = 1.5; score = 4.0 + 1.5 - 1 = 4.5, baseline -1.
    # Sample 2, TTGCA: 1.5 + 1.6 + 1.2 + 0.8 + 0.4 = 5.5; cons: 0.5 - 2 = -1.5; score 3.0.
    np.testing.assert_allclose(result.scores[:, 0], [4.5, 3.0], atol=1e-5)
    np.testing.assert_allclose(result.baseline_scores[:, 0], [-1.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(result.totals()[:, 0], [5.5, 4.0], atol=1e-5)
    assert np.abs(result.delta).max() < 1e-5
    assert result.targets.tolist() == [[1], [1]]
    # Class a is the mirror image (two classes: log-odds of a = -log-odds of b).
    mirror = attribute(linear, [[seq, cons]], ["seq", "cons"], ["a", "b"], target="a", steps=7)
    np.testing.assert_allclose(mirror.values["seq"], -result.values["seq"], atol=1e-6)


def test_ig_baselines_shuffle_and_file(linear: LinearTwoClass, tmp_path: Path) -> None:
    seq = encode(["ACGTA"])
    cons = np.ones((1, 1, 5), np.float32)
    w = (linear.w[1] - linear.w[0]).detach().numpy()
    base = {"seq": np.full((4, 5), 0.25, np.float32), "cons": np.zeros((1, 5), np.float32)}
    np.savez(tmp_path / "base.npz", **base)
    result = attribute(
        linear,
        [[seq, cons]],
        ["seq", "cons"],
        ["a", "b"],
        target="b",
        baseline="file",
        baseline_file=tmp_path / "base.npz",
    )
    np.testing.assert_allclose(result.values["seq"][0, 0], (seq[0] - 0.25) * w, atol=1e-6)
    shuffled = attribute(
        linear,
        [[seq, cons]],
        ["seq", "cons"],
        ["a", "b"],
        target="b",
        baseline="shuffle",
        sequence="seq",
    )
    expected = make_baselines([seq, cons], ["seq", "cons"], "shuffle", seed=0, sequence="seq")
    np.testing.assert_allclose(
        shuffled.values["seq"][0, 0], (seq[0] - expected[0][0]) * w, atol=1e-6
    )
    np.testing.assert_array_equal(expected[1], 0)  # non-seq branches: zeros
    unshuffled = make_baselines([seq, cons], ["seq", "cons"], "shuffle", seed=0)
    np.testing.assert_array_equal(unshuffled[0], 0)  # no sequence branch named: zeros
    with pytest.raises(UserError, match="no array for branch 'cons'"):
        np.savez(tmp_path / "partial.npz", seq=base["seq"])
        attribute(
            linear,
            [[seq, cons]],
            ["seq", "cons"],
            ["a", "b"],
            baseline="file",
            baseline_file=tmp_path / "partial.npz",
        )


def test_several_shuffles_average_the_attributions_of_each(linear: LinearTwoClass) -> None:
    seq = encode(["AACAG"])
    cons = np.ones((1, 1, 5), np.float32)
    w = (linear.w[1] - linear.w[0]).detach().numpy()
    settings = {"target": "b", "baseline": "shuffle", "sequence": "seq", "steps": 5}
    averaged = attribute(linear, [[seq, cons]], ["seq", "cons"], ["a", "b"], shuffles=3, **settings)
    bases = [
        make_baselines([seq, cons], ["seq", "cons"], "shuffle", seed=k * SHUFFLE_SEED_STEP,
                       sequence="seq")[0][0]
        for k in range(3)
    ]  # fmt: skip
    assert len({one_hot_letters(b[None])[0] for b in bases}) > 1  # different shuffles
    # Linear in the input: the mean attribution is (x - mean baseline) * w.
    expected = (seq[0] - np.mean(bases, axis=0)) * w
    np.testing.assert_allclose(averaged.values["seq"][0, 0], expected, atol=1e-5)
    one = attribute(linear, [[seq, cons]], ["seq", "cons"], ["a", "b"], **settings)
    np.testing.assert_allclose(one.values["seq"][0, 0], (seq[0] - bases[0]) * w, atol=1e-5)
    # Completeness holds for the mean: the sum equals score - mean baseline score.
    np.testing.assert_allclose(
        averaged.totals()[:, 0], averaged.scores[:, 0] - averaged.baseline_scores[:, 0], atol=1e-4
    )


def test_shuffled_baseline_keeps_dinucleotide_counts() -> None:
    x = encode(["AACGTTTGCAAGGT"])
    shuffled = one_hot_letters(shuffled_baseline(x, seed=3))[0]

    def pairs(s: str) -> list[str]:
        return sorted(s[i : i + 2] for i in range(len(s) - 1))

    assert pairs(shuffled) == pairs("AACGTTTGCAAGGT")
    assert shuffled != "AACGTTTGCAAGGT"


def test_targets_highest_named_all_and_unknown() -> None:
    assert resolve_target(None, ["a", "b"]) is None
    assert resolve_target("b", ["a", "b"]) == [1]
    assert resolve_target("all", ["a", "b", "c"]) == [0, 1, 2]
    with pytest.raises(UserError, match="'x' is not a class"):
        resolve_target("x", ["a", "b"])


def test_completeness_of_a_convolutional_network() -> None:
    torch.manual_seed(0)
    architecture = ArchitectureConfig.model_validate(
        {
            "branches": {
                "seq": [
                    {"type": "conv", "filters": 4, "kernel_size": 3, "activation": "relu"},
                    {"type": "pool", "size": 2},
                ],
                "cons": [{"type": "conv", "filters": 2, "kernel_size": 3, "activation": "tanh"}],
            },
            "common": [{"type": "dense", "units": 8, "activation": "elu"}],
        }
    )
    net = MultiBranchNetwork(architecture, {"seq": (4, 12), "cons": (1, 12)}, 3).eval()
    rng = np.random.default_rng(0)
    seq = encode(["".join(rng.choice(list("ACGT"), 12)) for _ in range(5)])
    cons = rng.normal(size=(5, 1, 12)).astype(np.float32)
    result = attribute(net, [[seq, cons]], ["seq", "cons"], ["a", "b", "c"], target="all")
    assert result.values["seq"].shape == (5, 3, 4, 12)
    assert result.values["cons"].shape == (5, 3, 1, 12)
    gap = result.scores - result.baseline_scores
    # captum's delta is exactly the completeness error of the returned attributions ...
    np.testing.assert_allclose(result.totals() - gap, result.delta, atol=1e-4)
    # ... and with 50 steps it is small.
    assert result.relative_error().max() < 0.02
    # The zero seq baseline has no letters: attributions of absent bases are zero.
    absent = np.broadcast_to(seq[:, None] == 0, result.values["seq"].shape)
    assert np.all(result.values["seq"][absent] == 0)


# --------------------------------------------------------------------------- report


def test_colour_scale_is_diverging_and_centred() -> None:
    assert colour(0.0, 1.0) == "#ffffff"
    assert colour(1.0, 1.0) == "#ca0020"  # red: positive
    assert colour(-2.0, 1.0) == "#0571b0"  # blue: negative, clipped
    assert colour(0.5, 1.0) == "#e48090"  # halfway, rounded half to even


def test_branch_views_come_from_the_encoders() -> None:
    encoders = {b: make_encoder(b) for b in ("fold", "seq", "cons")}
    fold, seq, cons = branch_views(encoders, "rna")
    assert seq == BranchView("seq", ("A", "C", "G", "U"), "N", "classic")
    assert fold == BranchView("fold", ("(", ")", "."), " ", "dimgray")
    assert cons == BranchView("cons", None, " ", "dimgray")
    assert seq.letters_for(3) is None  # letters only when every channel has one


def test_tracks_for_seq_fold_and_cons() -> None:
    views = {v.name: v for v in branch_views({b: make_encoder(b) for b in ("seq", "fold")})}
    seq = encode(["ACGN"])[0]
    values = np.arange(16, dtype=float).reshape(4, 4)
    ((label, symbols, sums, raw),) = tracks(views["seq"], seq, values)
    assert (label, symbols, raw) == ("seq", ["A", "C", "G", "N"], None)
    np.testing.assert_allclose(sums, values.sum(axis=0))
    fold = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]], float)
    assert tracks(views["fold"], fold, np.zeros((3, 4)))[0][1] == ["(", ".", ")", " "]
    cons = np.array([[0.0, 0.53, -0.5, 1.25], [12.0, 2.0, 0.0, 0.0]])
    rows = tracks(BranchView("cons"), cons, np.ones((2, 4)))
    assert [r[0] for r in rows] == ["cons1", "cons2"]
    assert rows[0][1] == ["0", ".53", "-.5", "1.2"]
    assert rows[1][1][0] == "12"


def test_report_draws_every_position_of_every_branch(tmp_path: Path) -> None:
    from gennie.attribution.report import ReportSample, write_logos, write_report

    length = 45  # not a multiple of the line length: the last positions must be drawn too
    rng = np.random.default_rng(1)
    seq = encode(["".join(rng.choice(list("ACGU"), length))])[0]
    fold = np.zeros((3, length), np.float32)
    fold[rng.integers(0, 3, length), np.arange(length)] = 1
    cons = rng.normal(size=(1, length)).astype(np.float32)
    inputs = {"seq": seq, "fold": fold, "cons": cons}
    values = {b: rng.normal(size=x.shape).astype(np.float32) for b, x in inputs.items()}
    sample = ReportSample(
        section="bound", rank=1, row=6, label="chr1:100-145 (+)",
        probabilities={"bound": 0.9, "unbound": 0.1}, target="bound", score=2.0,
        baseline_score=0.1, delta=1e-3, inputs=inputs, values=values,
    )  # fmt: skip
    branches = ["seq", "fold", "cons"]
    views = branch_views({b: make_encoder(b) for b in branches}, "rna")
    written = write_logos(tmp_path / "logos", [sample], views)
    assert [p.name for p in written] == ["bound_01_row7.png", "bound_01_row7.svg"]
    html = write_report(tmp_path / "report.html", [sample], views, {"steps": "50"})
    text = html.read_text()
    for branch in branches:
        # one cell per position and branch, each with its number in the tooltip
        assert len(re.findall(rf'title="{branch} position \d+:', text)) == length
    assert f'title="cons position {length}: {cons[0, -1]:.4g};' in text
    assert "row 7" in text  # rows are shown 1-based
    assert "data:image/png;base64," in text


# --------------------------------------------------------------------------- ISM, motifs


def test_substitutions() -> None:
    subs = substitutions("ACN")
    assert len(subs) == 3 + 3 + 4
    assert subs[0] == (0, "C", "CCN")
    assert (1, "T", "ATN") in subs


def test_ism_of_a_linear_model_is_weight_differences(linear: LinearTwoClass) -> None:
    cons = np.zeros((1, 1, 5), np.float32)

    def inputs(sequences: list[str]) -> list[np.ndarray]:
        return [encode(sequences), np.repeat(cons, len(sequences), axis=0)]

    from gennie.attribution.attributions import LogOddsModel

    score, delta = mutagenesis(LogOddsModel(linear), inputs, "ACGTA", target=1)
    w = (linear.w[1] - linear.w[0]).detach().numpy()
    assert score == pytest.approx(4.0 - 1.0, abs=1e-5)
    reference = [0, 1, 2, 3, 0]
    expected = np.stack([w[:, i] - w[reference[i], i] for i in range(5)])
    np.testing.assert_allclose(delta, expected, atol=1e-5)
    # Position 1 is A; C there gains w[C,0] - w[A,0] = 0.5.
    assert delta[0, 1] == pytest.approx(0.5, abs=1e-6)
    np.testing.assert_allclose(
        reference_importance("ACGTA", delta), -expected.sum(axis=1) / 3, atol=1e-6
    )


def hand_made_scanner() -> MultiBranchNetwork:
    """One filter that scores +1 per letter of TGTA (kernel 4, linear, no bias)."""
    architecture = ArchitectureConfig.model_validate(
        {
            "branches": {
                "seq": [
                    {"type": "conv", "filters": 2, "kernel_size": 4, "activation": "linear"},
                    {"type": "global_pool"},
                ]
            }
        }
    )
    net = MultiBranchNetwork(architecture, {"seq": (4, 10)}, 2).eval()
    conv = net.branches["seq"][0].conv
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.zero_()
        conv.weight[0] = torch.from_numpy(encode(["TGTA"])[0])
        conv.weight[1] -= 1.0  # never above zero: no sites
    return net


def test_filter_motifs_from_top_windows() -> None:
    net = hand_made_scanner()
    x = torch.from_numpy(encode(["CCTGTACCCC", "TGTACCTGTA", "AAAAAAAAAA", "CCTGTTCCCC"]))
    found = filter_motifs(net, lambda: [x[:2], x[2:]], threshold=0.8, branch="seq")
    # Max activation 4 (a full TGTA); > 3.2 only at the three exact TGTA windows.
    assert found[0].max_activation == pytest.approx(4.0)
    assert found[0].sites == 3
    np.testing.assert_array_equal(found[0].counts, 3 * encode(["TGTA"])[0])
    assert found[0].consensus() == "TGTA"
    assert found[0].information == pytest.approx(8.0)
    assert found[1].sites == 0 and found[1].consensus() == "NNNN"
    # With the default threshold 0.5 (> 2), the TGTT window (3 letters) is a site too.
    loose = filter_motifs(net, lambda: [x], threshold=0.5, branch="seq")[0]
    assert loose.sites == 4
    np.testing.assert_allclose(loose.pwm[:, 3], [0.75, 0.0, 0.0, 0.25])  # TGTA ×3, TGTT
    assert loose.consensus("rna") == "UGUA"


def test_class_activation_is_the_mean_highest_activation_per_class() -> None:
    net = hand_made_scanner()
    x = torch.from_numpy(encode(["CCTGTACCCC", "TGTACCTGTA", "AAAAAAAAAA", "CCTGTTCCCC"]))
    labels = np.array([0, 0, 1, 1])
    means = class_activations(net, lambda: [x[:3], x[3:]], labels, 2, "seq")
    # Filter 0 peaks at 4 on both TGTA samples (class 0); 1 (AAAA: the A of TGTA at
    # best) and 3 (TGTT) on the class-1 samples.
    np.testing.assert_allclose(means[0], [4.0, 2.0])
    assert means.shape == (2, 2)
    assert np.isnan(class_activations(net, lambda: [x], np.zeros(4, int), 2, "seq")[0, 1])


def test_a_filter_supports_the_class_whose_log_odds_fall_without_it() -> None:
    motif = FilterMotif(0, np.zeros((4, 4)), 0, 0.0, effects={"bound": 1.5, "unbound": -1.5})
    assert motif.supports == "bound"
    assert FilterMotif(1, np.zeros((4, 4)), 0, 0.0, effects={"a": -0.1, "b": 0.0}).supports == ""
    table = motifs_table([motif])
    assert table.loc[0, "supports"] == "bound"
    assert (table.loc[0, "effect_bound"], table.loc[0, "effect_unbound"]) == (1.5, -1.5)


def test_meme_file_format(tmp_path: Path) -> None:
    from memelite.io import read_meme

    motifs = [
        FilterMotif(0, 3 * encode(["TGTA"])[0], sites=3, max_activation=4.0),
        FilterMotif(1, np.zeros((4, 4)), sites=0, max_activation=0.0),
    ]
    path = write_meme(tmp_path / "m.meme", motifs, "dna", np.array([0.3, 0.2, 0.2, 0.3]))
    text = path.read_text()
    assert text.startswith("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
    assert "Background letter frequencies\nA 0.3000 C 0.2000 G 0.2000 T 0.3000\n" in text
    assert (
        "MOTIF filter_0 TGTA\nletter-probability matrix: alength= 4 w= 4 nsites= 3 E= 0\n" in text
    )
    assert "0.000000 0.000000 0.000000 1.000000\n" in text
    assert "filter_1" not in text  # no sites, no motif
    read = read_meme(str(path))
    np.testing.assert_allclose(read["filter_0 TGTA"], encode(["TGTA"])[0])


# --------------------------------------------------------------------------- planted motif


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A dataset with TGTAAATA at a random position in every bound sequence, and a
    small model trained on it (seeded, 8 epochs)."""
    from gennie.config import PreprocessConfig, TrainConfig
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    torch.set_num_threads(1)
    work = tmp_path_factory.mktemp("planted")
    rng = np.random.default_rng(0)
    length = 60

    def random(n: int) -> str:
        return "".join(rng.choice(list("ACGT"), n))

    bound, sites = [], []
    for _ in range(300):
        s, p = random(length), int(rng.integers(0, length - len(MOTIF)))
        bound.append(s[:p] + MOTIF + s[p + len(MOTIF) :])
        sites.append(p)
    unbound = [random(length) for _ in range(300)]
    (work / "bound.fa").write_text("".join(f">b{i}\n{s}\n" for i, s in enumerate(bound)))
    (work / "unbound.fa").write_text("".join(f">u{i}\n{s}\n" for i, s in enumerate(unbound)))
    out = work / "runs"
    dataset = preprocess(
        PreprocessConfig(
            classes={"bound": work / "bound.fa", "unbound": work / "unbound.fa"},
            window=length,
            ratio="8:1:1",
            jobs=1,
            out=out,
        )
    )
    architecture = {
        "branches": {
            "seq": [
                {"type": "conv", "filters": 8, "kernel_size": 10, "activation": "relu"},
                {"type": "global_pool", "kind": "max"},
            ]
        },
        "common": [],
    }
    model = train(
        TrainConfig(
            dataset=dataset.run_dir,
            architecture=architecture,
            epochs=8,
            lr=0.01,
            batch_size=32,
            early_stopping=False,
            device="cpu",
            out=out,
        )
    )
    (work / "new.txt").write_text("\n".join(bound[:30] + unbound[:10]) + "\n")
    return {
        "work": work,
        "out": out,
        "dataset": dataset.run_dir,
        "model": model.run_dir,
        "bound": bound,
        "sites": sites,
    }


@pytest.mark.slow
def test_ig_concentrates_on_the_planted_site(planted: dict) -> None:
    from gennie.prediction.stage import predict

    result = predict(
        PredictConfig(
            model=planted["model"],
            input=planted["work"] / "new.txt",
            attributions=True,
            top=2,
            device="cpu",
            out=planted["out"],
        )
    )
    run = result.run_dir
    data = np.load(run / "attributions.npz")
    table = pd.read_csv(run / "predictions.tsv", sep="\t")
    assert data["row"].tolist() == list(range(40))
    assert data["attr_seq"].shape == (40, 1, 4, 60)
    assert [str(s) for s in data["sequence"][:3]] == table["sequence"][:3].tolist()
    per_position = data["attr_seq"][:30, 0].sum(axis=1)
    shares, peaks = [], 0
    for i in range(30):
        p = planted["sites"][i]
        positive = per_position[i].clip(min=0)
        shares.append(positive[p : p + len(MOTIF)].sum() / positive.sum())
        peaks += p <= int(per_position[i].argmax()) < p + len(MOTIF)
    assert np.mean(shares) > 0.8, shares
    assert peaks >= 27
    summary = pd.read_csv(run / "attributions.tsv", sep="\t")
    assert len(summary) == 40
    assert (summary["relative_error"] < 0.05).mean() > 0.9
    np.testing.assert_allclose(
        summary["attribution_sum"] - (summary["score"] - summary["baseline_score"]),
        summary["completeness_error"],
        atol=1e-4,
    )
    html = (run / "report.html").read_text()
    assert "Top 2 predictions of bound" in html and "Top 2 predictions of unbound" in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)  # no network needed
    assert html.count('<section class="sample"') == 4
    assert html.count("data:image/png;base64,") == 4
    logos = sorted(p.name for p in (run / "logos").iterdir())
    assert len(logos) == 8 and logos[0].startswith("bound_01_row")


@pytest.mark.slow
def test_evaluate_attributions_keyed_to_predictions(planted: dict) -> None:
    from gennie.config import EvaluateConfig
    from gennie.evaluation.stage import evaluate

    result = evaluate(
        EvaluateConfig(
            model=planted["model"],
            blackbox=planted["dataset"],
            blackbox_split="test",
            attributions=True,
            target="bound",
            top=1,
            device="cpu",
            out=planted["out"],
        )
    )
    data = np.load(result.run_dir / "attributions.npz")
    table = pd.read_csv(result.run_dir / "predictions.tsv", sep="\t")
    assert data["row"].tolist() == list(range(len(table)))
    assert set(data["targets"].ravel().tolist()) == {0}
    summary = pd.read_csv(result.run_dir / "attributions.tsv", sep="\t")
    assert summary["class"].tolist() == table["class"].tolist()
    assert "Top 1 predictions of bound" in (result.run_dir / "report.html").read_text()


@pytest.mark.slow
def test_best_filter_is_the_planted_motif(planted: dict) -> None:
    from gennie.interpret.motifs import motifs

    database = planted["work"] / "db.meme"
    decoys = {"GC_BOX": "GGGGCGGGG", "TATA": "TATAAA", "EBOX": "CACGTG"}
    write_meme(
        database,
        [FilterMotif(0, encode([MOTIF])[0], 1, 1.0)]
        + [FilterMotif(i + 1, encode([m])[0], 1, 1.0) for i, m in enumerate(decoys.values())],
    )
    result = motifs(
        MotifsConfig(
            model=planted["model"],
            dataset=planted["dataset"],
            database=database,
            device="cpu",
            out=planted["out"],
        )
    )
    table = pd.read_csv(result.run_dir / "motifs.tsv", sep="\t")
    best = table.iloc[0]
    consensus = best["consensus"].upper()

    def longest_common(a: str, b: str) -> int:
        return max(
            (k for i in range(len(a)) for k in range(1, len(a) - i + 1) if a[i : i + k] in b),
            default=0,
        )

    assert longest_common(consensus, MOTIF) >= 7, consensus
    assert best["best_match"] == f"filter_0 {MOTIF}"
    # The planted motif marks the bound class: its filter supports bound, is more active
    # in bound samples, and silencing it lowers bound's log-odds (raises unbound's).
    assert best["supports"] == "bound"
    assert best["activation_bound"] > best["activation_unbound"]
    assert best["effect_bound"] > 0 > best["effect_unbound"]
    assert result.summary["top_supports"] == "bound"
    assert best["sites"] > 100
    assert (result.run_dir / "logos" / f"filter_{best['filter']}.png").is_file()
    assert (result.run_dir / "logos" / f"filter_{best['filter']}.svg").is_file()
    assert (result.run_dir / "motifs.meme").read_text().startswith("MEME version 4")
    assert (result.run_dir / "matches.tsv").is_file()


@pytest.mark.slow
def test_ism_finds_the_planted_site(planted: dict) -> None:
    from gennie.interpret.ism import ism

    result = ism(
        IsmConfig(
            model=planted["model"],
            sequence=planted["bound"][0],
            device="cpu",
            out=planted["out"],
        )
    )
    table = pd.read_csv(result.run_dir / "ism.tsv", sep="\t")
    site = planted["sites"][0]
    assert result.summary["target"] == "bound"
    worst = int(table["importance"].idxmax())
    assert site <= worst < site + len(MOTIF)
    assert result.summary["ig_ism_correlation"] > 0.7
    assert (result.run_dir / "ism.png").is_file() and (result.run_dir / "ism.svg").is_file()


def _cli(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, MPLBACKEND="Agg", NO_COLOR="1", COLUMNS="120")
    return subprocess.run(
        [str(GENNIE), *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _invoke(*args: object):
    """Run the CLI in this process (same code path as the console script, no start-up)."""
    from typer.testing import CliRunner

    from gennie.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.slow
def test_cli_attributions_motifs_ism(planted: dict) -> None:
    import json

    work, model = planted["work"], planted["model"]
    cli_out = work / "cli"
    # The installed console script, once, end to end.
    good = _cli(
        "predict", "--model", model, "--sequence", planted["bound"][1], "--sequence",
        planted["bound"][2], "--attributions", "--target", "all", "--steps", "20",
        "--baseline", "shuffle", "--top", "1", "--out", cli_out, "--json", cwd=work,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    run = Path(json.loads(good.stdout)["run_dir"])
    for name in ("attributions.npz", "attributions.tsv", "report.html", "predictions.tsv"):
        assert (run / name).is_file()
    assert np.load(run / "attributions.npz")["attr_seq"].shape == (2, 2, 4, 60)
    # User errors: exit code 2, one message, no traceback.
    bad = _invoke(
        "predict", "--model", model, "--input", work / "new.txt", "--attributions",
        "--target", "nonsense", "--out", cli_out,
    )  # fmt: skip
    assert bad.exit_code == 2 and "'nonsense' is not a class" in bad.stderr
    bad = _invoke(
        "predict", "--model", model, "--sequence", "ACGT", "--attributions", "--steps", "0",
        "--out", cli_out,
    )  # fmt: skip
    assert bad.exit_code == 2 and "field 'steps'" in bad.stderr
    bad = _invoke(
        "interpret", "motifs", "--model", model, "--dataset", work / "missing", "--out", cli_out
    )
    assert bad.exit_code == 2 and "field 'dataset'" in bad.stderr
    bad = _invoke("interpret", "ism", "--model", model, "--sequence", "ACGTJ", "--out", cli_out)
    assert bad.exit_code == 2 and "letter 'J' at position 5" in bad.stderr
    ism_run = _invoke(
        "interpret", "ism", "--model", model, "--sequence", planted["bound"][3],
        "--target", "bound", "--out", cli_out, "--json",
    )  # fmt: skip
    assert ism_run.exit_code == 0, ism_run.stderr
    ism_dir = Path(json.loads(ism_run.stdout)["run_dir"])
    assert {"ism.tsv", "ism.png", "ism.svg"} <= {p.name for p in ism_dir.iterdir()}
    again = _invoke("run", ism_dir / "parameters.yaml", "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["stage"] == "ism"
    assert json.loads(again.stdout)["score"] == pytest.approx(json.loads(ism_run.stdout)["score"])
