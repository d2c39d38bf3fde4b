"""Configuration models: defaults, validation, YAML round trip, path resolution."""

from pathlib import Path

import pytest

from gennie.config import (
    PreprocessConfig,
    TrainConfig,
    build_config,
    dump_config,
    load_run_config,
    read_yaml,
)
from gennie.errors import UserError


def test_ratio_parsed_and_padded():
    config = PreprocessConfig(ratio="8:1:1")
    assert config.ratios == (8.0, 1.0, 1.0, 0.0)
    assert PreprocessConfig(ratio=[7, 1, 1, 1]).ratio == "7:1:1:1"


@pytest.mark.parametrize("ratio", ["7:1", "a:b:c", "0:1:1", "7:1:-1:1", "7:1:1:1:1"])
def test_bad_ratio_rejected(ratio):
    with pytest.raises(UserError) as err:
        build_config("preprocess", None, {"ratio": ratio})
    assert err.value.field == "ratio"


def test_unquoted_ratio_in_yaml_stays_text(tmp_path):
    # YAML 1.1 would read 7:1:1:1 as the base-60 number 1525021.
    path = tmp_path / "p.yaml"
    path.write_text("ratio: 7:1:1:1\nwindow: 120\n")
    assert read_yaml(path) == {"ratio": "7:1:1:1", "window": 120}
    assert build_config("preprocess", path).ratios == (7.0, 1.0, 1.0, 1.0)


def test_unknown_key_suggests_close_match(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("windw: 100\n")
    with pytest.raises(UserError) as err:
        build_config("preprocess", path)
    assert err.value.field == "windw"
    assert "did you mean 'window'" in err.value.hint
    assert err.value.file == str(path)


def test_wrong_type_names_field(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("window: abc\n")
    with pytest.raises(UserError) as err:
        build_config("preprocess", path)
    assert err.value.field == "window"
    assert "abc" in str(err.value)


def test_invalid_yaml_reports_line(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("window: 100\nclasses:\n  a: x.bed\n b: [unclosed\n")
    with pytest.raises(UserError) as err:
        read_yaml(path)
    assert err.value.line == 4


def test_overlapping_chromosomes_rejected():
    with pytest.raises(UserError) as err:
        build_config(
            "preprocess",
            None,
            {
                "split": "chromosome",
                "chromosomes": {
                    "train": ["chr1", "chr2"],
                    "validation": ["chr2"],
                    "test": ["chr3"],
                },
            },
        )
    assert "chr2" in str(err.value) and err.value.field == "chromosomes"


def test_chromosome_split_needs_lists():
    with pytest.raises(UserError, match="validation"):
        build_config(
            "preprocess",
            None,
            {"split": "chromosome", "chromosomes": {"train": ["chr1"], "test": ["chr3"]}},
        )


def test_reduction_values():
    assert PreprocessConfig(reduce={"a": 5000, "b": 0.5}).reduce == {"a": 5000, "b": 0.5}
    with pytest.raises(ValueError):
        PreprocessConfig(reduce={"a": 2.5})
    with pytest.raises(ValueError):
        PreprocessConfig(reduce={"a": 0})


def test_yaml_paths_relative_to_file_and_flags_to_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "p.yaml").write_text("classes:\n  a: data/a.bed\n  b: data/b.bed\nwindow: 120\n")
    monkeypatch.chdir(tmp_path)
    config = build_config("preprocess", folder / "p.yaml", {"window": 100, "genome": "g.fa"})
    assert config.classes["a"] == folder / "data" / "a.bed"
    assert config.genome == tmp_path / "g.fa"
    assert config.window == 100  # the flag wins
    assert config.out == tmp_path / "gennie-runs"


def test_round_trip_through_parameters_yaml(tmp_path):
    config = build_config(
        "train", None, {"dataset": str(tmp_path), "lr": 0.01, "epochs": 3, "out": str(tmp_path)}
    )
    dump_config(config, tmp_path / "parameters.yaml")
    again = load_run_config(tmp_path / "parameters.yaml")
    assert isinstance(again, TrainConfig)
    assert again == config


def test_stage_mismatch(tmp_path):
    config = build_config("train", None, {"dataset": str(tmp_path)})
    dump_config(config, tmp_path / "parameters.yaml")
    with pytest.raises(UserError, match="'train' stage"):
        build_config("preprocess", tmp_path / "parameters.yaml")


def test_preset_flag_replaces_file_architecture(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("architecture:\n  common:\n    - {type: dense, units: 8}\n")
    assert build_config("train", path).architecture.common[0].units == 8
    assert build_config("train", path, {"preset": "1layer"}).architecture is None


def test_architecture_layers_validated():
    with pytest.raises(UserError) as err:
        build_config("train", None, {"architecture": {"common": [{"type": "dense", "units": 0}]}})
    assert err.value.field.startswith("architecture.common")


def test_defaults_defined_once():
    assert TrainConfig().patience == 10 and TrainConfig().min_delta == 0.01  # ENNGene's
    assert PreprocessConfig().window is None  # chosen from the inputs (see preprocess)
    assert Path(TrainConfig().out) == Path("gennie-runs")


def test_class_names_default_to_file_names():
    from gennie.config import class_name_from_file

    assert class_name_from_file("/data/peaks.bed.gz") == "peaks"
    assert class_name_from_file("PUM2.train.positives.fa.gz") == "PUM2.train.positives"
    assert class_name_from_file("my sites.fasta") == "my_sites"
    config = PreprocessConfig(classes=["a/bound.bed", "b/unbound.fa"])
    assert list(config.classes) == ["bound", "unbound"]
    with pytest.raises(ValueError, match="'x'"):
        PreprocessConfig(classes=["a/x.bed", "b/x.fa"])
