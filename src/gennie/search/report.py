"""What a search writes: the trials table, the plots and the best configuration.

``trials.tsv`` has one row per trial of the study (all workers), rewritten
atomically whenever a trial finishes, so that it can be watched live:

- ``trial``, ``state`` (COMPLETE, PRUNED, FAIL, RUNNING, WAITING), ``value`` (the
  objective), ``val_auroc``, ``val_auprc``, ``val_loss``, ``val_accuracy`` (validation
  split, best weights), ``best_epoch``, ``epochs_run``, ``pruned_epoch``,
  ``seconds``, ``started``, ``finished``, ``worker`` (host:pid), ``run_dir`` (the
  trial's train run folder on that worker), ``error``;
- one ``params_<name>`` column per searched parameter (``params_lr``,
  ``params_seq.filters``, …).

``plots/`` holds Optuna's plotly figures as HTML (optimization history, parameter
importances, parallel coordinates, intermediate values) and the optimization
history as PNG (matplotlib). ``best_config.yaml`` is the best
trial's complete train configuration: ``gennie train --config best_config.yaml``
trains the same model again (same seed, same validation metric).
"""

from __future__ import annotations

import fcntl
import logging
import warnings
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from gennie.config import TrainConfig, dump_config

log = logging.getLogger("gennie.search")

TRIALS_FILE = "trials.tsv"
BEST_CONFIG_FILE = "best_config.yaml"
PLOTS_DIR = "plots"

METRIC_ATTRS = ("val_auroc", "val_auprc", "val_loss", "val_accuracy")
TRIAL_COLUMNS = [
    "trial",
    "state",
    "value",
    *METRIC_ATTRS,
    "best_epoch",
    "epochs_run",
    "pruned_epoch",
    "seconds",
    "started",
    "finished",
    "worker",
    "run_dir",
    "error",
]
"""Columns of ``trials.tsv`` before the ``params_*`` columns."""


def trial_info(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """What a worker recorded about a trial, as one flat mapping: ``worker``,
    ``run_dir``, ``config`` (the complete train config) when it started; the validation
    metrics, ``best_epoch``, ``epochs_run``, ``pruned_epoch``, ``seconds`` or ``error``
    when it ended."""
    return {**trial.user_attrs.get("setup", {}), **trial.user_attrs.get("result", {})}


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial of the study (see the module docstring for the columns)."""
    rows = []
    names: list[str] = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial_info(trial)
        row: dict[str, Any] = {
            "trial": trial.number,
            "state": trial.state.name,
            "value": trial.value if trial.state == optuna.trial.TrialState.COMPLETE else None,
            **{key: attrs.get(key) for key in TRIAL_COLUMNS[3:] if key in attrs},
            "started": trial.datetime_start.isoformat(timespec="seconds")
            if trial.datetime_start
            else None,
            "finished": trial.datetime_complete.isoformat(timespec="seconds")
            if trial.datetime_complete
            else None,
        }
        for name, value in trial.params.items():
            if name not in names:
                names.append(name)
            row[f"params_{name}"] = value
        rows.append(row)
    columns = TRIAL_COLUMNS + [f"params_{n}" for n in names]
    return pd.DataFrame(rows, columns=columns)


def write_trials_table(study: optuna.Study, run_dir: Path) -> Path:
    """Rewrite ``trials.tsv`` from the study (atomic, under a lock; safe with workers)."""
    path = Path(run_dir) / TRIALS_FILE
    table = trials_table(study)
    with open(Path(run_dir) / ".trials.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        tmp = path.with_name(f".{TRIALS_FILE}.tmp")
        table.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
        tmp.replace(path)
    return path


def write_plots(study: optuna.Study, run_dir: Path) -> list[Path]:
    """Write the search plots that the study's trials allow (see the module docstring).

    Returns:
        The files written. A plot that needs more finished trials (importances need
        two or more with varying parameters) is left out with a log message.
    """
    from optuna import visualization
    from optuna.visualization import matplotlib as mpl_visualization

    folder = Path(run_dir) / PLOTS_DIR
    folder.mkdir(exist_ok=True)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        log.info("no complete trial yet; no plots")
        return []
    written: list[Path] = []
    html = {
        "optimization_history": visualization.plot_optimization_history,
        "param_importances": visualization.plot_param_importances,
        "parallel_coordinate": visualization.plot_parallel_coordinate,
        "intermediate_values": visualization.plot_intermediate_values,
    }
    png = {"optimization_history": mpl_visualization.plot_optimization_history}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna's experimental-API warnings
        for stem, plot in html.items():
            try:
                figure = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                log.info("no %s plot: %s", stem, exc)
                continue
            path = folder / f"{stem}.html"
            # One shared plotly.js beside the pages: offline and small.
            figure.write_html(path, include_plotlyjs="directory")
            written.append(path)
        import matplotlib.pyplot as plt

        for stem, plot in png.items():
            try:
                axes = plot(study)
            except (ValueError, RuntimeError, ZeroDivisionError) as exc:
                log.info("no %s.png: %s", stem, exc)
                continue
            figure = axes.get_figure()
            figure.set_size_inches(8, 5)
            figure.tight_layout()
            path = folder / f"{stem}.png"
            figure.savefig(path, dpi=120)
            plt.close(figure)
            written.append(path)
    return written


def best_train_config(study: optuna.Study, out: Path) -> TrainConfig | None:
    """The best complete trial's train configuration (``None`` before any completes).

    Args:
        study: The study.
        out: Output folder for a run of this configuration (no fixed run name).
    """
    try:
        best = study.best_trial
    except ValueError:
        return None
    saved = dict(trial_info(best)["config"])
    saved.update(out=str(out), name=None)
    return TrainConfig.model_validate(saved)


def write_best_config(config: TrainConfig, run_dir: Path) -> Path:
    """Write ``best_config.yaml`` (complete: branches and architecture filled in)."""
    from gennie.training.stage import prepare

    resolved, _ = prepare(config)
    path = Path(run_dir) / BEST_CONFIG_FILE
    dump_config(resolved, path)
    return path
