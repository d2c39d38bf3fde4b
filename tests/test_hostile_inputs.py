"""Hostile inputs: every one gets one user error, never a traceback or a hang.

Each case builds a bad input in a temporary folder (a truncated gzip stream, Latin-1
or binary bytes, a named pipe or a device, a huge or non-finite number, a YAML alias
bomb or a key given twice, an interval past its chromosome's end, a damaged dataset
folder) and runs a stage on it. Most cases run the command line in this process
(``typer``'s test runner on :data:`gennie.cli.app` with ``--json``); a few run the
installed console script, to show that no traceback reaches stderr and that nothing
blocks; a dozen check the GUI's page check. Every case asserts exit code 2, the one
JSON error object with its file, line or record and field, no ``Traceback`` in the
output, and no run folder left in ``--out``.

One tiny model (window 40, 1 epoch, one network, preset ``1layer``) is trained on
random FASTA classes for the whole module.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import os
import shutil
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pysam
import pytest
from cli_run import GENNIE
from typer.testing import CliRunner

import gennie.io.files as files_module
from gennie import preprocess, train
from gennie.cli import app
from gennie.config import PreprocessConfig, TrainConfig
from gennie.dataset.mapping import DROP_REASONS
from gennie.errors import UserError, printable
from gennie.gui.fields import validate_page
from gennie.io.tracks import write_bigwig

RUNNER = CliRunner()
WINDOW = 40

pytestmark = pytest.mark.usefixtures("one_thread")


# --------------------------------------------------------------------------- data


def write(path: Path, text: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path``."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def random_records(prefix: str, n: int, length: int, seed: int) -> str:
    """FASTA text of ``n`` random records."""
    rng = np.random.default_rng(seed)
    return "".join(
        f">{prefix}{i}\n" + "".join(rng.choice(list("ACGT"), length)) + "\n" for i in range(n)
    )


def genome_text(lengths: dict[str, int], seed: int = 3) -> str:
    """A random genome, 60 bases per line."""
    rng = np.random.default_rng(seed)
    text = ""
    for chrom, length in lengths.items():
        seq = "".join(rng.choice(list("ACGT"), length))
        text += f">{chrom}\n" + "\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n"
    return text


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A genome (chr1 400 bp, chr2 200 bp), BED classes a and b on it, FASTA classes
    pos and neg, their dataset and a model trained on it."""
    folder = tmp_path_factory.mktemp("hostile")
    a = "".join(f"chr1\t{10 + 20 * i}\t{30 + 20 * i}\ta{i}\t0\t+\n" for i in range(15))
    b = "".join(f"chr2\t{5 + 10 * i}\t{25 + 10 * i}\tb{i}\t0\t-\n" for i in range(15))
    data = SimpleNamespace(
        genome=write(folder / "genome.fa", genome_text({"chr1": 400, "chr2": 200})),
        a=write(folder / "a.bed", a),
        b=write(folder / "b.bed", b),
        pos=write(folder / "pos.fa", random_records("p", 20, 48, seed=1)),
        neg=write(folder / "neg.fa", random_records("n", 20, 48, seed=2)),
    )
    out = folder / "runs"
    data.dataset = preprocess(
        PreprocessConfig(
            classes={"pos": data.pos, "neg": data.neg}, window=WINDOW, out=out, name="data"
        )
    ).run_dir
    data.model = train(
        TrainConfig(
            dataset=data.dataset,
            preset="1layer",
            ensemble=1,
            epochs=1,
            batch_size=8,
            device="cpu",
            out=out,
            name="model",
        )
    ).run_dir
    return data


@pytest.fixture(autouse=True)
def _quiet_cli_logging():
    """Each in-process CLI call adds a log handler on the runner's stream; drop it
    afterwards, so that no later call logs to a closed stream."""
    logger = logging.getLogger("gennie")
    before = list(logger.handlers)
    yield
    for handler in logger.handlers[:]:
        if handler not in before:
            logger.removeHandler(handler)


