"""The tune stage: hyper-parameter and architecture search with Optuna.

``tune(config)`` opens (or resumes) the run folder ``<out>/<name>``, where the name is
``--name``, else ``--study``, else ``tune_<date>-<time>``, connects to the study
(SQLite ``study.db`` there by default, or ``--storage URL``), runs workers until the
study has ``n_trials`` finished (complete or pruned) trials in total, then writes
``trials.tsv``, ``plots/`` and ``best_config.yaml`` (see :mod:`gennie.search.report`).

Each trial is a ``gennie train`` run (:func:`gennie.training.stage.train`) in
``trials/trial_NNNN/`` on the train and validation splits only: the test evaluation
is switched off, a pruning callback reports the per-epoch validation metric, and the
objective is the chosen validation metric of the best weights. The test and blackbox
splits are used only by ``--retrain``, which trains the best configuration once more
with ``gennie train`` (test evaluation included) in ``retrained/``.

With ``--jobs N`` the command runs N workers: itself and N-1 more processes (one
PyTorch thread each unless ``threads`` says otherwise); more workers elsewhere join
by running the same command with the same ``--storage`` and ``--study``. Running the command again
resumes the study: trials already finished count toward ``n_trials``.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import socket
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from gennie.config import TrainConfig, TuneConfig
from gennie.errors import UserError
from gennie.processes import exit_code, limit_threads, restore_signals, stop_on_sigterm
from gennie.runs import LOG_FILE, Run, StageResult, run_folder
from gennie.search.report import trial_info

log = logging.getLogger("gennie.search")

TRIALS_DIR = "trials"
RETRAIN_DIR = "retrained"
DEFAULT_TRIALS = 20
"""Trials of a search without n_trials (a grid search defaults to the grid size)."""
MAX_FAILURES_IN_A_ROW = 5
"""A worker stops with an error after this many trials in a row failed."""


# --------------------------------------------------------------------------- run folder


def tune_folder(config: TuneConfig) -> contextlib.AbstractContextManager[Run]:
    """The search's run folder: :func:`gennie.runs.run_folder` in resume mode, named
    ``--name``, else ``--study``, else ``tune_<date>-<time>``. An existing tune folder
    of that name is joined instead of replaced: it holds the study (``study.db``) and
    the trials run so far, so several workers share it and running the command again
    resumes the search.

    Yields:
        The :class:`~gennie.runs.Run`; ``run.summary`` goes into ``run.json`` and the
        ``tune_parameters.tsv`` table.
    """
    return run_folder(config, name=config.name or config.study, resume=True)


# --------------------------------------------------------------------------- trials


def validation_metrics(run_dir: Path, dataset: Any, device: str = "cpu") -> dict[str, Any]:
    """Validation-split metrics of a trained model's (best) weights.

    Args:
        run_dir: A train run folder (its ``model/`` bundle is loaded).
        dataset: The :class:`~gennie.dataset.store.Dataset` it was trained on.
        device: Where to compute.

    Returns:
        ``accuracy``, ``loss``, ``auroc`` and ``auprc`` (macro averages) and
        ``per_class``, as in ``gennie train --json``.
    """
    # Imported here, as everywhere in this module, so that importing it (the parent
    # of --jobs workers) does not wait for PyTorch.
    from gennie.model.bundle import load_bundle
    from gennie.model.inference import index_batches, pick_device, predict_probabilities
    from gennie.scoring.metrics import headline_metrics
    from gennie.scoring.score import score

    network, spec = load_bundle(run_dir)
    where = pick_device(device)
    network = network.to(where).eval()
    indices = dataset.indices("validation")

    def load(idx: Any) -> list[Any]:
        return dataset.inputs(idx, spec.branches)

    probs = predict_probabilities(
        network, index_batches(load, indices, 512), where, total=len(indices), step="validation"
    )
    return headline_metrics(score(probs, dataset.labels[indices], spec.classes))


def _describe(params: dict[str, Any]) -> str:
    parts = []
    for name, value in params.items():
        text = f"{value:.3g}" if isinstance(value, float) else str(value)
        parts.append(f"{name}={text}")
    return " ".join(parts)


def _since(started: float) -> float:
    return round(time.time() - started, 2)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Worker:
    """Runs trials of one study until it has enough finished trials.

    Args:
        config: The tune configuration.
        run_dir: The tune run folder (trials go to ``trials/`` there).
        url: The study database URL.
        study_name: The study name.
        target: Finished (complete or pruned) trials the study should reach.
        index: Worker number (0 for a single worker), for the sampler seed.
        deadline: ``time.time()`` after which no new trial starts (or None).
        storage: An open storage for ``url`` to reuse (opening one costs seconds).
    """

    def __init__(
        self,
        config: TuneConfig,
        run_dir: Path,
        url: str,
        study_name: str,
        target: int,
        index: int = 0,
        deadline: float | None = None,
        storage: Any = None,
    ) -> None:
        from gennie.dataset.store import Dataset
        from gennie.search.space import parameter_dimensions
        from gennie.search.study import (
            make_sampler,
            open_storage,
            open_study,
            sampler_seed,
        )

        self.config = config
        self.run_dir = Path(run_dir)
        self.target = target
        self.deadline = deadline
        self.dataset = Dataset(config.dataset)  # type: ignore[arg-type]
        self.dimensions = parameter_dimensions(config.space, self.dataset.branches)
        grid = None
        if config.sampler == "grid":
            from gennie.search.space import grid_values

            grid = {name: grid_values(d) for name, d in self.dimensions.items()}
        self.study = open_study(config, storage or open_storage(config, url), study_name)
        # The seed also depends on the trials so far, so that a resumed search does not
        # propose the first run's trials again.
        seed = sampler_seed(config, index, len(self.study.get_trials(deepcopy=False)))
        self.study.sampler = make_sampler(config, grid, seed)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.threads = config.threads or (1 if config.jobs > 1 else 0)
        self.failures_in_a_row = 0

    def objective(self, trial: Any) -> float:
        """Train one trial; returns its validation metric (NaN marks a failed trial)."""
        import optuna
        from pytorch_lightning.callbacks import TQDMProgressBar

        from gennie.search.space import trial_config
        from gennie.search.study import PruningCallback, monitor_of
        from gennie.training.stage import helper_processes, train

        started = time.time()
        monitor = monitor_of(self.config.objective)
        # Two writes per trial (setup, result): each is a database transaction.
        setup: dict[str, Any] = {"worker": self.worker}
        try:
            config = trial_config(
                trial,
                self.config.space,
                self.dataset.branches,
                dataset=self.config.dataset,
                out=self.run_dir / TRIALS_DIR,
                name=f"trial_{trial.number:04d}",
                seed=self.config.seed,
                device=self.config.device,
                devices=self.config.devices,
                threads=self.threads,
                precision=self.config.precision,
                monitor=monitor,
            )
            setup["config"] = config.model_dump(mode="json")
            setup["run_dir"] = str(Path(config.out) / str(config.name))
            trial.set_user_attr("setup", setup)
            pruning = PruningCallback(trial, monitor)
            # The trial's own progress bar is off: one line per trial is printed instead.
            # Several devices: this process trains as the first of them, the others
            # run in processes started for the trial.
            with helper_processes(config):
                result = train(
                    config, [pruning, TQDMProgressBar(refresh_rate=0)], evaluate_test=False
                )
            metrics = validation_metrics(result.run_dir, self.dataset, self.config.device)
        except KeyboardInterrupt as exc:  # Ctrl+C or SIGTERM: the trial fails, the run stops
            cancelled = {"error": f"cancelled: {exc or 'Ctrl+C'}", "seconds": _since(started)}
            trial.set_user_attr("result", cancelled)
            raise
        except UserError as exc:
            if "config" not in setup:
                trial.set_user_attr("setup", setup)
            error = str(exc).replace("\n", " ")
            trial.set_user_attr("result", {"error": error, "seconds": _since(started)})
            return float("nan")
        outcome: dict[str, Any] = {
            f"val_{k}": metrics[k] for k in ("auroc", "auprc", "loss", "accuracy")
        }
        outcome.update(
            best_epoch=result.summary.get("best_epoch"),
            epochs_run=result.summary.get("epochs_run"),
            pruned_epoch=pruning.pruned_epoch,
            seconds=_since(started),
        )
        trial.set_user_attr("result", outcome)
        if pruning.pruned_epoch is not None:
            raise optuna.TrialPruned(f"pruned at epoch {pruning.pruned_epoch}")
        value = metrics[self.config.objective]
        return float("nan") if value is None else float(value)

    def after_trial(self, study: Any, trial: Any) -> None:
        """Print one progress line and rewrite ``trials.tsv``."""
        from optuna.trial import TrialState

        from gennie.search.report import write_trials_table

        attrs = trial_info(trial)
        seconds = attrs.get("seconds")
        took = f" · {seconds:.1f} s" if seconds is not None else ""
        name = f"validation {self.config.objective}"
        if trial.state == TrialState.COMPLETE:
            self.failures_in_a_row = 0
            best = study.best_trial
            text = (
                f"trial {trial.number} complete: {name} {trial.value:.4f} "
                f"(best {best.value:.4f}, trial {best.number}){took}"
            )
        elif trial.state == TrialState.PRUNED:
            self.failures_in_a_row = 0
            text = f"trial {trial.number} pruned at epoch {attrs.get('pruned_epoch')}{took}"
        else:
            self.failures_in_a_row += 1
            reason = attrs.get("error") or f"no {name} (undefined or not a number)"
            text = f"trial {trial.number} failed: {reason}{took}"
        if trial.params:
            text += f"\n    {_describe(trial.params)}"
        _say(text)
        log.info(text.replace("\n    ", " | "))
        write_trials_table(study, self.run_dir)

    def finished(self) -> bool:
        """True when the study has its trials, or time is up."""
        import optuna
        from optuna.storages import fail_stale_trials

        if self.deadline is not None and time.time() >= self.deadline:
            return True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            fail_stale_trials(self.study)  # trials of dead workers must not count as running
        from gennie.search.study import mark_stale_trial_folders, trial_counts

        mark_stale_trial_folders(self.study)

        counts = trial_counts(self.study)
        return counts["complete"] + counts["pruned"] + counts["running"] >= self.target

    def run(self) -> None:
        """Run trials one at a time until :meth:`finished`.

        Raises:
            UserError: Several trials in a row failed (e.g. every sampled architecture
                is too deep for the window); the message gives the last reason.
        """
        # Each trial's run folder limits its training to these threads; this limit
        # covers the rest of the worker (scoring the validation split).
        from gennie.scoring.score import imbalance_warned_once

        with limit_threads(self.threads), imbalance_warned_once():
            while not self.finished():
                self.study.optimize(self.objective, n_trials=1, callbacks=[self.after_trial])
                if self.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                    last = trial_info(self.study.trials[-1]).get("error", "no metric")
                    raise UserError(
                        f"{MAX_FAILURES_IN_A_ROW} trials in a row failed; the last: {last}",
                        field="space",
                        hint="narrow the search space (see trials.tsv for each trial's error)",
                    )


def _worker_process(
    config: dict[str, Any],
    run_dir: str,
    url: str,
    study_name: str,
    target: int,
    deadline: float | None,
    index: int,
) -> None:
    """Trials of worker ``index`` (an extra process of ``--jobs``); exit 2 on a user
    error."""
    import optuna

    os.dup2(2, 1)  # keep stdout clean for the parent's --json output
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    root = logging.getLogger("gennie")
    handler = logging.FileHandler(Path(run_dir) / LOG_FILE)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)s worker{index} %(name)s: %(message)s")
    )
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        # SIGTERM (the parent's terminate(), a cancel) ends the trial cancelled.
        with stop_on_sigterm():
            tune_config = TuneConfig.model_validate(config)
            Worker(tune_config, Path(run_dir), url, study_name, target, index, deadline).run()
    except UserError as exc:
        _say(f"error (worker {index}): {exc}")
        sys.exit(2)
    except KeyboardInterrupt as exc:
        sys.exit(exit_code(exc))
    # Every trial is in the database and its folder: leave without the interpreter's
    # teardown of PyTorch and friends, which took seconds the parent waited for.
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def _waiting_worker(connection: Any, index: int) -> None:
    """Entry point of a worker process started by ``--jobs``: import what trials need
    while the parent checks its input, then wait for the go (the worker's arguments)
    or for ``None`` (nothing to do)."""
    restore_signals()  # the parent's terminate() must stop it
    import optuna  # noqa: F401 - imported now, while the parent still checks
    import pytorch_lightning  # noqa: F401

    import gennie.training.stage  # noqa: F401

    try:
        args = connection.recv()
    except (EOFError, KeyboardInterrupt):
        return
    if args is not None:
        _worker_process(*args, index)


class _Workers:
    """The extra worker processes of ``--jobs N`` (N − 1 of them; this process is worker
    0). They start first, so that importing PyTorch and Lightning (seconds) overlaps
    with this process's own start instead of delaying their first trials."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")  # no forked PyTorch/database state
        self.processes: list[Any] = []
        self._connections: list[Any] = []
        for index in range(1, count):
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_waiting_worker, args=(theirs, index), name=f"worker{index}"
            )
            process.start()
            theirs.close()
            self.processes.append(process)
            self._connections.append(ours)

    def go(self, args: tuple[Any, ...]) -> None:
        """Let every worker run trials with ``args`` (see :func:`_worker_process`)."""
        for connection in self._connections:
            connection.send(args)
            connection.close()
        self._connections = []

    def close(self) -> None:
        """Wait for the workers that got the go; stop the others at once (this process
        is leaving before any trial, e.g. on a user error)."""
        if self._connections:
            self.terminate()
        for process in self.processes:
            process.join()

    def terminate(self) -> None:
        """Stop every worker now."""
        for connection in self._connections:
            connection.close()
        self._connections = []
        for process in self.processes:
            if process.is_alive():
                process.terminate()
        for process in self.processes:
            process.join(timeout=10)  # time to end its trial cancelled
            if process.is_alive():  # still starting, SIGTERM not yet restored
                process.kill()
                process.join()


