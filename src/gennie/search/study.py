"""The Optuna study behind a search: storage, sampler, pruner and the pruning callback.

Storage is an Optuna RDB storage: SQLite (``study.db`` in the run folder) by default,
or any database URL SQLAlchemy accepts (PostgreSQL, MySQL), which lets workers on
several machines share one study. Every running trial sends a heartbeat; a trial
whose worker died (killed, machine lost) misses it, and the next trial any worker
starts marks it ``FAIL`` (Optuna's ``heartbeat_interval``/``grace_period``) and
enqueues it once more (``RetryHeartbeatStaleTrialCallback``), so the study stays usable and
the search goes on. The run folder of such a trial, left ``running`` by the dead worker,
is then marked ``interrupted`` (:func:`mark_stale_trial_folders`).
"""

from __future__ import annotations

import math
import os
import socket
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytorch_lightning as pl
from optuna.trial import TrialState

from gennie.config import TuneConfig
from gennie.config.search import PASSWORD_MASK, STORAGE_PASSWORD_VARIABLE, mask_storage_url
from gennie.errors import UserError
from gennie.runs import mark_interrupted

STUDY_FILE = "study.db"
"""The default SQLite study in the run folder."""

DIRECTIONS = {"auroc": "maximize", "auprc": "maximize", "loss": "minimize"}
"""Optimization direction of each objective."""


def monitor_of(objective: str) -> str:
    """The per-epoch validation metric that drives early stopping, the best checkpoint
    and pruning: ``val_loss`` for the loss objective, else ``val_auroc`` (AUPRC is
    computed only for the best weights, after training)."""
    return "val_loss" if objective == "loss" else "val_auroc"


def storage_url(config: TuneConfig, run_dir: Path) -> str:
    """The study database: ``config.storage`` (a masked password filled in, see
    :func:`with_password`) or SQLite in the run folder.

    Raises:
        UserError: The URL's password is masked and the environment does not give it.
    """
    if config.storage:
        return with_driver(with_password(config.storage))
    return f"sqlite:///{(Path(run_dir) / STUDY_FILE).resolve()}"


def with_password(url: str) -> str:
    """A storage URL whose password is masked (``***``, as saved in
    ``parameters.yaml``) with the password from the environment.

    ``GENNIE_STORAGE_PASSWORD`` fills it in. Without it, a PostgreSQL URL loses the
    masked password, so that libpq reads ``PGPASSWORD`` or ``~/.pgpass`` (whichever
    is there).

    Args:
        url: The configured storage URL.

    Returns:
        ``url`` itself when no password is masked, else the URL to connect with.

    Raises:
        UserError: The password is masked and neither variable nor a password file
            gives it.
    """
    from sqlalchemy.engine import URL, make_url

    parsed = make_url(url)
    masked_query = [k for k, v in parsed.query.items() if v == PASSWORD_MASK]
    if parsed.password != PASSWORD_MASK and not masked_query:
        return url
    secret = os.environ.get(STORAGE_PASSWORD_VARIABLE)
    if secret:
        filled = parsed.update_query_dict({k: secret for k in masked_query})
        if parsed.password == PASSWORD_MASK:
            filled = filled.set(password=secret)
        return filled.render_as_string(hide_password=False)
    pgpass = Path(os.environ.get("PGPASSFILE") or Path.home() / ".pgpass")
    if parsed.get_backend_name() == "postgresql" and (
        os.environ.get("PGPASSWORD") or pgpass.is_file()
    ):
        # URL.set(password=None) would keep the password: build the URL without it.
        bare = URL.create(
            parsed.drivername,
            username=parsed.username,
            host=parsed.host,
            port=parsed.port,
            database=parsed.database,
            query=parsed.query,
        )
        return bare.difference_update_query(masked_query).render_as_string(hide_password=False)
    raise UserError(
        f"the storage URL's password is masked ({masked_url(url)}), as saved files show "
        "it, and the environment does not give it",
        field="storage",
        hint=f"set the environment variable {STORAGE_PASSWORD_VARIABLE} to the database "
        "password (for PostgreSQL, PGPASSWORD or ~/.pgpass also work)",
    )


def with_driver(url: str) -> str:
    """A ``postgresql://`` URL with the PostgreSQL driver that is installed.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3; gennie's optional
    dependency is psycopg2, so the bare form uses it when psycopg 3 is missing.
    """
    import importlib.util

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is None:
        if importlib.util.find_spec("psycopg2") is not None:
            return parsed.set(drivername="postgresql+psycopg2").render_as_string(
                hide_password=False
            )
    return url