def gzip_cut(path: Path, text: str) -> tuple[Path, int]:
    """Write ``text`` gzipped and cut in half; return the path and the 1-based line the
    text breaks off in (one after the last line that can be decompressed whole)."""
    packed = gzip.compress(text.encode(), mtime=0)
    cut = packed[: len(packed) // 2]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    write(path, cut)
    return path, readable.count(b"\n") + 1


def bgzip_cut(folder: Path, text: str) -> tuple[Path, int]:
    """A bgzip-compressed FASTA cut in its first (only) block; the path and the line
    the text breaks off in."""
    plain = write(folder / "source.fa", text)
    packed = folder / "cut.fa.gz"
    pysam.tabix_compress(str(plain), str(packed), force=True)
    cut = packed.read_bytes()[: packed.stat().st_size // 3]
    readable = zlib.decompressobj(wbits=31).decompress(cut)
    return write(packed, cut), readable.count(b"\n") + 1


def fifo(path: Path) -> Path:
    """A named pipe at ``path`` (reading it would block until someone writes)."""
    os.mkfifo(path)
    return path


def damaged_dataset(
    env: SimpleNamespace, folder: Path, damage: Callable[[Path], Path]
) -> tuple[Path, Path]:
    """A copy of the module's dataset with ``damage(copy)`` applied; returns the copy
    and the file the damage is in."""
    copy = folder / "dataset"
    shutil.copytree(env.dataset, copy)
    return copy, damage(copy)


def cut_file(path: Path, keep: float = 0.5) -> Path:
    """Cut a file to a share of its bytes."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


# --------------------------------------------------------------------------- running


def run_folders(out: Path) -> set[str]:
    """Names of the run folders in an output folder (the shared cache is not a run)."""
    if not out.exists():
        return set()
    return {p.name for p in out.iterdir() if p.is_dir() and p.name != "cache"}


@dataclass
class Expected:
    """What the one error of a case must say: its file, line, record and field exactly,
    and a part of its message."""

    file: Path | None
    field: str | None
    says: str
    line: int | None = None
    record: int | None = None


@dataclass
class Case:
    """A command line (without ``--out`` and ``--json``) and its expected error."""

    args: list[Any]
    expected: Expected
    patch: list[tuple[Any, str, Any]] = field(default_factory=list)
    """(object, attribute, value) to set for the case."""


def invoke(args: list[Any], out: Path) -> dict[str, Any]:
    """Run the CLI in this process with ``--out`` and ``--json``; check exit code 2,
    no traceback, no run folder left; return the JSON error object."""
    before = run_folders(out)
    result = RUNNER.invoke(app, [*(str(a) for a in args), "--out", str(out), "--json"])
    output = result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{output[-3000:]}"
    )
    assert result.exit_code == 2, output[-3000:]
    assert "Traceback" not in output
    assert run_folders(out) == before, "a run folder was left behind"
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def check_error(error: dict[str, Any], expected: Expected) -> None:
    """The JSON error object says what ``expected`` says."""
    where = {k: error[k] for k in ("file", "line", "record", "field")}
    assert where == {
        "file": str(expected.file) if expected.file is not None else None,
        "line": expected.line,
        "record": expected.record,
        "field": expected.field,
    }, error
    assert expected.says in error["error"], error
    for text in (error["error"], error["hint"] or ""):
        assert text.isprintable(), f"unprintable characters in {text!r}"


CASES: dict[str, Callable[[SimpleNamespace, Path], Case]] = {}


def case(function: Callable[[SimpleNamespace, Path], Case]):
    """Register a CLI case under its function's name (dashes for underscores)."""
    CASES[function.__name__.replace("_", "-")] = function
    return function


def fasta_classes(env: SimpleNamespace, bad: Path, *more: Any) -> list[Any]:
    """preprocess with ``bad`` as FASTA class ``pos`` beside the good class ``neg``."""
    return [
        "preprocess",
        "--window",
        WINDOW,
        "--class",
        f"pos={bad}",
        "--class",
        f"neg={env.neg}",
        *more,
    ]


def bed_classes(env: SimpleNamespace, bad: Path, *more: Any) -> list[Any]:
    """preprocess with ``bad`` as BED class ``a`` beside the good class ``b``."""
    return [
        "preprocess",
        "--window",
        WINDOW,
        "--genome",
        env.genome,
        "--class",
        f"a={bad}",
        "--class",
        f"b={env.b}",
        *more,
    ]


BINARY = "the file looks binary, not text"
NOT_UTF8 = "not UTF-8 text: byte \\xe9"
TRUNCATED = "the gzip-compressed file is truncated or damaged"


# ------------------------------------------------------------------ preprocess: class files


@case
def bed_truncated_gzip(env, tmp):
    text = "".join(f"chr1\t{i % 300}\t{i % 300 + 20}\n" for i in range(4000))
    bad, line = gzip_cut(tmp / "cut.bed.gz", text)
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", TRUNCATED, line=line))


@case
def fasta_truncated_gzip(env, tmp):
    bad, line = gzip_cut(tmp / "cut.fa.gz", random_records("r", 400, 60, seed=5))
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", TRUNCATED, line=line))


@case
def bed_latin1_bytes(env, tmp):
    bad = write(tmp / "latin.bed", b"chr1\t10\t30\tok\nchr1\t40\t60\tcaf\xe9\n")
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", NOT_UTF8, line=2))


@case
def fasta_latin1_header(env, tmp):
    bad = write(tmp / "latin.fa", b">ok\nACGTACGT\n>caf\xe9\nACGTACGT\n")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", NOT_UTF8, line=3))


@case
def bed_binary_garbage(env, tmp):
    rng = np.random.default_rng(0)
    bad = write(tmp / "garbage.bed", b"\x00" + rng.integers(0, 256, 300, dtype=np.uint8).tobytes())
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", f"{BINARY}: byte \\x00", line=1))


@case
def fasta_nul_in_a_sequence(env, tmp):
    bad = write(tmp / "nul.fa", b">r1\nACGTACGT\n>r2\nACGT\x00ACGT\n")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", BINARY, line=4))


@case
def bed_control_character_in_a_chromosome(env, tmp):
    bad = write(tmp / "control.bed", b"chr1\t10\t30\nchr\x011\t10\t30\n")
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", "byte \\x01", line=2))


@case
def bed_bzip2_compressed(env, tmp):
    bad = write(tmp / "classes.bed.bz2", bz2.compress(b"chr1\t10\t30\n" * 5))
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", "bzip2-compressed"))


@case
def fasta_utf16(env, tmp):
    bad = write(tmp / "wide.fa", ">r1\nACGTACGT\n".encode("utf-16"))
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "UTF-16 text"))


@case
def class_file_is_a_folder(env, tmp):
    bad = tmp / "folder.fa"
    bad.mkdir()
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "this is a folder"))


@case
def class_file_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "pipe.fa")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "a named pipe (FIFO)"))


@case
def class_file_is_an_endless_device(env, tmp):
    bad = Path("/dev/zero")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "this is a device"))


