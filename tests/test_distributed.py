"""Training on several processes (Lightning's DDP): the sharded batches, the gathered
validation metrics, the options, and a 2-process run on the CPU through the CLI."""

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from cli_run import GENNIE, run_gennie
from planted import planted_motif_dataset

from gennie.config import TrainConfig
from gennie.config.loading import load_run_config
from gennie.errors import UserError
from gennie.training.data import BatchedSamples, IndexedSamples, ShardedBatches, batch_loader
from gennie.training.module import _first_occurrences


def _positions(sampler: ShardedBatches) -> list[int]:
    return [p for batch in sampler for p in batch]


def _ranks(n: int, batch_size: int, world: int, **kwargs) -> list[ShardedBatches]:
    return [ShardedBatches(n, batch_size, rank=r, world=world, **kwargs) for r in range(world)]


# --------------------------------------------------------------------------- sampler


def test_each_sample_is_read_once_per_epoch_across_two_processes() -> None:
    for epoch in range(3):
        ranks = _ranks(71, 16, 2, shuffle=True, seed=5)
        for sampler in ranks:
            sampler.set_epoch(epoch)
        taken = _positions(ranks[0]) + _positions(ranks[1])
        assert sorted(taken) == list(range(71))
        # 36 and 35 samples: the same number of batches (steps) in both processes
        assert [len(b) for b in ranks[0]] == [16, 16, 4]
        assert [len(b) for b in ranks[1]] == [16, 16, 3]


def test_a_process_with_one_sample_more_keeps_the_same_number_of_steps() -> None:
    ranks = _ranks(65, 32, 2, shuffle=True, seed=0)
    assert [len(b) for b in ranks[0]] == [33]  # not 32 + a batch of 1
    assert [len(b) for b in ranks[1]] == [32]
    assert sorted(_positions(ranks[0]) + _positions(ranks[1])) == list(range(65))


def test_the_order_depends_on_seed_and_epoch_only() -> None:
    def order(seed: int, epoch: int) -> list[int]:
        sampler = ShardedBatches(50, 8, shuffle=True, seed=seed, rank=1, world=2)
        sampler.set_epoch(epoch)
        return _positions(sampler)

    assert order(3, 0) == order(3, 0)
    assert order(3, 0) != order(3, 1)
    assert order(3, 0) != order(4, 0)
    # one process: the whole permutation of the epoch
    one = ShardedBatches(50, 8, shuffle=True, seed=3)
    one.set_epoch(1)
    assert sorted(_positions(one)) == list(range(50))
    assert (
        _positions(one) == torch.randperm(50, generator=torch.Generator().manual_seed(4)).tolist()
    )


def test_groups_of_batches_are_the_same_batches() -> None:
    single = _positions(ShardedBatches(70, 16, shuffle=True, seed=1, rank=0, world=2))
    groups = list(ShardedBatches(70, 16, shuffle=True, seed=1, group=2, rank=0, world=2))
    assert [len(g) for g in groups] == [2, 1]  # 35 samples: 16, 16 | 3
    assert [p for group in groups for batch in group for p in batch] == single


def test_validation_shards_are_padded_to_the_same_size() -> None:
    ranks = _ranks(5, 2, 2, shuffle=False, pad=True)
    assert [list(map(list, r.batches())) for r in ranks] == [[[0, 2], [4]], [[1, 3], [0]]]


def test_fewer_samples_than_processes_still_gives_every_process_a_batch() -> None:
    ranks = _ranks(1, 4, 2, shuffle=True, seed=0)
    assert [_positions(r) for r in ranks] == [[0], [0]]


def test_validation_batches_carry_their_positions() -> None:
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1)
    samples = IndexedSamples(lambda i: [x[i]], np.arange(10), np.arange(10) % 2)
    loader = batch_loader(samples, 3, shuffle=False, rank=1, world=2)
    batches = list(loader)
    assert [b[2].tolist() for b in batches] == [[1, 3, 5], [7, 9]]
    assert batches[0][0][0].flatten().tolist() == [1.0, 3.0, 5.0]
    assert batches[0][1].tolist() == [1, 1, 1]