def masked_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (for logs and summaries)."""
    return mask_storage_url(url)


def open_storage(config: TuneConfig, url: str) -> optuna.storages.RDBStorage:
    """Connect to the study database (heartbeats on, retry of trials of dead workers).

    Raises:
        UserError: The database cannot be reached or its driver is missing.
    """
    from sqlalchemy.exc import SQLAlchemyError

    if url.startswith("sqlite"):
        # Several local workers write to one file: wait for the lock instead of failing.
        engine: dict[str, Any] = {"connect_args": {"timeout": 120}}
    else:
        engine = {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            retry = (
                optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=config.retry_failed)
                if config.retry_failed
                else None
            )
            return optuna.storages.RDBStorage(
                url,
                engine_kwargs=engine,
                heartbeat_interval=config.heartbeat,
                grace_period=config.grace_period or 2 * config.heartbeat,
                heartbeat_stale_trial_callback=retry,
            )
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot open the study database {masked_url(url)}: {reason}",
            field="storage",
            hint="check the URL, that the server runs and accepts this user, and that "
            "its Python driver is installed (PostgreSQL: psycopg2)",
        ) from None


def open_study(
    config: TuneConfig,
    storage: optuna.storages.BaseStorage,
    name: str,
    sampler: optuna.samplers.BaseSampler | None = None,
) -> optuna.Study:
    """Create the study, or load it when it exists (a restart, or another worker).

    Raises:
        UserError: The existing study optimizes another objective.
    """
    direction = DIRECTIONS[config.objective]
    study = optuna.create_study(
        storage=storage,
        study_name=name,
        direction=direction,
        load_if_exists=True,
        sampler=sampler,
        pruner=make_pruner(config),
    )
    existing = study.user_attrs.get("objective")
    if existing is None:
        study.set_user_attr("objective", config.objective)
    elif existing != config.objective:
        raise UserError(
            f"the study '{name}' optimizes validation {existing}, not {config.objective}",
            field="objective",
            hint=f"use --objective {existing}, or another --study name",
        )
    return study


def make_sampler(
    config: TuneConfig, grid: dict[str, list[Any]] | None, seed: int | None
) -> optuna.samplers.BaseSampler:
    """TPE (default; ``constant_liar`` so parallel workers spread out), random, or grid."""
    if config.sampler == "grid":
        return optuna.samplers.GridSampler(grid or {}, seed=seed)
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(config: TuneConfig) -> optuna.pruners.BasePruner:
    """The pruner that stops hopeless trials from their per-epoch validation metric."""
    if config.pruner == "median":
        return optuna.pruners.MedianPruner(
            n_startup_trials=config.prune_startup, n_warmup_steps=config.prune_warmup
        )
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, config.prune_warmup))
    return optuna.pruners.NopPruner()


def sampler_seed(config: TuneConfig, worker: int, trials_so_far: int) -> int:
    """The sampler seed of a worker.

    One worker on the run folder's own study is reproducible: the configured seed,
    plus the number of trials the study had when the worker started (so a resumed
    search does not repeat its first trials). Local workers add their number; with a
    shared database, commands on other machines may use the same worker numbers, so
    the host and process are mixed in to keep workers from proposing the same trials.
    """
    if config.storage is None:
        return (config.seed + 7919 * trials_so_far + worker) % (2**31)
    key = (config.seed, trials_so_far, worker, socket.gethostname(), os.getpid())
    return hash(key) % (2**31)


def trial_counts(study: optuna.Study) -> dict[str, int]:
    """Number of trials in each state (``complete``, ``pruned``, ``fail``, ``running``,
    ``waiting``), over all workers."""
    counts = {state.name.lower(): 0 for state in TrialState}
    for trial in study.get_trials(deepcopy=False):
        counts[trial.state.name.lower()] += 1
    return counts


def mark_stale_trial_folders(study: optuna.Study) -> list[Path]:
    """Mark the run folders of failed trials that still say ``running`` as
    ``interrupted``: their worker died (the heartbeat failed them) and never finished
    them. A folder whose process is seen alive on this machine is left alone.

    Returns:
        The folders marked.
    """
    marked = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        run_dir = (trial.user_attrs.get("setup") or {}).get("run_dir")
        if run_dir and mark_interrupted(Path(run_dir), "its search worker died"):
            marked.append(Path(run_dir))
    return marked


class PruningCallback(pl.Callback):
    """Reports the per-epoch validation metric to the trial and stops hopeless ones.

    A trial the pruner gives up on stops after the current epoch (``should_stop``), so
    its run folder is still complete; the objective then reports it as pruned.

    Args:
        trial: The Optuna trial.
        monitor: ``val_auroc`` or ``val_loss`` (a key of Lightning's callback metrics).
    """

    def __init__(self, trial: optuna.Trial, monitor: str) -> None:
        self.trial = trial
        self.monitor = monitor
        self.pruned_epoch: int | None = None

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Report this epoch's value (step = 1-based epoch); ask the pruner."""
        if trainer.sanity_checking or self.pruned_epoch is not None:
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None or math.isnan(float(value)):
            return
        epoch = trainer.current_epoch + 1
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned_epoch = epoch
            trainer.should_stop = True