def _run_workers(
    config: TuneConfig,
    run_dir: Path,
    url: str,
    name: str,
    target: int,
    deadline: float | None,
    storage: Any,
    workers: _Workers,
) -> None:
    """Run trials here (worker 0) and in the started ``workers``."""
    workers.go((config.model_dump(mode="json"), str(run_dir), url, name, target, deadline))
    own_error: UserError | None = None
    try:
        try:
            Worker(config, run_dir, url, name, target, 0, deadline, storage).run()
        except UserError as exc:
            own_error = exc
            _say(f"error (worker 0): {exc}")
        workers.close()
    except BaseException:
        workers.terminate()
        raise
    codes = [p.exitcode for p in workers.processes]
    if any(code not in (0, 2) for code in codes):
        raise RuntimeError(f"a worker process crashed (exit codes {codes}); see {LOG_FILE}")
    if own_error is not None and all(code == 2 for code in codes):
        raise own_error


# --------------------------------------------------------------------------- stage


def check(config: TuneConfig) -> list[UserError]:
    """The problems of a tune configuration that show before any trial runs.

    Args:
        config: The tune configuration.

    Returns:
        Field-tagged user errors: no dataset, or one that is no finished preprocess
        run or has no train or validation samples; a search space that does not fit
        the dataset's branches; an empty grid dimension.
    """
    # Imported here, as everywhere in this module: see validation_metrics.
    from gennie.dataset.store import Dataset
    from gennie.search.space import grid_values, parameter_dimensions
    from gennie.training.stage import check as check_training

    if config.dataset is None:
        return [
            UserError(
                "no dataset given",
                field="dataset",
                hint="give --dataset with the folder that 'gennie preprocess' printed",
            )
        ]
    try:
        dataset = Dataset(config.dataset)
        dimensions = parameter_dimensions(config.space, dataset.branches)
    except UserError as exc:
        return [exc]
    problems = check_training(TrainConfig(dataset=config.dataset, branches=dataset.branches))
    if config.sampler == "grid" and any(not grid_values(d) for d in dimensions.values()):
        problems.append(UserError("a grid dimension has no values", field="space"))
    return problems