def test_gathered_outputs_keep_the_first_of_each_position() -> None:
    positions = torch.tensor([0, 2, 4, 1, 3, 0])  # two ranks' padded shards of 5
    assert _first_occurrences(positions).tolist() == [0, 3, 1, 4, 2]


def test_grouped_loader_reads_each_processes_shard() -> None:
    x = np.arange(20, dtype=np.float32).reshape(20, 1, 1)
    samples = BatchedSamples(lambda i: [x[i]], np.arange(20), np.zeros(20, dtype=np.int64))
    seen = []
    for rank in range(2):
        loader = batch_loader(samples, 4, shuffle=True, seed=2, group=2, rank=rank, world=2)
        loader.sampler.set_epoch(3)
        for group in loader:
            seen += [v for xs, _ in group for v in xs[0].flatten().tolist()]
    assert sorted(seen) == [float(v) for v in range(20)]


# --------------------------------------------------------------------------- options


def test_old_parameters_with_device_still_load(tmp_path: Path) -> None:
    saved = tmp_path / "parameters.yaml"
    saved.write_text(yaml.safe_dump({"stage": "train", "dataset": "data", "device": "cuda"}))
    config = load_run_config(saved)
    assert (config.accelerator, config.device, config.devices) == ("gpu", None, "1")
    assert TrainConfig(device="cpu").accelerator == "cpu"
    assert TrainConfig(device="cpu", accelerator="gpu").accelerator == "gpu"


@pytest.mark.parametrize(
    ("given", "text", "lightning"),
    [
        (2, "2", 2),
        ("3", "3", 3),
        ([0, 1], "0,1", [0, 1]),
        ("1, 3", "1,3", [1, 3]),
        ("auto", "auto", "auto"),
    ],
)
def test_devices_are_a_count_gpu_numbers_or_auto(given, text, lightning) -> None:
    config = TrainConfig(devices=given)
    assert (config.devices, config.device_list()) == (text, lightning)


@pytest.mark.parametrize("given", [0, "two", "0,0", "", "-1"])
def test_other_devices_are_refused(given) -> None:
    with pytest.raises(ValueError, match="devices"):
        TrainConfig(devices=given)


def test_search_trials_train_on_the_searchs_devices(tmp_path: Path) -> None:
    import optuna

    from gennie.config import TuneConfig
    from gennie.search.space import trial_config

    config = TuneConfig(dataset=tmp_path, devices=[0, 1])
    assert config.devices == "0,1"
    trial = optuna.create_study().ask()
    trained = trial_config(trial, config.space, ["seq"], dataset=tmp_path, devices=config.devices)
    assert trained.device_list() == [0, 1]
    assert "devices" not in trial.params  # fixed, not searched


def test_gpu_numbers_on_the_cpu_are_a_user_error() -> None:
    from gennie.training.stage import _device_problems

    problems = _device_problems(TrainConfig(accelerator="cpu", devices="0,1"))
    assert [p.field for p in problems] == ["devices"]
    assert isinstance(problems[0], UserError)


def test_a_process_other_than_the_first_gets_nothing_that_writes(tmp_path: Path) -> None:
    from gennie.training.callbacks import EpochTable
    from gennie.training.stage import build_trainer

    config = TrainConfig(dataset=tmp_path, accelerator="cpu")
    helper, _, shared = build_trainer(config, None, steps=4)
    assert helper.loggers == []
    assert not any(isinstance(c, EpochTable) for c in helper.callbacks)
    assert shared.run_dir is None
    first, _, _ = build_trainer(config, tmp_path, steps=4)
    assert [type(c) for c in first.callbacks].count(EpochTable) == 1
    assert len(first.loggers) == 1


# --------------------------------------------------------------------------- end to end