@case
def class_file_unreadable(env, tmp):
    bad = write(tmp / "locked.fa", ">r\nACGT\n")

    def refuse(*args, **kwargs):  # permissions do not stop root: refuse at open()
        raise PermissionError(13, "Permission denied")

    return Case(
        fasta_classes(env, bad),
        Expected(bad, "classes.pos", "cannot read the class file (Permission denied)"),
        patch=[(files_module, "open", refuse)],
    )


@case
def bed_coordinate_beyond_any_chromosome(env, tmp):
    bad = write(tmp / "huge.bed", "chr1\t10\t30\nchr1\t10\t100000000000000000000000\n")
    return Case(
        bed_classes(env, bad), Expected(bad, "classes.a", "larger than any chromosome", line=2)
    )


@case
def bed_coordinate_in_exponent_notation(env, tmp):
    bad = write(tmp / "exponent.bed", "chr1\t10\t30\nchr1\t10\t1e23\n")
    return Case(
        bed_classes(env, bad),
        Expected(bad, "classes.a", "whole numbers, found '10' and '1e23'", line=2),
    )


@case
def bed_coordinate_in_other_digits(env, tmp):
    bad = write(tmp / "digits.bed", "chr1\t10\t30\nchr1\t\u0661\u0660\t30\n")
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", "whole numbers", line=2))


@case
def bed_invisible_character_in_a_chromosome(env, tmp):
    bad = write(tmp / "invisible.bed", "chr1\t10\t30\nchr1\u200b\t10\t30\n")
    return Case(
        bed_classes(env, bad), Expected(bad, "classes.a", "chromosome 'chr1\\u200b'", line=2)
    )


@case
def bed_every_interval_past_the_chromosome_end(env, tmp):
    bad = write(tmp / "past.bed", "chr1\t500\t520\nchr2\t300\t310\n")
    return Case(bed_classes(env, bad), Expected(bad, "classes.a", "lie past the end", line=1))


@case
def fastq_given_as_a_class(env, tmp):
    bad = write(tmp / "reads.fa", "@read1\nACGTACGT\n+\nIIIIIIII\n")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "FASTQ", line=1))


@case
def fasta_invalid_letter_names_its_record(env, tmp):
    bad = write(tmp / "letters.fa", ">r1\nACGT\n\n>r2\nACGT\n>r3\nAC\nGT*A\n")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "letter '*'", record=3))


@case
def fasta_empty_record_names_its_record(env, tmp):
    bad = write(tmp / "empty_record.fa", ">r1\nACGT\n>r2\n>r3\nACGT\n")
    return Case(fasta_classes(env, bad), Expected(bad, "classes.pos", "has no sequence", record=2))


# ------------------------------------------------------------------ preprocess: genome


def with_genome(env: SimpleNamespace, genome: Path) -> list[Any]:
    """preprocess of the good BED classes on ``genome``."""
    args = bed_classes(env, env.a)
    args[args.index("--genome") + 1] = genome
    return args


@case
def genome_truncated_bgzip(env, tmp):
    bad, line = bgzip_cut(tmp, genome_text({"chr1": 400, "chr2": 200}))
    return Case(with_genome(env, bad), Expected(bad, "genome", TRUNCATED, line=line))


@case
def genome_gzip_not_bgzip(env, tmp):
    bad = write(tmp / "plain.fa.gz", gzip.compress(env.genome.read_bytes()))
    return Case(with_genome(env, bad), Expected(bad, "genome", "not bgzip-compressed"))


@case
def genome_latin1_header(env, tmp):
    bad = write(tmp / "latin.fa", b">chr\xe91\nACGTACGT\n")
    return Case(with_genome(env, bad), Expected(bad, "genome", NOT_UTF8, line=1))


@case
def genome_binary(env, tmp):
    bad = write(tmp / "binary.fa", b">chr1\nACGT\x00\x01\x02\n")
    return Case(with_genome(env, bad), Expected(bad, "genome", BINARY, line=2))


@case
def genome_empty(env, tmp):
    bad = write(tmp / "empty.fa", "")
    return Case(with_genome(env, bad), Expected(bad, "genome", "the genome FASTA is empty"))


@case
def genome_is_a_folder(env, tmp):
    return Case(
        with_genome(env, tmp), Expected(tmp, "genome", "this is a folder, not a genome FASTA")
    )


@case
def genome_index_out_of_date(env, tmp):
    # The index promises a 4000-base chr1; the file holds 400 bases.
    genome = write(tmp / "stale.fa", genome_text({"chr1": 400}))
    write(tmp / "stale.fa.fai", "chr1\t4000\t6\t60\t61\n")
    bed = write(tmp / "far.bed", "chr1\t3000\t3020\nchr1\t3100\t3120\n")
    args = [
        "preprocess",
        "--window",
        WINDOW,
        "--genome",
        genome,
        "--class",
        f"a={bed}",
        "--class",
        f"b={env.pos}",
    ]
    return Case(args, Expected(genome, "genome", "cannot read chr1:2990-3030 from the genome"))


# ------------------------------------------------------------------ preprocess: tracks


def with_track(env: SimpleNamespace, track: Path) -> list[Any]:
    """preprocess of the good BED classes with a seq and a cons branch on ``track``."""
    return bed_classes(env, env.a, "--branches", "seq,cons", "--conservation", track)


@case
def track_truncated_gzip_wig(env, tmp):
    text = "fixedStep chrom=chr1 start=1 step=1\n" + "0.5\n" * 4000
    bad, line = gzip_cut(tmp / "cut.wig.gz", text)
    return Case(with_track(env, bad), Expected(bad, "conservation.0", TRUNCATED, line=line))


