"""Datasets and bundles written before the typed specs still load and predict the same.

``tests/data/legacy`` holds a dataset (seq, fold and cons branches, BED input) and a
model trained on it, both written by gennie at commit d024bb2, with the probabilities
that version predicted (see its README). Paths recorded in them are relative to that
folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gennie.dataset.spec import ClassCounts, FileReference
from gennie.dataset.store import Dataset
from gennie.encode.conservation import ConservationEncoder
from gennie.encode.sequence import SequenceEncoder
from gennie.encode.structure import FoldEncoder
from gennie.model.bundle import BranchInput, load_bundle
from gennie.model.inference import predict_probabilities

LEGACY_DATA = Path(__file__).parent / "data" / "legacy"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """gennie's cache folder (checksums, indexes of recorded genomes) for the test."""
    monkeypatch.setenv("GENNIE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def legacy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the legacy folder (reading the genome writes its index next to it)."""
    folder = tmp_path_factory.mktemp("legacy") / "legacy"
    shutil.copytree(LEGACY_DATA, folder)
    return folder


def test_legacy_dataset_loads(legacy):
    dataset = Dataset(legacy / "dataset")
    assert (dataset.classes, dataset.window, dataset.branches, len(dataset)) == (
        ["bound", "unbound"],
        24,
        ["seq", "fold", "cons"],
        40,
    )
    metadata = dataset.metadata
    assert (metadata.format_version, metadata.gennie_version, metadata.samples) == (1, "0.1.0", 40)
    assert metadata.splits == {"train": 28, "validation": 4, "test": 4, "blackbox": 4}
    assert metadata.counts["bound"] == ClassCounts(
        records=20,
        after_reduction=20,
        splits={"train": 14, "validation": 2, "test": 2, "blackbox": 2},
        cons={"missing_values": 0, "windows_with_missing": 0, "values": 480},
    )
    assert metadata.cache.model_dump() == {
        "hits": 0,
        "misses": 2,
        "genome_read": True,
        "folded": 40,
        "fold_cache_hits": 0,
    }


def test_legacy_dataset_spec(legacy):
    spec = Dataset(legacy / "dataset").spec
    assert spec.dataset == str(legacy / "dataset")
    assert (spec.window, spec.alphabet, spec.strand, spec.placement, spec.seed) == (
        24,
        "dna",
        True,
        "center",
        42,
    )
    assert spec.branches["seq"].params == {"unknown_bases": "zero"}
    assert spec.branches["fold"].params == {
        "temperature": 37.0,
        "viennarna": "2.8.0",
        "encoding": "mfe",
    }
    assert spec.branches["cons"].params == {
        "tracks": ["track.wig"],
        "strand": True,
        "track_md5": ["37d1fb343e7036c2fb6ef99f1450ca63"],
    }
    assert spec.genome_file == Path("genome.fa")
    assert spec.references.classes["bound"].md5 == "445050eb3ef597042afdbbd6f1d01688"
    assert spec.references.model_extra == {
        "conservation": [FileReference(file="track.wig", md5="37d1fb343e7036c2fb6ef99f1450ca63")]
    }


def test_legacy_dataset_encoders_and_inputs(legacy):
    dataset = Dataset(legacy / "dataset")
    assert isinstance(dataset.encoder("seq"), SequenceEncoder)
    assert isinstance(dataset.encoder("fold"), FoldEncoder)
    cons = dataset.encoder("cons")
    assert isinstance(cons, ConservationEncoder) and cons.track_md5 == [
        "37d1fb343e7036c2fb6ef99f1450ca63"
    ]
    seq, fold, values = dataset.inputs(np.array([3, 0]), ["seq", "fold", "cons"])
    assert (seq.shape, fold.shape, values.shape) == ((2, 4, 24), (2, 3, 24), (2, 1, 24))
    assert seq.sum(axis=1).tolist() == np.ones((2, 24)).tolist()
    assert np.array_equal(values[1, 0], dataset.array("cons")[0, 0])


def test_legacy_bundle_loads(legacy):
    network, spec = load_bundle(legacy / "model")
    assert (spec.classes, spec.branches, spec.window) == (
        ["bound", "unbound"],
        ["seq", "fold", "cons"],
        24,
    )
    assert spec.inputs["fold"] == BranchInput(channels=3, length=24)
    assert spec.input_shapes() == {"seq": (4, 24), "fold": (3, 24), "cons": (1, 24)}
    assert (spec.ensemble, spec.centre_networks, spec.centre_window) == (1, 0, 0)
    assert spec.training["best_epoch"] == 1
    assert spec.preprocessing.dataset == "dataset"
    assert spec.preprocessing == Dataset(legacy / "dataset").spec.model_copy(
        update={"dataset": "dataset"}
    )
    assert not network.training


def test_legacy_bundle_predicts_the_legacy_dataset_as_before(legacy):
    """The blackbox split through the current Dataset and bundle code gives the
    probabilities gennie d024bb2 gave in its evaluation."""
    network, spec = load_bundle(legacy / "model")
    dataset = Dataset(legacy / "dataset")
    expected = pd.read_csv(legacy / "blackbox_predictions.tsv", sep="\t")
    indices = expected["index"].to_numpy()
    batches = [dataset.inputs(indices, spec.branches)]
    probabilities = predict_probabilities(network, batches, torch.device("cpu"))
    wanted = expected[["p_bound", "p_unbound"]].to_numpy()
    assert np.abs(probabilities - wanted).max() < 2e-6


def _predict(legacy: Path, out: Path, **options: object) -> pd.DataFrame:
    from gennie.config import PredictConfig
    from gennie.prediction.stage import predict

    config = PredictConfig(model=legacy / "model", device="cpu", out=out, **options)
    result = predict(config)
    return pd.read_csv(result.run_dir / "predictions.tsv", sep="\t")


def test_legacy_bundle_predicts_new_input_as_before(legacy, tmp_path):
    got = _predict(
        legacy,
        tmp_path,
        input=legacy / "query.bed",
        genome=legacy / "genome.fa",
        conservation=[legacy / "track.wig"],
    )
    expected = pd.read_csv(legacy / "predictions.tsv", sep="\t")
    assert got[["name", "window_start", "highest"]].equals(
        expected[["name", "window_start", "highest"]]
    )
    difference = got[["p_bound", "p_unbound"]].to_numpy() - expected[["p_bound", "p_unbound"]]
    assert np.abs(difference.to_numpy()).max() < 2e-6


def test_legacy_bundle_finds_its_training_genome_and_track(legacy, tmp_path, monkeypatch):
    """Without --genome and --conservation, the files recorded at training are read
    (relative to the working folder, as they were recorded), their checksums being the
    recorded ones; the genome is indexed in gennie's cache folder, not beside it."""
    monkeypatch.chdir(legacy)
    (legacy / "genome.fa.fai").unlink(missing_ok=True)  # written by the tests above
    got = _predict(legacy, tmp_path, input=legacy / "query.bed")
    assert not (legacy / "genome.fa.fai").exists()
    expected = pd.read_csv(legacy / "predictions.tsv", sep="\t")
    difference = got[["p_bound", "p_unbound"]].to_numpy() - expected[["p_bound", "p_unbound"]]
    assert np.abs(difference.to_numpy()).max() < 2e-6


@pytest.mark.parametrize("missing", ["genome.fa", "track.wig"])
def test_legacy_bundle_without_its_files_is_a_user_error(legacy, tmp_path, monkeypatch, missing):
    from gennie.errors import UserError

    monkeypatch.chdir(tmp_path)
    shutil.copy(legacy / "genome.fa", tmp_path)
    shutil.copy(legacy / "track.wig", tmp_path)
    (tmp_path / missing).unlink()
    with pytest.raises(UserError) as caught:
        _predict(legacy, tmp_path / "runs", input=legacy / "query.bed")
    assert caught.value.field == ("genome" if missing == "genome.fa" else "conservation")
