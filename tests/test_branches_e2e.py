"""End to end with the seq, fold and cons branches: the real ``gennie`` CLI on tiny data.

A 2-chromosome genome with a planted motif, BED intervals on both strands, and a
conservation track (gzipped variableStep WIG) in which the planted sites score high
are all made here. One module-scoped run goes preprocess → train (1 epoch) →
evaluate → predict; the other tests check files, values and user errors on it.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_run import GENNIE

from gennie.encode.structure import fold_sequences
from gennie.io.tracks import write_bigwig

WINDOW = 40
MOTIF = "TGTAAATA"
CHROMS = {"chr1": 4000, "chr2": 3000}
GAP = ("chr2", 2000, 2100)  # no track values here
_COMPLEMENT = str.maketrans("ACGT", "TGCA")


def gennie(*args: object, cwd: Path) -> subprocess.CompletedProcess:
    """Run the gennie console script; capture stdout and stderr."""
    env = dict(os.environ, MPLBACKEND="Agg", NO_COLOR="1", COLUMNS="120")
    return subprocess.run(
        [str(GENNIE), *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def run_json(*args: object, cwd: Path) -> dict:
    """Run with --json; assert success; the one JSON object printed."""
    result = gennie(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    return json.loads(result.stdout)


def user_error(*args: object, cwd: Path) -> str:
    """Run expecting a user error: exit code 2, no traceback; the message."""
    result = gennie(*args, cwd=cwd)
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
    return result.stderr


def reverse_complement(sequence: str) -> str:
    return sequence.translate(_COMPLEMENT)[::-1]


def make_data(folder: Path) -> dict:
    """Genome, bound/unbound BED (both strands), WIG track with conserved sites."""
    rng = np.random.default_rng(5)
    genome = {c: rng.choice(list("ACGT"), size=n) for c, n in CHROMS.items()}
    track = {
        c: np.round(rng.normal(0.0, 0.3, size=n), 2).astype(np.float32) for c, n in CHROMS.items()
    }
    track[GAP[0]][GAP[1] : GAP[2]] = np.nan
    rows: dict[str, list[str]] = {"bound": [], "unbound": []}
    centres = [
        (c, p)
        for c, n in CHROMS.items()
        for p in range(100, n - 100, 100)
        if not (c == GAP[0] and GAP[1] - 100 <= p <= GAP[2] + 100)
    ]
    order = rng.permutation(len(centres))
    for rank, k in enumerate(order[:48]):
        chrom, centre = centres[k]
        label = "bound" if rank % 2 == 0 else "unbound"
        strand = "+" if rank % 4 < 2 else "-"
        if label == "bound":
            motif = MOTIF if strand == "+" else reverse_complement(MOTIF)
            genome[chrom][centre - 4 : centre + 4] = list(motif)
            track[chrom][centre - 4 : centre + 4] = 3.0
        start = centre - 10
        rows[label].append(f"{chrom}\t{start}\t{start + 20}\t{label}{rank}\t0\t{strand}\n")
    # One unbound interval inside the track gap: its window has missing values.
    rows["unbound"].append(f"{GAP[0]}\t{GAP[1] + 40}\t{GAP[1] + 60}\tgap\t0\t-\n")
    (folder / "genome.fa").write_text("".join(f">{c}\n{''.join(s)}\n" for c, s in genome.items()))
    for label, lines in rows.items():
        (folder / f"{label}.bed").write_text("".join(lines))
    lines = []
    for chrom, values in track.items():
        lines.append(f"variableStep chrom={chrom}\n")
        lines += [f"{i + 1} {v:g}\n" for i, v in enumerate(values) if not np.isnan(v)]
    (folder / "track.wig.gz").write_bytes(gzip.compress("".join(lines).encode()))
    entries = {}
    for chrom, values in track.items():
        keep = np.flatnonzero(~np.isnan(values))
        array = np.empty(keep.size, dtype=[("start", "i8"), ("end", "i8"), ("value", "f4")])
        array["start"], array["end"], array["value"] = keep, keep + 1, values[keep]
        entries[chrom] = array
    write_bigwig(folder / "track.bw", entries)
    renamed = {c.removeprefix("chr"): e for c, e in entries.items()}
    write_bigwig(folder / "ensembl.bw", renamed)
    return {"genome": genome, "track": track}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("branches")
    truth = make_data(folder)
    common = ["--genome", "genome.fa", "--window", WINDOW, "--out", "runs"]
    classes = ["--class", "bound=bound.bed", "--class", "unbound=unbound.bed"]
    dataset = run_json(
        "preprocess",
        *classes,
        *common,
        "--branches",
        "seq,fold,cons",
        "--conservation",
        "track.wig.gz",
        "--ratio",
        "6:2:2:2",
        "--jobs",
        2,
        cwd=folder,
    )
    model = run_json(
        "train",
        "--dataset",
        dataset["run_dir"],
        "--preset",
        "1layer",
        "--epochs",
        1,
        "--batch-size",
        8,
        "--out",
        "runs",
        cwd=folder,
    )
    return {"folder": folder, "truth": truth, "dataset": dataset, "model": model}


def test_dataset_has_all_three_branches(run):
    data = Path(run["dataset"]["run_dir"])
    meta = json.loads((data / "metadata.json").read_text())
    assert list(meta["branches"]) == ["seq", "fold", "cons"]
    assert meta["branches"]["fold"]["channels"] == 3
    assert meta["branches"]["cons"]["channels"] == 1
    assert meta["references"]["conservation"][0]["file"].endswith("track.wig.gz")
    assert len(meta["references"]["conservation"][0]["md5"]) == 32
    n = meta["samples"]
    assert meta["cache"]["folded"] == n  # every window is distinct
    assert np.load(data / "branches" / "fold.npy").shape == (n, WINDOW)
    assert np.load(data / "branches" / "cons.npy").shape == (n, 1, WINDOW)
    # The gap interval's window lies in the track gap: 40 missing values, counted.
    assert meta["counts"]["unbound"]["cons"]["missing_values"] == WINDOW
    assert meta["counts"]["unbound"]["cons"]["windows_with_missing"] == 1
    assert meta["counts"]["bound"]["cons"]["missing_values"] == 0


def test_stored_values_match_genome_and_track_on_both_strands(run):
    data = Path(run["dataset"]["run_dir"])
    samples = pd.read_csv(data / "samples.tsv", sep="\t", keep_default_na=False)
    samples = samples.rename(columns={"class": "label"})
    cons = np.load(data / "branches" / "cons.npy")
    fold = np.load(data / "branches" / "fold.npy")
    genome, track = run["truth"]["genome"], run["truth"]["track"]
    checked = set()
    for row in samples.itertuples():
        values = np.nan_to_num(track[row.chrom][row.start : row.end])
        sequence = "".join(genome[row.chrom][row.start : row.end])
        if row.strand == "-":
            values, sequence = values[::-1], reverse_complement(sequence)
        assert np.array_equal(cons[row.index, 0], values), row
        dot_bracket = "".join("().\0"[c] for c in fold[row.index])
        assert dot_bracket == fold_sequences([sequence])[0], row
        if row.label == "bound":
            middle = cons[row.index, 0, WINDOW // 2 - 4 : WINDOW // 2 + 4]
            assert (middle == 3.0).all()
        checked.add(row.strand)
    assert checked == {"+", "-"}


def test_second_preprocess_folds_nothing(run):
    folder = run["folder"]
    shutil.rmtree(folder / "runs" / "cache" / "windows")  # only the fold cache is left
    again = run_json(
        "preprocess",
        "--class",
        "bound=bound.bed",
        "--class",
        "unbound=unbound.bed",
        "--genome",
        "genome.fa",
        "--window",
        WINDOW,
        "--out",
        "runs",
        "--branches",
        "fold",
        "--jobs",
        2,
        cwd=folder,
    )
    meta = json.loads((Path(again["run_dir"]) / "metadata.json").read_text())
    assert meta["cache"]["misses"] == 2  # windows were mapped again ...
    assert meta["cache"]["folded"] == 0  # ... but nothing was folded
    assert meta["cache"]["fold_cache_hits"] == meta["samples"]


def test_bundle_records_branches_and_tracks(run):
    bundle = yaml.safe_load((Path(run["model"]["run_dir"]) / "model" / "bundle.yaml").read_text())
    assert bundle["branches"] == ["seq", "fold", "cons"]
    assert bundle["inputs"]["fold"]["channels"] == 3
    assert bundle["inputs"]["cons"]["channels"] == 1
    cons = bundle["preprocessing"]["branches"]["cons"]
    assert cons["tracks"][0].endswith("track.wig.gz") and cons["strand"] is True
    assert len(cons["track_md5"][0]) == 32


def test_evaluate_and_predict_with_three_branches(run):
    from gennie.config import PredictConfig
    from gennie.prediction.stage import predict

    folder, model = run["folder"], run["model"]["run_dir"]
    metrics = run_json(
        "evaluate",
        "--model",
        model,
        "--blackbox",
        run["dataset"]["run_dir"],
        "--out",
        "runs",
        cwd=folder,
    )["metrics"]
    assert 0.0 <= metrics["auroc"] <= 1.0
    # BED input: the training genome and track (the WIG) by default ...
    default = run_json(
        "predict", "--model", model, "--input", "bound.bed", "--out", "runs", cwd=folder
    )
    # ... or a bigWig with the same values: the same predictions.
    explicit = predict(
        PredictConfig(
            model=model,
            input=folder / "bound.bed",
            conservation=[folder / "track.bw"],
            out=folder / "runs",
        )
    )
    a = pd.read_csv(default["predictions_file"], sep="\t")
    b = pd.read_csv(explicit.summary["predictions_file"], sep="\t")
    assert len(a) == 24 and set(a["strand"]) == {"+", "-"}
    assert np.allclose(a["p_bound"], b["p_bound"], atol=1e-6)


def test_missing_track_is_a_user_error(run):
    from gennie.config import PredictConfig
    from gennie.errors import UserError
    from gennie.prediction.stage import predict

    folder, model = run["folder"], run["model"]["run_dir"]
    with pytest.raises(UserError, match="typed sequences"):
        predict(PredictConfig(model=model, sequences=["ACGT" * 10], out=folder / "runs"))
    with pytest.raises(UserError, match="1 track channel"):
        predict(
            PredictConfig(
                model=model,
                input=folder / "bound.bed",
                conservation=[folder / "track.bw"] * 2,
                out=folder / "runs",
            )
        )
    moved = folder / "track.wig.gz.moved"
    (folder / "track.wig.gz").rename(moved)
    try:
        message = user_error(
            "predict", "--model", model, "--input", "bound.bed", "--out", "runs", cwd=folder
        )
        assert "--conservation" in message and "track.wig.gz" in message
    finally:
        moved.rename(folder / "track.wig.gz")


def test_chromosome_names_differing_from_the_track(run):
    message = user_error(
        "preprocess",
        "--class",
        "bound=bound.bed",
        "--class",
        "unbound=unbound.bed",
        "--genome",
        "genome.fa",
        "--window",
        WINDOW,
        "--branches",
        "seq,cons",
        "--conservation",
        "ensembl.bw",
        "--out",
        "runs",
        cwd=run["folder"],
    )
    assert "'chr1'" in message and "'1'" in message and "ensembl.bw" in message


def test_cons_branch_needs_a_track_and_bed(run):
    message = user_error(
        "preprocess",
        "--class",
        "bound=bound.bed",
        "--class",
        "unbound=unbound.bed",
        "--genome",
        "genome.fa",
        "--branches",
        "seq,cons",
        "--out",
        "runs",
        cwd=run["folder"],
    )
    assert "--conservation" in message


def test_fold_only_model_predicts_typed_sequences(tmp_path):
    """FASTA classes, fold branch only, predictions for typed sequences (Python API)."""
    from gennie.config import PredictConfig, PreprocessConfig, TrainConfig
    from gennie.prediction.stage import predict
    from gennie.preprocessing.stage import preprocess
    from gennie.training.stage import train

    rng = np.random.default_rng(3)
    hairpin = "GGGGGAAACCCCC"
    for label in ("hairpin", "random"):
        records = []
        for k in range(30):
            seq = "".join(rng.choice(list("ACGU"), size=30))
            if label == "hairpin":
                seq = seq[:8] + hairpin + seq[21:]
            records.append(f">{label}{k}\n{seq}\n")
        (tmp_path / f"{label}.fa").write_text("".join(records))
    dataset = preprocess(
        PreprocessConfig(
            classes={"hairpin": tmp_path / "hairpin.fa", "random": tmp_path / "random.fa"},
            branches=["fold"],
            window=30,
            jobs=1,
            out=tmp_path / "runs",
        )
    )
    # A branch section of its own for fold (instead of a preset's layers).
    architecture = {
        "branches": {
            "fold": [
                {"type": "conv", "filters": 6, "kernel_size": 13},
                {"type": "global_pool", "kind": "max"},
            ]
        },
        "common": [{"type": "dense", "units": 4}],
    }
    model = train(
        TrainConfig(
            dataset=dataset.run_dir,
            architecture=architecture,
            epochs=1,
            batch_size=8,
            out=tmp_path / "runs",
        )
    )
    bundle = yaml.safe_load((Path(model.run_dir) / "model" / "bundle.yaml").read_text())
    assert bundle["branches"] == ["fold"]
    assert bundle["architecture"]["branches"]["fold"][0]["kernel_size"] == 13
    result = predict(
        PredictConfig(
            model=model.run_dir,
            sequences=["AAAAAAAA" + hairpin + "AAAAAAAAA", "ACGUACGUAC"],
            out=tmp_path / "runs",
        )
    )
    table = pd.read_csv(result.summary["predictions_file"], sep="\t")
    assert table["sequence"].tolist() == ["AAAAAAAA" + hairpin + "AAAAAAAAA", "ACGUACGUAC"]
    assert np.allclose(table["p_hairpin"] + table["p_random"], 1.0, atol=1e-5)