@case
def track_truncated_bigwig(env, tmp):
    entries = np.zeros(400, dtype=[("start", "i8"), ("end", "i8"), ("value", "f4")])
    entries["start"], entries["end"], entries["value"] = np.arange(400), np.arange(1, 401), 0.5
    bad = tmp / "cut.bw"
    write_bigwig(bad, {"chr1": entries, "chr2": entries[:200]})
    cut_file(bad)
    return Case(
        with_track(env, bad), Expected(bad, "conservation", "cannot open the track as bigWig")
    )


@case
def track_infinite_value(env, tmp):
    bad = write(tmp / "inf.wig", "fixedStep chrom=chr1 start=1 step=1\n0.5\ninf\n0.2\n")
    return Case(
        with_track(env, bad), Expected(bad, "conservation", "'inf' is not a finite number", line=3)
    )


@case
def track_latin1(env, tmp):
    bad = write(
        tmp / "latin.wig", b"track name=caf\xe9\nfixedStep chrom=chr1 start=1 step=1\n0.5\n"
    )
    return Case(with_track(env, bad), Expected(bad, "conservation.0", NOT_UTF8, line=1))


@case
def track_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "pipe.wig")
    return Case(with_track(env, bad), Expected(bad, "conservation.0", "a named pipe (FIFO)"))


# ------------------------------------------------------------------ preprocess: flags


@case
def ratio_nan(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--ratio", "nan:1:1"),
        Expected(None, "ratio", "finite numbers only"),
    )


@case
def ratio_infinite(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--ratio", "7:inf:1"),
        Expected(None, "ratio", "finite numbers only"),
    )


@case
def reduce_nan(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--reduce", "pos=nan"),
        Expected(None, "reduce.pos", "finite number"),
    )


@case
def reduce_infinite(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--reduce", "neg=inf"),
        Expected(None, "reduce.neg", "finite number"),
    )


@case
def reduce_negative(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--reduce", "pos=-1"),
        Expected(None, "reduce.pos", "must be above 0"),
    )


@case
def background_negatives_of_fasta_classes(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--negatives", "background"),
        Expected(None, "negatives", "background negatives need genomic (BED) classes"),
    )


@case
def negatives_ratio_nan(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--negatives", "shuffle", "--negatives-ratio", "nan"),
        Expected(None, "negatives_ratio", "finite number"),
    )


@case
def fold_temperature_infinite(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--fold-temperature", "inf"),
        Expected(None, "fold_temperature", "finite number"),
    )


@case
def seed_beyond_32_bits(env, tmp):
    return Case(
        fasta_classes(env, env.pos, "--seed", "99999999999999999999"),
        Expected(None, "seed", "less than or equal to 4294967295"),
    )


# ------------------------------------------------------------------ YAML configuration files


def with_config(env: SimpleNamespace, config: Path, stage: str = "preprocess") -> list[Any]:
    """A stage run from a configuration file (preprocess: with the good FASTA classes)."""
    if stage == "preprocess":
        return [*fasta_classes(env, env.pos), "--config", config]
    return [stage, "--dataset", env.dataset, "--config", config]


