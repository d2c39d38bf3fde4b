"""Stage-level user errors, raised by the stage functions called from Python on tiny data.

Each test checks the whole :class:`~gennie.errors.UserError` (message, file, line,
field, hint) and that the failed stage left no run folder behind. The rules that belong
to a reader or to the configuration are tested there (tests/test_io_*.py,
tests/test_config_errors.py); these are the ones a stage owns or passes on from the
files it reads. One tiny model (1 epoch, one network) is trained for the whole module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gennie import evaluate, predict, preprocess, train
from gennie.config import EvaluateConfig, PredictConfig, PreprocessConfig, TrainConfig
from gennie.errors import UserError

LETTER_HINT = "sequences may contain A, C, G, T, U and IUPAC codes such as N"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def write_fasta(path: Path, records: list[tuple[str, str]]) -> Path:
    return write(path, "".join(f">{h}\n{s}\n" for h, s in records))


def random_records(prefix: str, n: int, length: int, seed: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(seed)
    return [(f"{prefix}{i}", "".join(rng.choice(list("ACGT"), length))) for i in range(n)]


def run_folders(out: Path) -> set[str]:
    """Names of the run folders in an output folder (the shared cache is not a run)."""
    if not out.exists():
        return set()
    return {p.name for p in out.iterdir() if p.is_dir() and p.name != "cache"}


def stage_error(call, out: Path) -> dict:
    """The ``to_dict()`` of the UserError that ``call()`` raises; no run folder is left."""
    before = run_folders(out)
    with pytest.raises(UserError) as err:
        call()
    assert run_folders(out) == before, "a run folder was left behind"
    return err.value.to_dict()


# --------------------------------------------------------------------------- data


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A plain FASTA genome (chr1 of 400 bp, chr2 of 200 bp) and two BED classes on it."""
    folder = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(3)
    text = ""
    for chrom, length in (("chr1", 400), ("chr2", 200)):
        seq = "".join(rng.choice(list("ACGT"), length))
        text += f">{chrom}\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n"
    a = "".join(f"chr1\t{10 + 20 * i}\t{30 + 20 * i}\ta{i}\t0\t+\n" for i in range(15))
    b = "".join(f"chr2\t{5 + 10 * i}\t{25 + 10 * i}\tb{i}\t0\t-\n" for i in range(15))
    return {
        "genome": write(folder / "tiny.fa", text),
        "a": write(folder / "a.bed", a),
        "b": write(folder / "b.bed", b),
    }


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model of window 40 trained for 1 epoch on two random FASTA classes of 48-base
    sequences, with the class files and its output folder."""
    folder = tmp_path_factory.mktemp("model")
    positive = write_fasta(folder / "pos.fa", random_records("p", 20, 48, seed=1))
    negative = write_fasta(folder / "neg.fa", random_records("n", 20, 48, seed=2))
    out = folder / "runs"
    dataset = preprocess(
        PreprocessConfig(
            classes={"positive": positive, "negative": negative}, window=40, out=out, name="data"
        )
    )
    trained = train(
        TrainConfig(
            dataset=dataset.run_dir,
            preset="1layer",
            ensemble=1,
            epochs=1,
            batch_size=8,
            device="cpu",
            out=out,
            name="model",
        )
    )
    return {"run": trained.run_dir, "positive": positive, "negative": negative, "out": out}


def bed_config(tiny: dict[str, Path], out: Path, **fields) -> PreprocessConfig:
    fields.setdefault("classes", {"a": tiny["a"], "b": tiny["b"]})
    fields.setdefault("window", 50)
    return PreprocessConfig(genome=tiny["genome"], out=out, **fields)


# --------------------------------------------------------------------------- preprocess


def test_missing_class_file(tmp_path, model):
    missing = tmp_path / "no_such_file.fa"
    config = PreprocessConfig(
        classes={"a": missing, "b": model["negative"]}, window=40, out=tmp_path / "runs"
    )
    assert stage_error(lambda: preprocess(config), tmp_path / "runs") == {
        "error": "class file not found",
        "file": str(missing),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": "check the path (relative paths are taken from the working folder)",
    }


@pytest.mark.parametrize(
    ("bad_line", "message", "hint"),
    [
        (
            "chr1\t100\n",
            "a BED line needs at least 3 columns (chrom, start, end), found 2",
            "separate columns with tabs; check the file is BED",
        ),
        ("chr1\tabc\t120\n", "start and end must be whole numbers, found 'abc' and '120'", None),
    ],
    ids=["two-columns", "non-numeric-start"],
)
def test_malformed_bed_line(tmp_path, tiny, bad_line, message, hint):
    bad = write(
        tmp_path / "broken.bed", "chr1\t10\t30\tx\t0\t+\nchr1\t40\t60\ty\t0\t+\n" + bad_line
    )
    out = tmp_path / "runs"
    config = bed_config(tiny, out, classes={"a": bad, "b": tiny["b"]})
    assert stage_error(lambda: preprocess(config), out) == {
        "error": message,
        "file": str(bad),
        "line": 3,
        "record": None,
        "field": "classes.a",
        "hint": hint,
    }


def test_unknown_chromosome(tmp_path, tiny):
    bad = write(tmp_path / "chroms.bed", "# header\nchr1\t10\t30\nchr2\t10\t30\nchr9\t10\t30\n")
    out = tmp_path / "runs"
    config = bed_config(tiny, out, classes={"a": bad, "b": tiny["b"]})
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "chromosome 'chr9' is not in the genome tiny.fa",
        "file": str(bad),
        "line": 4,
        "record": None,
        "field": "classes.a",
        "hint": "the genome has 2 sequences, e.g. chr1, chr2",
    }


def test_class_file_with_only_header_lines(tmp_path, tiny):
    empty = write(
        tmp_path / "empty.bed", 'track name="nothing"\n# no intervals here\nbrowser position chr1\n'
    )
    out = tmp_path / "runs"
    config = bed_config(tiny, out, classes={"a": tiny["a"], "empty": empty})
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "the file has no data lines",
        "file": str(empty),
        "line": None,
        "record": None,
        "field": "classes.empty",
        "hint": None,
    }


def test_window_longer_than_every_chromosome(tmp_path, tiny):
    out = tmp_path / "runs"
    config = bed_config(tiny, out, window=1000)
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "no usable intervals: every chromosome (chr1) is shorter than the window of 1000",
        "file": str(tiny["a"]),
        "line": None,
        "record": None,
        "field": "window",
        "hint": "choose a smaller --window",
    }


def test_bed_classes_without_a_genome(tmp_path, tiny):
    out = tmp_path / "runs"
    config = PreprocessConfig(classes={"a": tiny["a"], "b": tiny["b"]}, window=50, out=out)
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "BED class files need a reference genome or transcriptome",
        "file": None,
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "give --genome FASTA (plain or bgzip-compressed)",
    }


def test_one_class_file_is_not_enough(tmp_path, tiny):
    out = tmp_path / "runs"
    config = bed_config(tiny, out, classes={"a": tiny["a"]})
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "at least 2 class file(s) are needed, got 1",
        "file": None,
        "line": None,
        "record": None,
        "field": "classes",
        "hint": "give one --class NAME=FILE per class",
    }


def test_a_class_file_of_plain_sequences(tmp_path, model):
    plain = write(tmp_path / "plain.txt", "ACGTACGT\nTTTTACGT\n")
    out = tmp_path / "runs"
    config = PreprocessConfig(classes={"a": plain, "b": model["negative"]}, window=8, out=out)
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "class files must be BED or FASTA",
        "file": str(plain),
        "line": None,
        "record": None,
        "field": "classes.a",
        "hint": "add '>' headers to make it FASTA",
    }


def test_a_chromosome_split_of_fasta_classes(tmp_path, model):
    out = tmp_path / "runs"
    config = PreprocessConfig(
        classes={"positive": model["positive"], "negative": model["negative"]},
        split="chromosome",
        chromosomes={"train": ["chr1"], "validation": ["chr2"], "test": ["chr3"]},
        window=40,
        out=out,
    )
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "a chromosome split needs BED input; FASTA records have no chromosome",
        "file": None,
        "line": None,
        "record": None,
        "field": "split",
        "hint": "use --split random (FASTA classes: positive, negative)",
    }


def test_fasta_with_an_invalid_letter(tmp_path):
    bad = write_fasta(tmp_path / "letters.fa", [("ok1", "ACGTACGT"), ("broken_rec", "ACGT1ACGT")])
    good = write_fasta(tmp_path / "good.fa", [("g1", "ACGTACGT"), ("g2", "TTTTACGT")])
    out = tmp_path / "runs"
    config = PreprocessConfig(classes={"a": bad, "b": good}, window=8, out=out)
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "record 'broken_rec': letter '1' at position 5 is not a nucleotide or IUPAC code",
        "file": str(bad),
        "line": None,
        "record": 2,
        "field": "classes.a",
        "hint": LETTER_HINT,
    }


def test_fasta_invalid_letter_outside_the_window(tmp_path):
    # The window (20) is cut from the middle of the 34 letters: both bad letters are
    # outside it, and still the whole record is checked.
    records = [(f"r{i}", "ACGT" * 6) for i in range(6)] + [("bad_rec", "1" + "ACGT" * 8 + "9")]
    bad = write_fasta(tmp_path / "outside.fa", records)
    good = write_fasta(tmp_path / "good.fa", [(f"g{i}", "ACGT" * 6) for i in range(7)])
    out = tmp_path / "runs"
    config = PreprocessConfig(classes={"a": bad, "b": good}, window=20, ratio="1:1:1", out=out)
    assert stage_error(lambda: preprocess(config), out) == {
        "error": "record 'bad_rec': letter '1' at position 1 is not a nucleotide or IUPAC code",
        "file": str(bad),
        "line": None,
        "record": 7,
        "field": "classes.a",
        "hint": LETTER_HINT,
    }


# --------------------------------------------------------------------------- train


def test_train_on_a_folder_that_is_not_a_dataset(tmp_path):
    folder = tmp_path / "not_a_dataset"
    folder.mkdir()
    (folder / "samples.tsv").write_text("nothing\n")
    out = tmp_path / "runs"
    config = TrainConfig(dataset=folder, epochs=1, ensemble=1, out=out)
    assert stage_error(lambda: train(config), out) == {
        "error": "not a gennie preprocess run folder (no run.json)",
        "file": str(folder),
        "line": None,
        "record": None,
        "field": "dataset",
        "hint": "give the run folder that 'gennie preprocess' printed",
    }


def test_train_without_a_dataset(tmp_path):
    out = tmp_path / "runs"
    assert stage_error(lambda: train(TrainConfig(out=out)), out) == {
        "error": "no dataset given",
        "file": None,
        "line": None,
        "record": None,
        "field": "dataset",
        "hint": "give --dataset with the folder that 'gennie preprocess' printed",
    }


# --------------------------------------------------------------------------- evaluate


def test_evaluate_dataset_with_another_window(model):
    out = model["out"]
    other = preprocess(
        PreprocessConfig(
            classes={"positive": model["positive"], "negative": model["negative"]},
            window=48,
            ratio="2:1:1:1",
            out=out,
            name="window48",
        )
    ).run_dir
    config = EvaluateConfig(model=model["run"], blackbox=other, device="cpu", out=out)
    assert stage_error(lambda: evaluate(config), out) == {
        "error": "the dataset's window (48) differs from the model's (40)",
        "file": str(other),
        "line": None,
        "record": None,
        "field": "blackbox",
        "hint": "preprocess the data with the model's window",
    }


def test_evaluate_fasta_headers_without_class(tmp_path, model):
    unlabelled = write_fasta(tmp_path / "unlabelled.fa", random_records("u", 5, 40, seed=4))
    out = tmp_path / "runs"
    config = EvaluateConfig(model=model["run"], input=unlabelled, device="cpu", out=out)
    assert stage_error(lambda: evaluate(config), out) == {
        "error": "header 'u0' names none (or several) of the model's classes (positive, negative)",
        "file": str(unlabelled),
        "line": None,
        "record": 1,
        "field": "input",
        "hint": "put the class as a separate word in each header, e.g. '>id1 bound', "
        "or give one file per class",
    }


def test_evaluate_without_data(tmp_path, model):
    out = tmp_path / "runs"
    config = EvaluateConfig(model=model["run"], device="cpu", out=out)
    assert stage_error(lambda: evaluate(config), out) == {
        "error": "no data to evaluate",
        "file": None,
        "line": None,
        "record": None,
        "field": "input",
        "hint": "give --blackbox DATASET, --input FILE or --class NAME=FILE",
    }


# --------------------------------------------------------------------------- predict


def test_predict_with_a_missing_model(tmp_path):
    out = tmp_path / "runs"
    missing = tmp_path / "no_model_here"
    config = PredictConfig(model=missing, sequences=["ACGT" * 10], out=out)
    assert stage_error(lambda: predict(config), out) == {
        "error": "model not found",
        "file": str(missing),
        "line": None,
        "record": None,
        "field": "model",
        "hint": "give the run folder that 'gennie train' printed",
    }


def test_predict_bed_without_a_genome(tmp_path, model):
    # The model was trained on FASTA, so it names no genome to fall back on.
    bed = write(tmp_path / "unbound.bed", "chr1\t100\t200\tu1\t0\t+\nchr1\t300\t400\tu2\t0\t-\n")
    out = tmp_path / "runs"
    config = PredictConfig(model=model["run"], input=bed, device="cpu", out=out)
    assert stage_error(lambda: predict(config), out) == {
        "error": "BED input needs a reference genome",
        "file": str(bed),
        "line": None,
        "record": None,
        "field": "genome",
        "hint": "give --genome FASTA",
    }


def test_predict_without_input(tmp_path, model):
    out = tmp_path / "runs"
    config = PredictConfig(model=model["run"], device="cpu", out=out)
    assert stage_error(lambda: predict(config), out) == {
        "error": "nothing to predict",
        "file": None,
        "line": None,
        "record": None,
        "field": "input",
        "hint": "give --input FILE (BED, FASTA, sequences) or --sequence SEQ",
    }


def test_predict_typed_sequence_with_an_invalid_letter(tmp_path, model):
    out = tmp_path / "runs"
    config = PredictConfig(model=model["run"], sequences=["ACGT", "ACXT"], device="cpu", out=out)
    assert stage_error(lambda: predict(config), out) == {
        "error": "sequence 2: letter 'X' at position 3 is not a nucleotide or IUPAC code",
        "file": None,
        "line": None,
        "record": None,
        "field": "sequences",
        "hint": None,
    }