def _check(config: TuneConfig) -> Any:
    """Raise the first problem :func:`check` finds, before any folder is made; return
    the searched dimensions."""
    from gennie.dataset.store import Dataset
    from gennie.search.space import parameter_dimensions

    problems = check(config)
    if problems:
        raise problems[0]
    return parameter_dimensions(config.space, Dataset(config.dataset).branches)


def _grid_size(dimensions: dict[str, Any]) -> int:
    from gennie.search.space import grid_values

    size = 1
    for dimension in dimensions.values():
        size *= len(grid_values(dimension))
    return size


def tune(config: TuneConfig) -> StageResult:
    """Run the tune stage (see the module docstring).

    Args:
        config: The tune configuration (dataset, space, sampler, storage, …).

    Returns:
        The run folder and a summary: ``study``, ``storage`` (password hidden),
        ``objective``, ``trials`` (count per state), ``best_trial``, ``best_value``,
        ``best_params``, ``validation`` (the best trial's validation metrics),
        ``best_config``, and with ``retrain`` the test ``metrics`` and ``retrained``.

    Raises:
        UserError: A problem with the dataset, the space, or the database.
    """
    workers = _Workers(config.jobs)
    try:
        return _tune(config, workers)
    finally:
        workers.close()


def _tune(config: TuneConfig, workers: _Workers) -> StageResult:
    """:func:`tune` with its extra worker processes started."""
    import optuna

    from gennie.search.report import (
        best_train_config,
        write_best_config,
        write_plots,
        write_trials_table,
    )
    from gennie.search.study import masked_url, open_storage, open_study, storage_url, trial_counts

    dimensions = _check(config)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    target = config.n_trials or DEFAULT_TRIALS
    if config.sampler == "grid":
        size = _grid_size(dimensions)
        target = min(config.n_trials, size) if config.n_trials else size
    with tune_folder(config) as run:
        url = storage_url(config, run.dir)
        name = config.study or run.dir.name
        storage = open_storage(config, url)
        study = open_study(config, storage, name)
        before = trial_counts(study)
        done = before["complete"] + before["pruned"]
        _say(
            f"study '{name}' in {masked_url(url)}: {done} finished trial(s) so far, "
            f"target {target}; {config.jobs} worker(s) here; "
            f"{len(dimensions)} searched parameter(s): {', '.join(dimensions) or 'none'}"
        )
        deadline = time.time() + config.timeout if config.timeout else None
        if config.jobs == 1:
            Worker(config, run.dir, url, name, target, 0, deadline, storage).run()
        else:
            _run_workers(config, run.dir, url, name, target, deadline, storage, workers)

        write_trials_table(study, run.dir)
        write_plots(study, run.dir)
        counts = {k: v for k, v in trial_counts(study).items() if v}
        run.summary.update(
            {
                "study": name,
                "storage": masked_url(url),
                "objective": config.objective,
                "trials": counts,
            }
        )
        best = best_train_config(study, config.out)
        if best is None:
            raise UserError(
                "no trial completed, so there is no best configuration",
                field="space",
                hint="see trials.tsv for each trial's error; more epochs or trials may help",
            )
        best_trial = study.best_trial
        path = write_best_config(best, run.dir)
        run.summary.update(
            {
                "best_trial": best_trial.number,
                "best_value": best_trial.value,
                "best_params": best_trial.params,
                "validation": {
                    k.removeprefix("val_"): trial_info(best_trial).get(k)
                    for k in ("val_accuracy", "val_loss", "val_auroc", "val_auprc")
                },
                "best_config": str(path),
            }
        )
        _say(
            f"best: trial {best_trial.number}, validation {config.objective} "
            f"{best_trial.value:.4f}; {_describe(best_trial.params)}"
        )
        if config.retrain:
            from gennie.training.stage import train

            _say("retraining the best configuration and evaluating it on the test split")
            retrained = train(best.model_copy(update={"out": run.dir / RETRAIN_DIR}))
            run.summary["retrained"] = str(retrained.run_dir)
            run.summary["metrics"] = retrained.summary.get("metrics")
        return StageResult(run_dir=run.dir, summary=run.summary, stage="tune")