def alias_bomb(levels: int = 9) -> tuple[str, int]:
    """A "billion laughs" YAML document, and the line of the alias that goes too far."""
    lines = ['lol: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * 9) + "]")
    # the aliases on lines 2-4 stand for 90 + 819 + 7380 values; line 5's first adds 7381
    return "\n".join(lines) + "\n", 5


@case
def yaml_alias_bomb(env, tmp):
    text, line = alias_bomb()
    config = write(tmp / "bomb.yaml", text)
    return Case(
        with_config(env, config),
        Expected(config, None, "the aliases stand for more than 10,000 values", line=line),
    )


@case
def yaml_key_given_twice(env, tmp):
    config = write(tmp / "twice.yaml", "seed: 1\nwindow: 40\nseed: 2\n")
    return Case(
        with_config(env, config),
        Expected(config, None, "the key 'seed' is given twice (first on line 1)", line=3),
    )


@case
def yaml_nested_key_given_twice(env, tmp):
    config = write(tmp / "nested.yaml", "reduce:\n  pos: 5\n  neg: 5\n  pos: 6\n")
    return Case(
        with_config(env, config),
        Expected(config, None, "the key 'pos' is given twice (first on line 2)", line=4),
    )


@case
def yaml_recursive_alias(env, tmp):
    config = write(tmp / "recursive.yaml", "branches: &b [seq, *b]\n")
    return Case(
        with_config(env, config), Expected(config, None, "refers to the value it is in", line=1)
    )


@case
def yaml_latin1(env, tmp):
    config = write(tmp / "latin.yaml", b"seed: 1\nname: caf\xe9\n")
    return Case(with_config(env, config), Expected(config, None, NOT_UTF8, line=2))


@case
def yaml_binary(env, tmp):
    config = write(tmp / "binary.yaml", b"\x00\x01\x02binary\n")
    return Case(with_config(env, config), Expected(config, None, BINARY, line=1))


@case
def yaml_is_a_folder(env, tmp):
    config = tmp / "config.yaml"
    config.mkdir()
    return Case(with_config(env, config), Expected(config, None, "this is a folder"))


@case
def yaml_nested_too_deeply(env, tmp):
    config = write(tmp / "deep.yaml", "branches: " + "[" * 3000 + "]" * 3000 + "\n")
    return Case(with_config(env, config), Expected(config, None, "nested too deeply"))


@case
def yaml_python_object_tag(env, tmp):
    config = write(tmp / "tag.yaml", "seed: !!python/object/apply:os.getcwd []\n")
    return Case(
        with_config(env, config),
        Expected(config, None, "could not determine a constructor", line=1),
    )


@case
def yaml_path_with_a_nul_character(env, tmp):
    config = write(tmp / "nul.yaml", 'genome: "gen\\0ome.fa"\n')
    return Case(with_config(env, config), Expected(config, "genome", "not a usable path"))


@case
def yaml_nan_learning_rate(env, tmp):
    config = write(tmp / "train.yaml", "epochs: 1\nlr: .nan\n")
    return Case(with_config(env, config, "train"), Expected(config, "lr", "finite number"))


@case
def yaml_infinite_window(env, tmp):
    config = write(tmp / "window.yaml", "window: .inf\n")
    args = [
        "preprocess",
        "--class",
        f"pos={env.pos}",
        "--class",
        f"neg={env.neg}",
        "--config",
        config,
    ]
    return Case(args, Expected(config, "window", "finite number"))


# ------------------------------------------------------------------ train: datasets and flags


def train_on(dataset: Path, *more: Any) -> list[Any]:
    """train on ``dataset`` (1 epoch, one network)."""
    return ["train", "--dataset", dataset, "--epochs", 1, "--ensemble", 1, "--device", "cpu", *more]


def dataset_case(
    env, tmp, damage: Callable[[Path], Path], says: str, field: str = "dataset", command=train_on
) -> Case:
    """A stage on a copy of the dataset damaged by ``damage``."""
    copy, broken = damaged_dataset(env, tmp, damage)
    return Case(command(copy), Expected(broken, field, says))


@case
def train_truncated_labels(env, tmp):
    return dataset_case(
        env, tmp, lambda d: cut_file(d / "labels.npy"), "the file is truncated or not a NumPy array"
    )


@case
def train_truncated_splits(env, tmp):
    return dataset_case(
        env,
        tmp,
        lambda d: cut_file(d / "splits.npy", 0.9),
        "the file is truncated or not a NumPy array",
    )


def remove(path: Path) -> Path:
    path.unlink()
    return path


@case
def train_missing_branch_array(env, tmp):
    return dataset_case(
        env, tmp, lambda d: remove(d / "branches" / "seq.npy"), "the file is missing"
    )


@case
def train_truncated_branch_array(env, tmp):
    return dataset_case(
        env, tmp, lambda d: cut_file(d / "branches" / "seq.npy"), "the file is truncated"
    )


def more_samples_promised(folder: Path) -> Path:
    path = folder / "metadata.json"
    metadata = json.loads(path.read_text())
    metadata["samples"] += 5
    path.write_text(json.dumps(metadata))
    return path


@case
def train_metadata_disagrees_with_the_arrays(env, tmp):
    return dataset_case(env, tmp, more_samples_promised, "where labels.npy and splits.npy hold 40")


def labels_out_of_range(folder: Path) -> Path:
    path = folder / "labels.npy"
    labels = np.load(path)
    labels[3] = 7
    np.save(path, labels)
    return path


@case
def train_label_code_out_of_range(env, tmp):
    return dataset_case(env, tmp, labels_out_of_range, "a class code is outside 0..1")


def branch_of_another_dtype(folder: Path) -> Path:
    path = folder / "branches" / "seq.npy"
    np.save(path, np.load(path).astype(np.float64))
    return path


@case
def train_branch_array_of_another_type(env, tmp):
    return dataset_case(env, tmp, branch_of_another_dtype, "promises 40 rows of uint8")


def branch_of_another_shape(folder: Path) -> Path:
    path = folder / "branches" / "seq.npy"
    np.save(path, np.load(path)[:, 1:])
    return path


@case
def train_branch_array_of_another_shape(env, tmp):
    return dataset_case(env, tmp, branch_of_another_shape, "the 'seq' branch stores (40, 40)")


def metadata_not_utf8(folder: Path) -> Path:
    path = folder / "metadata.json"
    path.write_bytes(path.read_bytes().replace(b'"gennie_version"', b'"gennie\xe9version"'))
    return path


@case
def train_metadata_not_utf8(env, tmp):
    copy, broken = damaged_dataset(env, tmp, metadata_not_utf8)
    return Case(train_on(copy), Expected(broken, "dataset", "not UTF-8 text", line=3))


@case
def predict_sequence_list_not_utf8_after_its_first_block(env, tmp):
    bad = write(tmp / "sequences.txt", (b"ACGT" * 10 + b"\n") * 400 + b"ACGT\xe9\n")
    return Case(predict(env, "--input", bad), Expected(bad, "input", NOT_UTF8, line=401))


@case
def train_learning_rate_nan(env, tmp):
    return Case(train_on(env.dataset, "--lr", "nan"), Expected(None, "lr", "finite number"))


@case
def train_mask_infinite(env, tmp):
    return Case(train_on(env.dataset, "--mask", "inf"), Expected(None, "mask", "finite number"))


@case
def train_weight_decay_nan(env, tmp):
    return Case(
        train_on(env.dataset, "--weight-decay", "nan"),
        Expected(None, "weight_decay", "finite number"),
    )


# ------------------------------------------------------------------ evaluate


def evaluate(env: SimpleNamespace, *more: Any) -> list[Any]:
    return ["evaluate", "--model", env.model, "--device", "cpu", *more]


@case
def evaluate_truncated_gzip_input(env, tmp):
    text = "".join(f">s{i} pos\n" + "ACGT" * 12 + "\n" for i in range(600))
    bad, line = gzip_cut(tmp / "labelled.fa.gz", text)
    return Case(evaluate(env, "--input", bad), Expected(bad, "input", TRUNCATED, line=line))


@case
def evaluate_latin1_input(env, tmp):
    bad = write(tmp / "labelled.fa", b">s1 pos\nACGTACGT\n>s2 neg caf\xe9\nACGTACGT\n")
    return Case(evaluate(env, "--input", bad), Expected(bad, "input", NOT_UTF8, line=3))


@case
def evaluate_header_without_a_class_names_its_record(env, tmp):
    bad = write(tmp / "unlabelled.fa", ">s1 pos\n" + "ACGT" * 10 + "\n>s2 x\n" + "ACGT" * 10 + "\n")
    return Case(
        evaluate(env, "--input", bad), Expected(bad, "input", "header 's2 x' names none", record=2)
    )


@case
def evaluate_damaged_blackbox(env, tmp):
    return dataset_case(
        env,
        tmp,
        lambda d: cut_file(d / "branches" / "seq.npy"),
        "the file is truncated",
        field="blackbox",
        command=lambda d: evaluate(env, "--blackbox", d),
    )


@case
def evaluate_class_file_is_a_folder(env, tmp):
    return Case(
        evaluate(env, "--class", f"pos={tmp}"), Expected(tmp, "classes.pos", "this is a folder")
    )


# ------------------------------------------------------------------ predict


def predict(env: SimpleNamespace, *more: Any) -> list[Any]:
    return ["predict", "--model", env.model, "--device", "cpu", *more]


@case
def predict_truncated_gzip_bed(env, tmp):
    text = "".join(f"chr1\t{i % 300}\t{i % 300 + 20}\n" for i in range(4000))
    bad, line = gzip_cut(tmp / "cut.bed.gz", text)
    return Case(
        predict(env, "--genome", env.genome, "--input", bad),
        Expected(bad, "input", TRUNCATED, line=line),
    )


@case
def predict_binary_input(env, tmp):
    bad = write(tmp / "input.fa", b">r1\nAC\x7fGT\n")
    return Case(predict(env, "--input", bad), Expected(bad, "input", "byte \\x7f", line=2))


@case
def predict_input_is_an_endless_device(env, tmp):
    bad = Path("/dev/zero")
    return Case(predict(env, "--input", bad), Expected(bad, "input", "this is a device"))


@case
def predict_coordinate_beyond_any_chromosome(env, tmp):
    bad = write(
        tmp / "huge.bed", "chr1\t10\t30\nchr1\t99999999999999999999999\t99999999999999999999999\n"
    )
    return Case(
        predict(env, "--genome", env.genome, "--input", bad),
        Expected(bad, "input", "larger than any chromosome", line=2),
    )


@case
def predict_latin1_genome(env, tmp):
    genome = write(tmp / "latin.fa", b">chr1 caf\xe9\n" + b"ACGT" * 100 + b"\n")
    bed = write(tmp / "sites.bed", "chr1\t100\t120\n")
    return Case(
        predict(env, "--genome", genome, "--input", bed),
        Expected(genome, "genome", NOT_UTF8, line=1),
    )


@case
def predict_invalid_letter_names_its_record(env, tmp):
    bad = write(tmp / "input.fa", ">r1\n" + "ACGT" * 10 + "\n>r2\n" + "ACGT" * 5 + "!\n")
    return Case(predict(env, "--input", bad), Expected(bad, "input", "letter '!'", record=2))


@case
def predict_sequence_with_a_control_character(env, tmp):
    return Case(
        predict(env, "--sequence", "ACGT\x01ACGT"), Expected(None, "sequences", "letter '\\x01'")
    )


# ------------------------------------------------------------------ interpret motifs and ism


def motifs(env: SimpleNamespace, dataset: Path, *more: Any) -> list[Any]:
    return [
        "interpret",
        "motifs",
        "--model",
        env.model,
        "--dataset",
        dataset,
        "--device",
        "cpu",
        *more,
    ]


@case
def motifs_damaged_dataset(env, tmp):
    return dataset_case(
        env,
        tmp,
        lambda d: remove(d / "splits.npy"),
        "the file is missing",
        command=lambda d: motifs(env, d),
    )


@case
def motifs_threshold_nan(env, tmp):
    return Case(
        motifs(env, env.dataset, "--threshold", "nan"), Expected(None, "threshold", "finite number")
    )


@case
def motifs_binary_database(env, tmp):
    bad = write(tmp / "motifs.meme", b"MEME version 4\n\xff\xfe\x00\x01")
    return Case(motifs(env, env.dataset, "--database", bad), Expected(bad, "database", "MEME"))


def ism(env: SimpleNamespace, *more: Any) -> list[Any]:
    return ["interpret", "ism", "--model", env.model, "--device", "cpu", *more]


@case
def ism_sequence_with_an_invisible_character(env, tmp):
    return Case(ism(env, "--sequence", "ACGT\u200bACGT"), Expected(None, "sequence", "\\u200b"))


@case
def ism_config_key_given_twice(env, tmp):
    config = write(tmp / "ism.yaml", "sequence: ACGTACGT\nsteps: 5\nsequence: TTTT\n")
    return Case(
        ism(env, "--config", config),
        Expected(config, None, "the key 'sequence' is given twice", line=3),
    )


# ------------------------------------------------------------------ tune


def tune(dataset: Path, *more: Any) -> list[Any]:
    return ["tune", "--dataset", dataset, "--n-trials", 1, "--device", "cpu", *more]


@case
def tune_damaged_dataset(env, tmp):
    return dataset_case(
        env, tmp, lambda d: cut_file(d / "labels.npy", 0.8), "the file is truncated", command=tune
    )


@case
def tune_timeout_nan(env, tmp):
    return Case(tune(env.dataset, "--timeout", "nan"), Expected(None, "timeout", "finite number"))


@case
def tune_space_bound_nan(env, tmp):
    config = write(tmp / "tune.yaml", "space:\n  lr: {low: .nan, high: 0.1}\n")
    return Case(
        tune(env.dataset, "--config", config),
        Expected(config, "space.lr", "low: Input should be a finite number"),
    )


@case
def tune_space_alias_bomb(env, tmp):
    text, line = alias_bomb()
    config = write(tmp / "tune.yaml", text)
    return Case(
        tune(env.dataset, "--config", config),
        Expected(config, None, "aliases stand for more than", line=line),
    )


CLI_KNOWN_BUGS: dict[str, str] = {}


def known_bugs(names: list[str], bugs: dict[str, str]) -> list[Any]:
    """Parameters for ``names``, those in ``bugs`` marked as strict expected failures
    (they pass, and the mark must go, once the owner of that code fixes it)."""
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=bugs[n], strict=True)) if n in bugs else n
        for n in names
    ]


