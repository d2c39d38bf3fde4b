"""The predict stage: a model + new data → one row of class probabilities per input.

Output ``predictions.tsv`` keeps the input order and each input's identity (BED
coordinates and name, FASTA header, or the sequence itself), one ``p_<class>`` column
per class and the highest-scoring class. No hard call is forced on the user: the
probabilities are there to threshold as they see fit. BED intervals that produced no
window (chromosome shorter than the window) keep their row, with a note.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from gennie.config import PredictConfig
from gennie.dataset.inputs import InputMapper, identity_columns
from gennie.errors import UserError
from gennie.runs import StageResult, run_folder
from gennie.scoring.metrics import probability_table

log = logging.getLogger("gennie.predict")


def predict(config: PredictConfig) -> StageResult:
    """Run the predict stage (see the module docstring).

    Returns:
        The run folder and a summary (number of predictions, counts per highest class).
    """
    from gennie.model.inference import index_batches, pick_device, predict_probabilities
    from gennie.model.loading import load_model

    if config.input is None and not config.sequences:
        raise UserError(
            "nothing to predict",
            field="input",
            hint="give --input FILE (BED, FASTA, sequences) or --sequence SEQ",
        )
    model = load_model(config)
    device = pick_device(config.device)
    if config.attributions:
        from gennie.attribution.explain import check_attribution_options

        check_attribution_options(config, model)
    with InputMapper(model.spec, config.genome, config.conservation) as mapper:
        inputs = (
            mapper.from_file(Path(config.input))
            if config.input
            else mapper.from_sequences(list(config.sequences))
        )
        with run_folder(config) as run:
            forward = model.network.to(device) if model.network is not None else model.forward
            order = np.arange(len(inputs.table))
            probs = predict_probabilities(
                forward,
                index_batches(inputs.inputs, order, config.batch_size),
                device,
                model.outputs_are_probabilities,
            )
            table = probability_table(identity_columns(inputs), probs, model.spec.classes)
            table["_sample"] = order  # finds each input's row after dropped rows are merged in
            if not inputs.dropped.empty:
                dropped = pd.DataFrame(
                    {
                        "line": inputs.dropped["line"],
                        "chrom": inputs.dropped["chrom"],
                        "start": inputs.dropped["start"],
                        "end": inputs.dropped["end"],
                        "name": inputs.dropped["name"],
                        "strand": inputs.dropped["strand"],
                        "note": "no window: chromosome shorter than the window",
                    }
                )
                table = pd.concat([table, dropped]).sort_values("line", kind="stable")
                log.warning(
                    "%d intervals got no prediction (chromosome shorter than the window)",
                    len(dropped),
                )
            table = table.reset_index(drop=True)
            sample_rows = np.empty(len(order), dtype=np.int64)
            predicted = table["_sample"].notna().to_numpy()
            sample_rows[table.loc[predicted, "_sample"].astype(int)] = np.flatnonzero(predicted)
            table = table.drop(columns="_sample")
            table.to_csv(run.dir / "predictions.tsv", sep="\t", index=False)
            if config.attributions:
                from gennie.attribution.explain import write_attribution_outputs

                run.summary.update(
                    write_attribution_outputs(
                        run.dir,
                        forward,
                        inputs.inputs,
                        sample_rows,
                        table,
                        list(identity_columns(inputs).columns),
                        model.spec,
                        config,
                        device,
                        model.outputs_are_probabilities,
                        seed=config.seed,
                        batch_size=min(config.batch_size, 64),
                        model_label=str(config.model),
                    )
                )
            counts = table["highest"].value_counts().to_dict() if len(table) else {}
            run.summary.update(
                {
                    "predictions": int(len(probs)),
                    "highest": {k: int(v) for k, v in counts.items() if isinstance(k, str)},
                    "predictions_file": str(run.dir / "predictions.tsv"),
                }
            )
            return StageResult(run_dir=run.dir, summary=run.summary, stage=run.stage)
