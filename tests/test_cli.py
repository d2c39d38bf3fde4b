"""End-to-end tests of the ``gennie`` command line on small real data.

Every test runs the installed console script in a subprocess, as a user would. The
expensive artifacts (one PUM2 FASTA dataset and model, one BED dataset and model on the
generated genome) are made once per module and shared.

Data sizes are kept tiny (150 sequences per class, 2 epochs) so the file runs in a few
minutes on two CPU cores; the assertions are about files, formats, order, exit codes
and messages, not about how good the models are.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from cli_run import GENNIE

from gennie.example import MOTIF, bed_example, rbp_example

PUM2 = rbp_example()
BED = bed_example()
WINDOW = 100
BED_WINDOW = 320  # longer than chrM (300 bp), so the chrM site is dropped
REDUCE = ["--reduce", "positive=150", "--reduce", "negative=150"]
METRICS = ("accuracy", "loss", "auroc", "auprc")


# --------------------------------------------------------------------------- helpers


def gennie(*args: object, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run the gennie console script; capture stdout and stderr as text."""
    env = dict(os.environ, MPLBACKEND="Agg", NO_COLOR="1", COLUMNS="120", PYTHONHASHSEED="0")
    return subprocess.run(
        [str(GENNIE), *(str(a) for a in args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """Assert exit code 0 (showing stderr when not)."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stderr[-4000:]}"
    assert "Traceback" not in result.stderr
    return result


def one_json(result: subprocess.CompletedProcess) -> dict:
    """The one JSON object a successful ``--json`` call prints: stdout is exactly one line."""
    ok(result)
    assert result.stdout.endswith("\n") and result.stdout.count("\n") == 1, result.stdout
    payload = json.loads(result.stdout)
    assert isinstance(payload, dict)
    assert Path(payload["run_dir"]).is_dir()
    return payload


def printed_run_dir(result: subprocess.CompletedProcess) -> Path:
    """Without ``--json`` the last stdout line is the run folder."""
    ok(result)
    last = result.stdout.strip().splitlines()[-1]
    run_dir = Path(last)
    assert run_dir.is_absolute() and run_dir.is_dir(), result.stdout
    assert json.loads((run_dir / "run.json").read_text())["status"] == "complete"
    return run_dir


def run_folders(out: Path) -> set[str]:
    """Names of the run folders in an output folder (the shared cache is not a run)."""
    if not out.exists():
        return set()
    return {p.name for p in out.iterdir() if p.is_dir() and p.name != "cache"}


def check_metrics(metrics: dict, classes: list[str]) -> None:
    """Headline metrics as the SPEC promises: macro averages in [0, 1] and per class."""
    for key in METRICS:
        assert isinstance(metrics[key], float), key
    for key in ("accuracy", "auroc", "auprc"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["loss"] >= 0.0
    assert sorted(metrics["per_class"]) == sorted(classes)
    for values in metrics["per_class"].values():
        assert 0.0 <= values["auroc"] <= 1.0
        assert 0.0 <= values["auprc"] <= 1.0


def check_curves(folder: Path) -> None:
    for stem in ("roc_curve", "pr_curve", "confusion_matrix"):
        for suffix in (".png", ".svg", ".tsv"):
            path = folder / f"{stem}{suffix}"
            assert path.is_file() and path.stat().st_size > 0, path


def fasta_records(path: Path, n: int | None = None) -> list[tuple[str, str]]:
    """(header, sequence) of the first n records of a one-line-per-sequence FASTA(.gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        lines = [line.rstrip("\n") for line in handle if line.strip()]
    records = [(lines[i][1:], lines[i + 1]) for i in range(0, len(lines), 2)]
    return records[:n] if n else records


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{h}\n{s}\n" for h, s in records))
    return path


def read_predictions(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "predictions.tsv", sep="\t")


def check_probabilities(table: pd.DataFrame, classes: list[str]) -> None:
    columns = [f"p_{c}" for c in classes]
    probs = table[columns].to_numpy(dtype=float)
    assert np.all((probs >= 0) & (probs <= 1))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert list(table["highest"]) == [classes[i] for i in probs.argmax(axis=1)]


def decode_rows(codes: np.ndarray) -> list[str]:
    letters = np.frombuffer(b"ACGTN", dtype=np.uint8)
    return [letters[row].tobytes().decode() for row in np.asarray(codes, dtype=np.intp)]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Working folder of this module (the subprocesses' cwd)."""
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def out(work: Path) -> Path:
    """Shared output folder of the end-to-end runs."""
    return work / "runs"


@pytest.fixture(scope="module")
def pum2_dataset(work: Path, out: Path) -> tuple[dict, Path]:
    """Preprocessed PUM2 FASTA example: 150 sequences per class, window 100."""
    result = gennie(
        "preprocess",
        "--class",
        f"positive={PUM2['train']['positive']}",
        "--class",
        f"negative={PUM2['train']['negative']}",
        *REDUCE,
        "--window",
        WINDOW,
        "--out",
        out,
        "--json",
        cwd=work,
    )
    payload = one_json(result)
    return payload, Path(payload["run_dir"])


@pytest.fixture(scope="module")
def pum2_model(work: Path, out: Path, pum2_dataset: tuple[dict, Path]) -> tuple[dict, Path]:
    """A model trained for 2 epochs on the PUM2 dataset (CPU, so it is reproducible)."""
    _, dataset = pum2_dataset
    result = gennie(
        "train",
        "--dataset",
        dataset,
        "--epochs",
        2,
        "--batch-size",
        32,
        "--device",
        "cpu",
        "--out",
        out,
        "--json",
        cwd=work,
    )
    payload = one_json(result)
    return payload, Path(payload["run_dir"])


@pytest.fixture(scope="module")
def genome(work: Path) -> Path:
    """A writable copy of the example genome (pysam writes .fai/.gzi next to it)."""
    folder = work / "genome"
    folder.mkdir()
    copy = folder / "genome.fa.gz"
    shutil.copy(BED["genome"], copy)
    return copy


@pytest.fixture(scope="module")
def bed_dataset(work: Path, out: Path, genome: Path) -> Path:
    """The BED example (bound/unbound) on the generated genome, strand applied."""
    result = gennie(
        "preprocess",
        "--class",
        f"bound={BED['classes']['bound']}",
        "--class",
        f"unbound={BED['classes']['unbound']}",
        "--genome",
        genome,
        "--window",
        BED_WINDOW,
        "--strand",
        "--out",
        out,
        cwd=work,
    )
    return printed_run_dir(result)


@pytest.fixture(scope="module")
def bed_model(work: Path, out: Path, bed_dataset: Path) -> Path:
    result = gennie(
        "train",
        "--dataset",
        bed_dataset,
        "--epochs",
        2,
        "--batch-size",
        32,
        "--shift",
        4,
        "--mask",
        0.05,
        "--device",
        "cpu",
        "--out",
        out,
        cwd=work,
    )
    return printed_run_dir(result)


# --------------------------------------------------------------------------- 1. FASTA path


@pytest.mark.slow
def test_preprocess_fasta_json_writes_a_complete_dataset(pum2_dataset):
    payload, dataset = pum2_dataset
    assert payload["stage"] == "preprocess"
    for name in (
        "metadata.json",
        "samples.tsv",
        "labels.npy",
        "splits.npy",
        "branches/seq.npy",
        "parameters.yaml",
        "gennie.log",
        "run.json",
    ):
        assert (dataset / name).is_file(), name
    status = json.loads((dataset / "run.json").read_text())
    assert status["status"] == "complete" and status["stage"] == "preprocess"
    meta = json.loads((dataset / "metadata.json").read_text())
    assert meta["classes"] == ["positive", "negative"]
    assert meta["window"] == WINDOW and meta["samples"] == 300
    samples = pd.read_csv(dataset / "samples.tsv", sep="\t")
    assert len(samples) == 300
    assert samples["class"].value_counts().to_dict() == {"positive": 150, "negative": 150}
    assert set(samples["split"]) == {"train", "validation", "test", "blackbox"}
    labels = np.load(dataset / "labels.npy")
    splits = np.load(dataset / "splits.npy")
    seq = np.load(dataset / "branches" / "seq.npy", mmap_mode="r")
    assert labels.shape == splits.shape == (300,)
    assert seq.shape[0] == 300 and WINDOW in seq.shape
    assert list(labels) == [meta["classes"].index(c) for c in samples["class"]]
    # Provenance: source file and record number point at the record the sample came from.
    for name in ("positive", "negative"):
        headers = [h for h, _ in fasta_records(PUM2["train"][name])]
        rows = samples[samples["class"] == name]
        assert set(rows["source_file"]) == {str(PUM2["train"][name])}
        assert [headers[n - 1] for n in rows["source_line"]] == list(rows["name"])


@pytest.mark.slow
def test_train_json_reports_metrics_and_writes_the_run_folder(pum2_model):
    payload, run = pum2_model
    assert payload["stage"] == "train"
    check_metrics(payload["metrics"], ["positive", "negative"])
    for name in (
        "model/weights.safetensors",
        "model/bundle.yaml",
        "metrics.tsv",
        "training_curves.png",
        "architecture.png",
        "architecture.txt",
        "parameters.yaml",
        "gennie.log",
    ):
        assert (run / name).is_file(), name
    assert list((run / "tensorboard").rglob("events.out.tfevents.*"))
    epochs = pd.read_csv(run / "metrics.tsv", sep="\t")
    assert len(epochs) == 2
    check_curves(run / "evaluation")
    assert json.loads((run / "run.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_evaluate_blackbox_split(work, out, pum2_model, pum2_dataset):
    _, model = pum2_model
    _, dataset = pum2_dataset
    payload = one_json(
        gennie(
            "evaluate", "--model", model, "--blackbox", dataset, "--out", out, "--json", cwd=work
        )
    )
    check_metrics(payload["metrics"], ["positive", "negative"])
    assert payload["samples"] == 30  # 7:1:1:1 of 2 x 150
    check_curves(Path(payload["run_dir"]))


@pytest.mark.slow
def test_evaluate_one_file_per_class(work, out, pum2_model):
    _, model = pum2_model
    payload = one_json(
        gennie(
            "evaluate",
            "--model",
            model,
            "--class",
            f"positive={PUM2['test']['positive']}",
            "--class",
            f"negative={PUM2['test']['negative']}",
            "--out",
            out,
            "--json",
            cwd=work,
        )
    )
    check_metrics(payload["metrics"], ["positive", "negative"])
    assert payload["samples"] == 500
    check_curves(Path(payload["run_dir"]))


@pytest.mark.slow
def test_evaluate_fasta_with_the_class_in_headers(work, out, pum2_model):
    _, model = pum2_model
    records = [
        (f"{h} {name}", s)
        for name in ("positive", "negative")
        for h, s in fasta_records(PUM2["test"][name], 40)
    ]
    labelled = write_fasta(work / "labelled.fa", records)
    payload = one_json(
        gennie("evaluate", "--model", model, "--input", labelled, "--out", out, "--json", cwd=work)
    )
    check_metrics(payload["metrics"], ["positive", "negative"])
    assert payload["samples"] == 80
    run = Path(payload["run_dir"])
    check_curves(run)
    table = read_predictions(run)
    assert list(table["class"]) == ["positive"] * 40 + ["negative"] * 40


@pytest.mark.slow
def test_predict_fasta_keeps_input_order(work, out, pum2_model):
    _, model = pum2_model
    records = fasta_records(PUM2["test"]["negative"], 12) + fasta_records(
        PUM2["test"]["positive"], 13
    )
    path = write_fasta(work / "to_predict.fa", records)
    payload = one_json(
        gennie("predict", "--model", model, "--input", path, "--out", out, "--json", cwd=work)
    )
    table = read_predictions(Path(payload["run_dir"]))
    assert list(table["header"]) == [h for h, _ in records]
    assert list(table["record"]) == list(range(1, 26))
    check_probabilities(table, ["positive", "negative"])


@pytest.mark.slow
def test_predict_text_file_of_sequences(work, out, pum2_model):
    _, model = pum2_model
    sequences = [s.upper() for _, s in fasta_records(PUM2["test"]["positive"], 7)]
    sequences.append("ACGU" * 10)  # shorter than the window: padded
    path = work / "sequences.txt"
    path.write_text("\n".join(sequences) + "\n")
    payload = one_json(
        gennie("predict", "--model", model, "--input", path, "--out", out, "--json", cwd=work)
    )
    table = read_predictions(Path(payload["run_dir"]))
    assert list(table["sequence"]) == sequences
    check_probabilities(table, ["positive", "negative"])


@pytest.mark.slow
def test_predict_typed_sequences_without_json_prints_the_run_folder(work, out, pum2_model):
    _, model = pum2_model
    sequences = ["ACGU" * 30, "UGUAAAUA" * 12, "ACGTNACGTN" * 5]
    args = [x for s in sequences for x in ("--sequence", s)]
    run = printed_run_dir(gennie("predict", "--model", model, *args, "--out", out, cwd=work))
    table = read_predictions(run)
    assert list(table["sequence"]) == sequences
    check_probabilities(table, ["positive", "negative"])


@pytest.mark.slow
def test_predict_json_with_typed_sequences(work, out, pum2_model):
    _, model = pum2_model
    payload = one_json(
        gennie(
            "predict",
            "--model",
            model,
            "--sequence",
            "ACGT" * 25,
            "--sequence",
            "TTTT" * 25,
            "--out",
            out,
            "--json",
            cwd=work,
        )
    )
    assert payload["stage"] == "predict" and payload["predictions"] == 2
    table = read_predictions(Path(payload["run_dir"]))
    assert list(table["sequence"]) == ["ACGT" * 25, "TTTT" * 25]


def test_preprocess_without_json_prints_the_run_folder(work, tmp_path):
    records = fasta_records(PUM2["train"]["positive"], 30)
    a = write_fasta(tmp_path / "a.fa", records[:15])
    b = write_fasta(tmp_path / "b.fa", records[15:])
    result = gennie(
        "preprocess",
        "--class",
        f"a={a}",
        "--class",
        f"b={b}",
        "--window",
        50,
        "--ratio",
        "3:1:1",
        "--out",
        tmp_path / "runs",
        cwd=work,
    )
    run = printed_run_dir(result)
    assert run.parent == tmp_path / "runs"
    assert json.loads((run / "metadata.json").read_text())["classes"] == ["a", "b"]


def test_class_named_after_its_file_when_no_name_is_given(work, tmp_path):
    records = fasta_records(PUM2["train"]["positive"], 30)
    bound = write_fasta(tmp_path / "bound.fa", records[:15])
    unbound = write_fasta(tmp_path / "unbound.fasta", records[15:])
    result = gennie(
        "preprocess",
        "--class",
        bound,
        "--class",
        unbound,
        "--window",
        50,
        "--ratio",
        "3:1:1",
        "--out",
        tmp_path / "runs",
        "--json",
        cwd=work,
    )
    run = Path(one_json(result)["run_dir"])
    assert json.loads((run / "metadata.json").read_text())["classes"] == ["bound", "unbound"]


# --------------------------------------------------------------------------- 2. BED path


@pytest.mark.slow
def test_bed_preprocess_shifts_at_chromosome_ends_and_drops_short_chromosomes(bed_dataset):
    meta = json.loads((bed_dataset / "metadata.json").read_text())
    assert meta["window"] == BED_WINDOW and meta["strand"] is True
    assert meta["counts"]["bound"]["dropped_short_chromosome"] == 1
    assert meta["counts"]["unbound"]["dropped_short_chromosome"] == 0
    assert meta["counts"]["bound"]["shifted_at_chromosome_end"] == 4
    assert meta["counts"]["unbound"]["shifted_at_chromosome_end"] == 1
    samples = pd.read_csv(bed_dataset / "samples.tsv", sep="\t", keep_default_na=False)
    assert len(samples) == 599
    assert "chrM" not in set(samples["chrom"])
    assert (samples["end"] - samples["start"] == BED_WINDOW).all()
    lengths = {"chr1": 60_000, "chr2": 50_000, "chr3": 40_000}
    assert (samples["start"] >= 0).all()
    assert (samples["end"] <= samples["chrom"].map(lengths)).all()
    shifted = samples[samples["shifted"] == 1]
    expected = {
        ("chr1", 3, 0),
        ("chr2", 49960, 50_000 - BED_WINDOW),
        ("chr3", 0, 0),
        ("chr3", 39970, 40_000 - BED_WINDOW),
        ("chr1", 59950, 60_000 - BED_WINDOW),
    }
    assert {
        (c, int(s), int(w))
        for c, s, w in zip(
            shifted["chrom"], shifted["interval_start"], shifted["start"], strict=True
        )
    } == expected
    # Strand applied: every bound window reads the motif 5'->3', minus strand included.
    seq = np.load(bed_dataset / "branches" / "seq.npy", mmap_mode="r")
    bound = samples.index[samples["class"] == "bound"].to_numpy()
    windows = decode_rows(seq[bound])
    assert all(MOTIF in w for w in windows)
    minus = samples.loc[bound, "strand"].to_numpy() == "-"
    assert minus.any()


@pytest.mark.slow
def test_bed_train_evaluate_with_class_column(work, out, bed_model):
    # Trained with --shift 4 --mask 0.05: the options reach the saved parameters.
    parameters = yaml.safe_load((bed_model / "parameters.yaml").read_text())
    assert parameters["shift"] == 4 and parameters["mask"] == 0.05
    metrics = json.loads((bed_model / "evaluation" / "metrics.json").read_text())
    assert 0.0 <= metrics["accuracy"] <= 1.0
    labelled = work / "labelled.bed"
    lines = []
    for name, path in BED["classes"].items():
        for line in Path(path).read_text().splitlines():
            if line.startswith(("track", "#")) or not line.strip():
                continue
            cols = line.split("\t")
            cols[3] = name
            lines.append("\t".join(cols))
    labelled.write_text("\n".join(lines) + "\n")
    run = printed_run_dir(
        gennie("evaluate", "--model", bed_model, "--input", labelled, "--out", out, cwd=work)
    )
    evaluated = json.loads((run / "metrics.json").read_text())
    for key in METRICS:
        assert key in evaluated
    check_curves(run)
    table = read_predictions(run)
    # Every interval but the one on chrM (shorter than the window) is evaluated.
    assert len(table) == 599 and "chrM" not in set(table["chrom"])
    assert table["class"].value_counts().to_dict() == {"bound": 299, "unbound": 300}
    check_probabilities(table, ["bound", "unbound"])


@pytest.mark.slow
def test_bed_predict_keeps_line_order_and_notes_dropped_rows(work, out, bed_model):
    payload = one_json(
        gennie(
            "predict",
            "--model",
            bed_model,
            "--input",
            BED["classes"]["bound"],
            "--out",
            out,
            "--json",
            cwd=work,
        )
    )
    table = pd.read_csv(Path(payload["run_dir"]) / "predictions.tsv", sep="\t")
    # bound.bed: a track line, a comment line, then 300 intervals on lines 3..302.
    assert list(table["line"]) == list(range(3, 303))
    assert list(table["name"]) == [f"bound_{i:03d}" for i in range(1, 301)]
    chrm = table[table["chrom"] == "chrM"]
    assert len(chrm) == 1
    assert isinstance(chrm["note"].iloc[0], str) and chrm["note"].iloc[0]
    assert chrm[["p_bound", "p_unbound"]].isna().all(axis=None)
    rest = table[table["chrom"] != "chrM"]
    assert rest["note"].isna().all()
    check_probabilities(rest, ["bound", "unbound"])


# --------------------------------------------------------------------------- 3. reproducibility


@pytest.mark.slow
def test_rerun_preprocess_parameters_gives_identical_dataset(work, out, pum2_dataset):
    _, dataset = pum2_dataset
    table = out / "preprocess_parameters.tsv"
    before = len(pd.read_csv(table, sep="\t"))
    again = printed_run_dir(gennie("run", dataset / "parameters.yaml", cwd=work))
    assert again != dataset and again.parent == out
    assert len(pd.read_csv(table, sep="\t")) == before + 1
    first = pd.read_csv(dataset / "samples.tsv", sep="\t", keep_default_na=False)
    second = pd.read_csv(again / "samples.tsv", sep="\t", keep_default_na=False)
    columns = ["class", "split", "source_file", "source_line", "name"]
    pd.testing.assert_frame_equal(first[columns], second[columns])
    np.testing.assert_array_equal(
        np.load(dataset / "branches" / "seq.npy"), np.load(again / "branches" / "seq.npy")
    )
    np.testing.assert_array_equal(np.load(dataset / "splits.npy"), np.load(again / "splits.npy"))


@pytest.mark.slow
def test_rerun_train_parameters_gives_identical_metrics(work, out, pum2_model):
    original, run = pum2_model
    table = out / "train_parameters.tsv"
    before = len(pd.read_csv(table, sep="\t"))
    payload = one_json(gennie("run", run / "parameters.yaml", "--json", cwd=work))
    assert Path(payload["run_dir"]) != run
    assert payload["metrics"] == original["metrics"]
    assert len(pd.read_csv(table, sep="\t")) == before + 1


# --------------------------------------------------------------------------- 4. config


def _yaml_config(tmp_path: Path) -> Path:
    """A YAML config in its own folder, naming the class files relative to that folder."""
    folder = tmp_path / "config"
    (folder / "data").mkdir(parents=True)
    records = fasta_records(PUM2["train"]["positive"], 20) + fasta_records(
        PUM2["train"]["negative"], 20
    )
    write_fasta(folder / "data" / "pos.fa", records[:20])
    write_fasta(folder / "data" / "neg.fa", records[20:])
    path = folder / "pre.yaml"
    path.write_text(
        "classes:\n  pos: data/pos.fa\n  neg: data/neg.fa\nwindow: 120\nratio: '3:1:1'\n"
    )
    return path


def test_yaml_config_with_relative_paths_and_flag_override(work, tmp_path):
    config = _yaml_config(tmp_path)
    runs = tmp_path / "runs"
    # The cwd is not the config's folder: relative paths must follow the YAML file.
    plain = one_json(gennie("preprocess", "--config", config, "--out", runs, "--json", cwd=work))
    meta = json.loads((Path(plain["run_dir"]) / "metadata.json").read_text())
    assert meta["window"] == 120
    saved = yaml.safe_load((Path(plain["run_dir"]) / "parameters.yaml").read_text())
    assert saved["classes"]["pos"] == str((config.parent / "data" / "pos.fa").resolve())
    overridden = one_json(
        gennie("preprocess", "--config", config, "--window", 100, "--out", runs, "--json", cwd=work)
    )
    meta = json.loads((Path(overridden["run_dir"]) / "metadata.json").read_text())
    assert meta["window"] == 100
    assert meta["classes"] == ["pos", "neg"]


@pytest.mark.slow
def test_saved_parameters_work_as_config_with_overrides(work, tmp_path, pum2_dataset):
    _, dataset = pum2_dataset
    payload = one_json(
        gennie(
            "preprocess",
            "--config",
            dataset / "parameters.yaml",
            "--window",
            60,
            "--out",
            tmp_path / "runs",
            "--json",
            cwd=work,
        )
    )
    meta = json.loads((Path(payload["run_dir"]) / "metadata.json").read_text())
    assert meta["window"] == 60 and meta["samples"] == 300
    assert Path(payload["run_dir"]).parent == tmp_path / "runs"


# --------------------------------------------------------------------------- 5. bad input

# Each error rule is tested where it lives, with its exact message, file, line, field
# and hint (tests/test_io_*.py, tests/test_config_errors.py, tests/test_stage_errors.py).
# These few runs check the wiring: exit code 2, the message on stderr, no traceback, no
# run folder left, and with --json one error object on stdout.


def user_error(
    result: subprocess.CompletedProcess, out: Path, before: set[str], *needles: str
) -> str:
    """Assert a clean user error: exit 2, no traceback, the needles in stderr, no run left."""
    assert result.returncode == 2, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)
    assert run_folders(out) == before, "a run folder was left behind"
    return result.stderr


def preprocess_error(work: Path, out: Path, *args: object, needles: tuple[str, ...]) -> str:
    out.mkdir(parents=True, exist_ok=True)
    before = run_folders(out)
    result = gennie("preprocess", *args, "--out", out, cwd=work)
    return user_error(result, out, before, *needles)


def test_error_missing_class_file(work, tmp_path):
    missing = tmp_path / "no_such_file.fa"
    text = preprocess_error(
        work,
        tmp_path / "runs",
        "--class",
        f"a={missing}",
        "--class",
        f"b={PUM2['train']['negative']}",
        needles=("no_such_file.fa", "not found"),
    )
    assert "classes.a" in text


def test_error_bad_yaml(work, tmp_path):
    # 'seed: 1' then an indented mapping: a syntax error on line 3.
    config = tmp_path / "bad.yaml"
    config.write_text("window: 100\nseed: 1\n  placement: center\n")
    preprocess_error(
        work, tmp_path / "runs", "--config", config, needles=("bad.yaml", "line 3", "invalid YAML")
    )


def test_error_with_json_prints_one_error_object(work, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    missing = tmp_path / "absent.fa"
    result = gennie(
        "preprocess",
        "--class",
        f"a={missing}",
        "--class",
        f"b={PUM2['train']['negative']}",
        "--out",
        runs,
        "--json",
        cwd=work,
    )
    user_error(result, runs, set(), "absent.fa")
    assert result.stdout.count("\n") == 1
    payload = json.loads(result.stdout)
    assert "absent.fa" in payload["file"] and payload["error"]
    assert payload["field"] == "classes.a"


def test_error_with_json_for_a_flag_of_the_wrong_type(work, tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    result = gennie(
        "preprocess",
        "--class",
        f"a={PUM2['train']['positive']}",
        "--class",
        f"b={PUM2['train']['negative']}",
        "--window",
        "abc",
        "--out",
        runs,
        "--json",
        cwd=work,
    )
    user_error(result, runs, set(), "--window")
    payload = json.loads(result.stdout)
    assert payload["error"] and "window" in json.dumps(payload)


# --------------------------------------------------------------------------- 6. custom model


@pytest.fixture(scope="module")
def torchscript_model(work: Path) -> Path:
    """A tiny TorchScript classifier: (n, 4, 100) one-hot → (n, 2) logits."""
    import torch
    from torch import nn

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv1d(4, 6, 9)
            self.dense = nn.Linear(6, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dense(torch.relu(self.conv(x)).amax(dim=2))

    torch.manual_seed(0)
    path = work / "tiny_model.pt"
    with warnings.catch_warnings():  # torch.jit is deprecated, but it is what users export
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(Tiny().eval()), str(path))
    return path


def test_evaluate_custom_torchscript_model(work, tmp_path, torchscript_model):
    pos = write_fasta(tmp_path / "pos.fa", fasta_records(PUM2["test"]["positive"], 30))
    neg = write_fasta(tmp_path / "neg.fa", fasta_records(PUM2["test"]["negative"], 30))
    args = [
        "evaluate", "--model", torchscript_model, "--custom-classes", "positive,negative",
        "--class", f"positive={pos}", "--class", f"negative={neg}",
        "--out", tmp_path / "runs",
    ]  # fmt: skip
    payload = one_json(gennie(*args, "--custom-window", WINDOW, "--json", cwd=work))
    check_metrics(payload["metrics"], ["positive", "negative"])
    assert payload["samples"] == 60
    check_curves(Path(payload["run_dir"]))
    before = run_folders(tmp_path / "runs")
    result = gennie(*args, cwd=work)  # no --custom-window
    user_error(result, tmp_path / "runs", before, "custom_window", "--custom-window")


# --------------------------------------------------------------------------- 7. restart


def test_a_failed_run_is_replaced_and_a_complete_one_is_kept(work, tmp_path):
    records = fasta_records(PUM2["train"]["positive"], 20)
    a = write_fasta(tmp_path / "a.fa", records[:10])
    b = write_fasta(tmp_path / "b.fa", records[10:])
    runs = tmp_path / "runs"
    args = [
        "preprocess", "--class", f"a={a}", "--class", f"b={b}", "--window", 40,
        "--ratio", "3:1:1", "--out", runs, "--name", "x",
    ]  # fmt: skip
    first = printed_run_dir(gennie(*args, cwd=work))
    assert first == runs / "x"
    # A killed run leaves its folder marked 'running', with partial files in it.
    status = json.loads((first / "run.json").read_text())
    status["status"] = "running"
    (first / "run.json").write_text(json.dumps(status))
    (first / "leftover.partial").write_text("half-written")
    again = printed_run_dir(gennie(*args, cwd=work))
    assert again == runs / "x"
    assert not (again / "leftover.partial").exists()
    assert json.loads((again / "run.json").read_text())["status"] == "complete"
    # Now it is complete: the same name is refused with a hint, and the run is kept.
    result = gennie(*args, cwd=work)
    user_error(result, runs, {"x"}, "x", "name", "hint")
    assert (again / "metadata.json").is_file()


def test_a_folder_that_is_not_a_run_is_never_deleted(work, tmp_path):
    records = fasta_records(PUM2["train"]["positive"], 20)
    a = write_fasta(tmp_path / "a.fa", records[:10])
    b = write_fasta(tmp_path / "b.fa", records[10:])
    runs = tmp_path / "runs"
    precious = runs / "mydata" / "notes.txt"
    precious.parent.mkdir(parents=True)
    precious.write_text("months of work")
    result = gennie(
        "preprocess", "--class", f"a={a}", "--class", f"b={b}", "--window", 40,
        "--ratio", "3:1:1", "--out", runs, "--name", "mydata", cwd=work,
    )  # fmt: skip
    assert precious.is_file(), "a folder without run.json was deleted"
    user_error(result, runs, {"mydata"}, "mydata", "name")