@pytest.mark.parametrize("name", known_bugs(list(CASES), CLI_KNOWN_BUGS))
def test_the_cli_reports_one_user_error(name, env, tmp_path, monkeypatch):
    built = CASES[name](env, tmp_path)
    for target, name_, value in built.patch:
        monkeypatch.setattr(target, name_, value, raising=False)
    error = invoke(built.args, tmp_path / "out")
    check_error(error, built.expected)


# --------------------------------------------------------------------------- console script


def console(args: list[Any], cwd: Path, timeout: int = 120) -> dict[str, Any]:
    """Run the installed ``gennie`` script with ``--out``/``--json``; check exit code 2,
    no traceback on stderr, one JSON object on stdout, no run folder; return it."""
    out = cwd / "out"
    done = subprocess.run(
        [str(GENNIE), *(str(a) for a in args), "--out", str(out), "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, NO_COLOR="1", MPLBACKEND="Agg"),
    )
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert run_folders(out) == set(), "a run folder was left behind"
    (answer,) = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.stderr.count("error: ") == 1, done.stderr[-3000:]  # one message
    return json.loads(answer)


SCRIPT_CASES = [
    "bed-truncated-gzip",  # was reported as "cancelled" with exit code 130
    "fasta-truncated-gzip",  # was a traceback from the FASTA reader
    "bed-coordinate-beyond-any-chromosome",  # was an overflow traceback
    "class-file-is-a-named-pipe",  # would block
    "genome-latin1-header",  # was a decoding traceback from the genome reader
    "yaml-alias-bomb",  # would expand without end
]


@pytest.mark.parametrize("name", SCRIPT_CASES)
def test_the_console_script_reports_one_user_error(name, env, tmp_path):
    built = CASES[name](env, tmp_path)
    check_error(console(built.args, tmp_path, timeout=120), built.expected)


# --------------------------------------------------------------------------- GUI page check


@dataclass
class PageCase:
    """Values of a GUI page and the field whose inline error must say ``says``."""

    stage: str
    values: dict[str, Any]
    field: str
    says: str


GUI_CASES: dict[str, Callable[[SimpleNamespace, Path], PageCase]] = {}


def page(function: Callable[[SimpleNamespace, Path], PageCase]):
    """Register a GUI page case under its function's name."""
    GUI_CASES[function.__name__.replace("_", "-")] = function
    return function


def fasta_page(env: SimpleNamespace, bad: Path, **more: Any) -> dict[str, Any]:
    return {"classes": {"pos": str(bad), "neg": str(env.neg)}, "window": WINDOW, **more}


def bed_page(env: SimpleNamespace, **more: Any) -> dict[str, Any]:
    values = {"classes": {"a": str(env.a), "b": str(env.b)}, "genome": str(env.genome)}
    return {**values, "window": WINDOW, **more}


@page
def gui_class_file_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "pipe.fa")
    return PageCase("preprocess", fasta_page(env, bad), "classes", "a named pipe (FIFO)")


