"""CLI: ``galinfo import predictions``: a model trained elsewhere as a galinfo run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def import_predictions_cmd(
    path: Annotated[Path, typer.Argument(help="FITS, ECSV, Parquet or HDF5 table: objid + latent/log_q_true/pdf/point.")],
    dataset: Annotated[Path, typer.Option("--dataset", help="Dataset folder whose galaxies the table covers.")],
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (must not exist unless --overwrite).")],
    inputs: Annotated[
        str | None, typer.Option(help="Input set the model saw, e.g. I_ugriz (default: the table's 'inputs' metadata).")
    ] = None,
    target: Annotated[str, typer.Option(help="Target column the model estimates.")] = "logmstar",
    bins: Annotated[
        str | None, typer.Option(help="LOW,HIGH,N_BINS of the pdf / log_q_true bins (default: the target's, 6,12.5,520).")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.")] = False,
) -> None:
    """Write RUN/predictions.h5 from an external model's per-galaxy table, for knn, causal, pid, evaluate."""
    import json

    from rich.console import Console

    from galinfo.models.external import EXTERNAL_FILE, import_predictions, parse_bins

    run = import_predictions(path, dataset, out, inputs=inputs, target=target,
                             bins=parse_bins(bins) if bins else None, overwrite=overwrite)
    rec = json.loads((run / EXTERNAL_FILE).read_text())
    Console().print(
        f"wrote [bold]{run}[/]: {rec['n_matched']} of {rec['n_dataset']} dataset galaxies "
        f"({rec['n_missing']} missing from the table) as {rec['inputs']}; columns: {', '.join(rec['columns'])}",
        highlight=False, soft_wrap=True,
    )