def _epochs(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "metrics.tsv") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_two_processes_on_the_cpu_through_the_cli(tmp_path: Path, one_thread) -> None:
    """``gennie train --devices 2 --strategy ddp``: one run folder, one bundle, written
    by the first process; validation metrics over the whole split, equal to those of
    the saved model's predictions; the same files as a run of one process."""
    from gennie.dataset.store import Dataset
    from gennie.search.tuning import validation_metrics
    from gennie.training.stage import train

    dataset = planted_motif_dataset(tmp_path, 45, seed=1)  # 27 + 27 training samples
    common = ["--preset", "1layer", "--ensemble", "1", "--epochs", "2", "--batch-size", "8"]
    out = tmp_path / "runs"
    done = run_gennie(
        "train", "--dataset", dataset, *common, "--devices", "2", "--strategy", "ddp",
        "--accelerator", "cpu", "--threads", "1", "--out", out, "--json", timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1  # the second process prints nothing
    payload = json.loads(lines[0])
    run_dir = Path(payload["run_dir"])
    assert payload["processes"] == 2
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(
        [run_dir.name, "train_parameters.tsv"]
    )
    assert (run_dir / "model" / "weights.safetensors").is_file()
    log = (run_dir / "gennie.log").read_text()
    assert "DDP: 2 processes, world size 2 (gloo)" in log
    assert log.count("training on 54 samples") == 1

    rows = _epochs(run_dir)
    assert len(rows) == 2
    best = rows[payload["best_epoch"] - 1]
    # The saved (best) weights, run on one process over the whole validation split.
    again = validation_metrics(run_dir, Dataset(dataset))
    assert float(best["val_auroc"]) == pytest.approx(again["auroc"], abs=2e-6)
    assert float(best["val_loss"]) == pytest.approx(again["loss"], abs=2e-6)
    assert float(best["val_accuracy"]) == pytest.approx(again["accuracy"], abs=2e-6)

    one = train(
        TrainConfig(
            dataset=dataset, preset="1layer", ensemble=1, epochs=2, batch_size=8, threads=1,
            out=tmp_path / "one", name="one",
        )
    )  # fmt: skip
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(
        p.name for p in one.run_dir.iterdir()
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_gpu_run_in_bfloat16_gives_a_bundle_that_predicts_on_the_cpu(
    tmp_path: Path, one_thread
) -> None:
    from gennie.dataset.store import Dataset
    from gennie.search.tuning import validation_metrics
    from gennie.training.stage import train

    dataset = planted_motif_dataset(tmp_path, 45, seed=1)
    result = train(
        TrainConfig(
            dataset=dataset, preset="1layer", ensemble=1, epochs=2, batch_size=8,
            accelerator="gpu", precision="bf16", out=tmp_path / "runs", name="gpu",
        )
    )  # fmt: skip
    assert "device cuda" in (result.run_dir / "gennie.log").read_text()
    on_gpu = validation_metrics(result.run_dir, Dataset(dataset), "cuda")
    on_cpu = validation_metrics(result.run_dir, Dataset(dataset), "cpu")
    assert on_cpu["auroc"] == pytest.approx(on_gpu["auroc"], abs=1e-3)


def test_a_failing_process_ends_the_run_with_a_message_and_no_bundle(
    tmp_path: Path, one_thread
) -> None:
    """Two processes started from outside (as torchrun does): the second joins and then
    dies; the first stops with a clear message, exit code 2, and leaves no run folder."""
    dataset = planted_motif_dataset(tmp_path, 30, seed=2)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    env.update(WORLD_SIZE="2", NODE_RANK="0", OMP_NUM_THREADS="1")
    out = tmp_path / "runs"
    first = subprocess.Popen(
        [str(GENNIE), "train", "--dataset", str(dataset), "--preset", "1layer",
         "--ensemble", "1", "--epochs", "50", "--no-early-stopping", "--devices", "2",
         "--accelerator", "cpu", "--threads", "1", "--out", str(out)],
        env={**env, "LOCAL_RANK": "0"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    dies = (
        "import torch.distributed as d; d.init_process_group('gloo', rank=1, world_size=2); "
        "raise SystemExit('the second process failed')"
    )
    second = subprocess.run([sys.executable, "-c", dies], env=env, capture_output=True)
    assert second.returncode == 1
    stdout, stderr = first.communicate(timeout=240)
    assert first.returncode == 2, stderr
    assert "error: training process 0 of 2 stopped" in stderr
    assert "Traceback" not in stderr
    assert stdout == ""
    assert not list(out.glob("train_*"))