@page
def gui_class_file_is_an_endless_device(env, tmp):
    return PageCase("preprocess", fasta_page(env, Path("/dev/zero")), "classes", "a device")


@page
def gui_class_file_latin1(env, tmp):
    bad = write(tmp / "latin.fa", b">ok\nACGT\n>caf\xe9\nACGT\n")
    return PageCase("preprocess", fasta_page(env, bad), "classes", f"{NOT_UTF8} in '>caf\\xe9'")


@page
def gui_class_file_truncated_gzip(env, tmp):
    bad, _ = gzip_cut(tmp / "cut.fa.gz", random_records("r", 400, 60, seed=5))
    return PageCase("preprocess", fasta_page(env, bad), "classes", TRUNCATED)


@page
def gui_class_file_binary(env, tmp):
    bad = write(tmp / "binary.fa", b"\x00\x01garbage\xff")
    return PageCase("preprocess", fasta_page(env, bad), "classes", BINARY)


@page
def gui_genome_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "genome.fa")
    return PageCase("preprocess", bed_page(env, genome=str(bad)), "genome", "a named pipe (FIFO)")


@page
def gui_ratio_nan(env, tmp):
    values = fasta_page(env, env.pos, split="random", ratio="nan:1:1")
    return PageCase("preprocess", values, "ratio", "finite numbers only")


@page
def gui_reduce_infinite(env, tmp):
    values = fasta_page(env, env.pos, reduce={"pos": float("inf")})
    return PageCase("preprocess", values, "reduce", "finite number")


@page
def gui_track_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "track.wig")
    values = bed_page(env, branches=["seq", "cons"], conservation=[str(bad)])
    return PageCase("preprocess", values, "conservation", "a named pipe (FIFO)")


