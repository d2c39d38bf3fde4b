"""Tests for labelled single files (gennie.dataset.labelled) and their use by
preprocess (``--input``) and evaluate (``--input`` with the same label options)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from gennie import evaluate, preprocess, train
from gennie.cli import app
from gennie.config import EvaluateConfig, PreprocessConfig, TrainConfig
from gennie.dataset.labelled import (
    class_names,
    class_order,
    fasta_labels,
    read_labelled,
    suggest_pattern,
    write_records,
)
from gennie.errors import UserError

WINDOW = 24


def options(**values) -> PreprocessConfig:
    """Label options as preprocess holds them."""
    return PreprocessConfig(**values)


# --------------------------------------------------------------------------- FASTA headers


@pytest.mark.parametrize(
    ("headers", "labels", "form"),
    [
        (["s1 class:1", "s2 class:0"], ["1", "0"], "'class:LABEL' or 'label=LABEL'"),
        (["s1|label=bound", "s2|label=free"], ["bound", "free"], "'class:LABEL' or 'label=LABEL'"),
        (["s1 class=x", "s2 note class=y"], ["x", "y"], "'class:LABEL' or 'label=LABEL'"),
        (["s1 bound", "s2 some text free"], ["bound", "free"], "the last word"),
        (["s1|bound", "s2|free"], ["bound", "free"], "the last word"),
    ],
)
def test_header_forms(tmp_path: Path, headers: list[str], labels: list[str], form: str) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text("".join(f">{h}\nACGT\n" for h in headers))
    records = fasta_labels(fasta, None)
    assert records.labels == labels
    assert records.forms == {str(fasta): form}
    assert records.sources == [(str(fasta), 1, "record"), (str(fasta), 2, "record")]
    assert records.rows[0] == (headers[0], "ACGT")


def test_a_label_pattern_reads_its_first_group(tmp_path: Path) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s1_bound\nACGT\n>s2_free\nAC\n")
    assert fasta_labels(fasta, r"_([^_]+)$").labels == ["bound", "free"]


def test_a_model_class_word_is_found_anywhere_in_the_header(tmp_path: Path) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s1 bound extra\nACGT\n")
    assert fasta_labels(fasta, None, known=["bound", "free"]).labels == ["bound"]


def test_no_label_names_the_header_record_and_suggests_a_pattern(tmp_path: Path) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s1 bound\nACGT\n>s2_free\nACGT\n")
    with pytest.raises(UserError, match="no label in header 's2_free'") as caught:
        fasta_labels(fasta, None)
    error = caught.value
    assert (error.file, error.record, error.field) == (str(fasta), 2, "label_pattern")
    assert "--label-pattern '_([^_]+)$'" in error.hint


def test_suggested_patterns() -> None:
    assert suggest_pattern("s1_bound") == "_([^_]+)$"
    assert suggest_pattern("chr1:10-20|x") == r"\|([^\|]+)$"
    assert suggest_pattern("s1") == r"class:(\S+)"


def test_a_bad_letter_names_the_labelled_record(tmp_path: Path) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s1 a\nACGT\n>s2 b\nACJT\n")
    with pytest.raises(UserError, match="letter 'J' at position 3") as caught:
        fasta_labels(fasta, None)
    assert caught.value.record == 2


# --------------------------------------------------------------------------- tables and BED


def test_tsv_with_sequences(tmp_path: Path) -> None:
    table = tmp_path / "x.tsv"
    table.write_text("id\tsequence\tlabel\nr1\tACGT\tbound\n\nr2\tGGCC\tfree\n")
    records = read_labelled([table], options())
    assert records.format == "fasta"
    assert records.labels == ["bound", "free"]
    assert records.rows == [("r1", "ACGT"), ("r2", "GGCC")]
    assert records.sources == [(str(table), 2, "line"), (str(table), 4, "line")]


def test_csv_with_coordinates_and_named_columns(tmp_path: Path) -> None:
    table = tmp_path / "x.csv"
    table.write_text("Chromosome,Begin,Stop,Orientation,y_true\nchr1,0,10,-,1\nchr2,5,9,+,0\n")
    records = read_labelled(
        [table],
        options(
            chrom_column="Chromosome",
            start_column="2",
            strand_column="Orientation",
            label_column="y_true",
        ),
    )
    assert records.format == "bed"
    assert records.labels == ["1", "0"]
    assert records.rows == [
        ("chr1", 0, 10, "chr1:0-10", ".", "-"),
        ("chr2", 5, 9, "chr2:5-9", ".", "+"),
    ]


def test_a_missing_column_suggests_a_close_name(tmp_path: Path) -> None:
    table = tmp_path / "x.tsv"
    table.write_text("seq\tlabels\nACGT\ta\n")
    with pytest.raises(UserError, match="did you mean 'labels'") as caught:
        read_labelled([table], options(label_column="label_s"))
    assert caught.value.field == "label_column"


def test_bed_with_a_class_column(tmp_path: Path) -> None:
    bed = tmp_path / "x.bed"
    bed.write_text("track x\nchr1\t0\t10\tn1\t0\t+\tbound\nchr1\t20\t30\tn2\t0\t-\tfree\n")
    records = read_labelled([bed], options(class_column=7))
    assert records.labels == ["bound", "free"]
    assert records.sources[1] == (str(bed), 3, "line")
    assert records.rows[1] == ("chr1", 20, 30, "n2", "0", "-")


def test_plain_sequences_carry_no_label(tmp_path: Path) -> None:
    plain = tmp_path / "x.txt"
    plain.write_text("ACGT\nGGCC\n")
    with pytest.raises(UserError, match="plain sequences carry no label"):
        read_labelled([plain], options())


def test_several_files_are_concatenated_but_not_mixed(tmp_path: Path) -> None:
    first, second, bed = tmp_path / "a.fa", tmp_path / "b.fa", tmp_path / "c.bed"
    first.write_text(">s1 a\nACGT\n")
    second.write_text(">s2 b\nACGT\n")
    bed.write_text("chr1\t0\t10\ta\n")
    assert read_labelled([first, second], options()).labels == ["a", "b"]
    with pytest.raises(UserError, match="same kind"):
        read_labelled([first, bed], options())


# --------------------------------------------------------------------------- class names


def test_label_map_and_safe_class_names() -> None:
    names = class_names(["1", "0", "a b", "0", "x/y"], {"1": "bound"})
    assert names["1"] == "bound" and names["0"] == "0"
    assert names["a b"].startswith("a_b-") and names["x/y"].startswith("x_y-")
    assert class_order(names) == ["bound", "0", names["a b"], names["x/y"]]
    with pytest.raises(UserError, match="label_map names label"):
        class_names(["a"], {"z": "zed"})


def test_label_map_option_parses_pairs() -> None:
    config = options(label_map={1: "bound", "0": "free"})
    assert config.label_map == ["1=bound", "0=free"]
    assert config.label_names == {"1": "bound", "0": "free"}
    with pytest.raises(ValueError, match="not LABEL=NAME"):
        options(label_map=["oops"])
    with pytest.raises(ValueError, match="needs a group"):
        options(label_pattern="class")


def test_written_records_keep_their_source(tmp_path: Path) -> None:
    fasta = tmp_path / "x.fa"
    fasta.write_text(">s1 a\nACGT\n>s2 b\nGG\n>s3 a\nTT\n")
    records = read_labelled([fasta], options())
    out = tmp_path / "a.fa"
    assert write_records(records, [0, 2], out) == [
        (str(fasta), 1, "record"),
        (str(fasta), 3, "record"),
    ]
    assert out.read_text() == ">s1 a\nACGT\n>s3 a\nTT\n"


# --------------------------------------------------------------------------- end to end


def _sequence(rng: random.Random, motif: str) -> str:
    bases = [rng.choice("ACGT") for _ in range(WINDOW)]
    return "".join(bases[:8]) + motif + "".join(bases[8 + len(motif) :])


def _sequence_table(path: Path, n: int = 40, seed: int = 1) -> Path:
    rng = random.Random(seed)
    rows = ["name\tsequence\tlabel"]
    for i in range(n):
        label = "1" if i % 2 else "0"
        rows.append(f"r{i}\t{_sequence(rng, 'GATTACA' if label == '1' else 'CCCCCCC')}\t{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def _genome_and_intervals(tmp_path: Path, n: int = 40) -> tuple[Path, Path]:
    rng = random.Random(3)
    chrom = "".join(rng.choice("ACGT") for _ in range(n * 50 + 100))
    genome = tmp_path / "genome.fa"
    genome.write_text(">chr1\n" + chrom + "\n")
    rows = ["chrom,start,end,strand,class"]
    for i in range(n):
        start = 20 + i * 50
        rows.append(f"chr1,{start},{start + 30},{'+-'[i % 3 == 0]},{'up' if i % 2 else 'down'}")
    table = tmp_path / "sites.csv"
    table.write_text("\n".join(rows) + "\n")
    return genome, table


def _cli(*args: object) -> dict:
    result = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


TRAIN_FLAGS = ["--epochs", "1", "--ensemble", "1", "--preset", "1layer", "--shift", "0"]


@pytest.mark.slow
def test_sequence_table_through_the_cli(tmp_path: Path) -> None:
    table = _sequence_table(tmp_path / "train.tsv")
    out = tmp_path / "runs"
    made = _cli(
        "preprocess", "--input", table, "--label-map", "1=bound", "--window", WINDOW,
        "--out", out, "--ratio", "6:2:2",
    )  # fmt: skip
    dataset = Path(made["run_dir"])
    meta = json.loads((dataset / "metadata.json").read_text())
    assert meta["classes"] == ["bound", "0"]
    samples = pd.read_csv(dataset / "samples.tsv", sep="\t", keep_default_na=False)
    assert set(samples["source_file"]) == {str(table)}
    bound = samples[samples["class"] == "bound"]
    assert sorted(bound["source_line"]) == list(range(3, 42, 2))
    assert set(bound["name"]) == {f"r{i}" for i in range(1, 40, 2)}
    model = Path(_cli("train", "--dataset", dataset, "--out", out, *TRAIN_FLAGS)["run_dir"])
    test = _sequence_table(tmp_path / "test.tsv", n=10, seed=2)
    scored = _cli(
        "evaluate", "--model", model, "--input", test, "--label-map", "1=bound", "--out", out
    )
    assert scored["samples"] == 10
    predictions = pd.read_csv(Path(scored["run_dir"]) / "predictions.tsv", sep="\t")
    assert list(predictions["class"]) == ["0", "bound"] * 5
    assert list(predictions["record"]) == list(range(2, 12))
    # Without the label map, label 1 (first on line 3) is no class of the model.
    result = CliRunner().invoke(
        app, ["evaluate", "--model", str(model), "--input", str(test), "--out", str(out)]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert f"{test}, line 3; field 'label_map': label '1' is not a class of the model" in text


@pytest.mark.slow
def test_coordinate_table_through_the_python_api(tmp_path: Path) -> None:
    genome, table = _genome_and_intervals(tmp_path)
    out = tmp_path / "runs"
    made = preprocess(
        PreprocessConfig(input=[table], genome=genome, window=WINDOW, out=out, ratio="6:2:2")
    )
    samples = pd.read_csv(made.run_dir / "samples.tsv", sep="\t", keep_default_na=False)
    assert sorted(set(samples["class"])) == ["down", "up"]
    assert set(samples["source_file"]) == {str(table)}
    assert sorted(samples["source_line"]) == list(range(2, 42))
    assert set(samples.loc[samples["source_line"] == 2, "strand"]) == {"-"}
    model = train(
        TrainConfig(dataset=made.run_dir, out=out, epochs=1, ensemble=1, preset="1layer", shift=0)
    )
    scored = evaluate(EvaluateConfig(model=model.run_dir, input=table, genome=genome, out=out))
    assert scored.summary["samples"] == 40
    predictions = pd.read_csv(scored.run_dir / "predictions.tsv", sep="\t")
    assert list(predictions["line"]) == list(range(2, 42))


def test_classes_and_input_are_alternatives(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        PreprocessConfig(input=[tmp_path / "a.tsv"], classes={"a": tmp_path / "a.fa"})


def test_preprocess_check_reports_too_few_classes(tmp_path: Path) -> None:
    from gennie.preprocessing.stage import check

    table = tmp_path / "x.tsv"
    table.write_text("sequence\tlabel\nACGT\tonly\n")
    problems = check(PreprocessConfig(input=[table], window=WINDOW, out=tmp_path))
    assert [p.field for p in problems] == ["input"]
    assert "at least 2 classes" in problems[0].message