@page
def gui_train_on_a_damaged_dataset(env, tmp):
    copy, _ = damaged_dataset(env, tmp, lambda d: cut_file(d / "labels.npy"))
    return PageCase("train", {"dataset": str(copy)}, "dataset", "the dataset is damaged")


@page
def gui_learning_rate_nan(env, tmp):
    return PageCase("train", {"dataset": str(env.dataset), "lr": float("nan")}, "lr", "finite")


@page
def gui_predict_input_is_a_named_pipe(env, tmp):
    bad = fifo(tmp / "input.fa")
    values = {"model": str(env.model), "input": str(bad), "device": "cpu"}
    return PageCase("predict", values, "input", "a named pipe (FIFO)")


@page
def gui_evaluate_on_a_damaged_blackbox(env, tmp):
    copy, _ = damaged_dataset(env, tmp, lambda d: remove(d / "branches" / "seq.npy"))
    values = {"model": str(env.model), "blackbox": str(copy), "device": "cpu"}
    return PageCase("evaluate", values, "blackbox", "the dataset is damaged")


@page
def gui_tune_on_a_damaged_dataset(env, tmp):
    copy, _ = damaged_dataset(env, tmp, more_samples_promised)
    return PageCase("tune", {"dataset": str(copy)}, "dataset", "the dataset is damaged")


GUI_KNOWN_BUGS: dict[str, str] = {}


@pytest.mark.parametrize("name", known_bugs(list(GUI_CASES), GUI_KNOWN_BUGS))
def test_the_gui_page_check_shows_the_error_on_its_field(name, env, tmp_path):
    built = GUI_CASES[name](env, tmp_path)
    check = validate_page(built.stage, {**built.values, "out": str(tmp_path / "out")}, tmp_path)
    assert check.config is None and not check.ok
    assert built.says in check.errors.get(built.field, ""), (check.errors, check.general)
    assert "Traceback" not in json.dumps(check.errors) + json.dumps(check.general)
    assert run_folders(tmp_path / "out") == set()


# --------------------------------------------------------------------------- not errors


def test_an_interval_past_the_chromosome_end_is_dropped_counted_and_named(env, tmp_path):
    past = "chr1\t500\t520\tpast\t0\t+\n"
    classes = write(tmp_path / "a.bed", env.a.read_text() + past)
    result = RUNNER.invoke(
        app,
        [*(str(a) for a in bed_classes(env, classes)), "--out", str(tmp_path / "out"), "--json"],
    )
    assert result.exit_code == 0, result.output[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    counts = summary["counts"]["a"]
    assert (counts["records"], counts["dropped_past_chromosome_end"]) == (16, 1)
    assert counts["dropped_short_chromosome"] == 0
    assert (
        "a.bed: 1 intervals dropped: they lie past the end of their chromosome "
        "(e.g. line 16: chr1:500-520, the chromosome has 400 bases)"
    ) in result.stderr


def test_predict_lists_an_interval_past_the_chromosome_end_as_dropped(env, tmp_path):
    bed = write(tmp_path / "sites.bed", "chr1\t100\t120\tin\t0\t+\nchr1\t900\t920\tpast\t0\t+\n")
    args = predict(env, "--genome", env.genome, "--input", bed)
    result = RUNNER.invoke(app, [*(str(a) for a in args), "--out", str(tmp_path / "out"), "--json"])
    assert result.exit_code == 0, result.output[-3000:]
    run_dir = Path(json.loads(result.stdout.strip().splitlines()[-1])["run_dir"])
    table = pd.read_csv(run_dir / "predictions.tsv", sep="\t", keep_default_na=False)
    assert table["name"].tolist() == ["in", "past"]
    assert table.loc[0, "note"] == "" and table.loc[1, "note"].startswith("no window")
    assert table.loc[1, "p_pos"] == "" and table.loc[0, "p_pos"] != ""


def test_predict_notes_why_an_interval_got_no_window(env, tmp_path):
    bed = write(tmp_path / "sites.bed", "chr1\t100\t120\tin\t0\t+\nchr1\t900\t920\tpast\t0\t+\n")
    args = predict(env, "--genome", env.genome, "--input", bed)
    result = RUNNER.invoke(app, [*(str(a) for a in args), "--out", str(tmp_path / "out"), "--json"])
    run_dir = Path(json.loads(result.stdout.strip().splitlines()[-1])["run_dir"])
    table = pd.read_csv(run_dir / "predictions.tsv", sep="\t", keep_default_na=False)
    note = f"no window: {DROP_REASONS['dropped_past_chromosome_end']}"
    assert table.loc[1, "note"] == note


# --------------------------------------------------------------------------- the error itself


def test_an_error_names_a_record_apart_from_a_line():
    error = UserError("header 'x' names no class", file="x.fa", record=3, field="input")
    assert str(error) == "x.fa, record 3; field 'input': header 'x' names no class"
    assert error.to_dict()["record"] == 3 and error.to_dict()["line"] is None
    assert UserError("bad", file="x.fa", line=7, record=3).location == "x.fa, line 7, record 3"


def test_unprintable_characters_are_shown_escaped():
    error = UserError("chromosome 'chr\x001\u200b' is unknown", file="a\tb.bed", hint="a\x1bb")
    assert error.message == "chromosome 'chr\\x001\\u200b' is unknown"
    assert error.hint == "a\\x1bb"
    assert str(error) == "a\\tb.bed: chromosome 'chr\\x001\\u200b' is unknown\n  hint: a\\x1bb"
    assert printable("two\nlines, caf\u00e9") == "two\nlines, caf\u00e9"
