"""CLI: ``galinfo knn RUN``: adaptive-k KNN pdfs in a trained model's latent space."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def knn_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder holding predictions.h5 (with latent).")],
    kmax: Annotated[int, typer.Option(help="Neighbours per galaxy (paper: 2000).")] = 2000,
    n_pit_bins: Annotated[int, typer.Option(help="Bins of the local PIT histograms.")] = 100,
    recalibrate: Annotated[
        bool, typer.Option(help="Apply the quadratic PIT recalibration.")
    ] = True,
    batch_size: Annotated[int, typer.Option(help="Galaxies per block (memory).")] = 1024,
    save_pdf: Annotated[bool, typer.Option(help="Also store the KNN pdfs (N x bins).")] = False,
    save_neighbors: Annotated[
        bool, typer.Option(help="Also store the kmax neighbour rows of every galaxy.")
    ] = False,
    gpu: Annotated[str, typer.Option(help="auto, yes or no: faiss GPU index.")] = "auto",
) -> None:
    """Fit adaptive-k KNN on the train split, write RUN/knn.h5 and print metrics per split."""
    import numpy as np
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from galinfo.errors import ConfigError
    from galinfo.knn.outputs import KNN_FILE, Q_FLOOR, run_adaptive_knn, write_knn
    from galinfo.models.outputs import read_predictions

    use_gpu = {"auto": "auto", "yes": True, "no": False}.get(gpu)
    if use_gpu is None:
        raise ConfigError(f"--gpu must be auto, yes or no, got {gpu!r}")
    pred = read_predictions(run)
    n_train = int((pred.mask("train") & pred.predicted()).sum())
    if not 1 <= kmax <= n_train - 1:
        raise ConfigError(
            f"--kmax {kmax} must be between 1 and {n_train - 1} (train galaxies minus one)"
        )
    console = Console()
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(), console=console, transient=True,
    ) as bar:

        def progress(what: str, total: int):
            task = bar.add_task(what, total=total)
            return lambda done: bar.advance(task, done)

        model, arrays = run_adaptive_knn(
            pred, kmax=kmax, n_pit_bins=n_pit_bins, recalibrate=recalibrate,
            batch_size=batch_size, save_pdf=save_pdf, save_neighbors=save_neighbors,
            use_gpu=use_gpu, progress=progress,
        )
    attrs = {
        "kmax": kmax,
        "k_grid": json.dumps(model.ks_.tolist()),
        "n_pit_bins": n_pit_bins,
        "recalibrate": recalibrate,
        "q_floor": Q_FLOOR,
        "bin_low": pred.bins.low,
        "bin_high": pred.bins.high,
        "n_bins": pred.bins.n_bins,
        "input_set": pred.input_set,
        "target_column": pred.target_column,
        "data_checksum": pred.data_checksum,
    }
    path = write_knn(Path(run) / KNN_FILE, arrays, attrs)
    console.print(_metrics_table(pred, arrays))
    console.print(f"wrote [bold]{path}[/] (median k = {int(np.median(arrays['k']))})")


def _metrics_table(pred, arrays):
    """Rich table: softmax vs adaptive-KNN PIT W1, sigma_MAD and CRPS per split."""
    import numpy as np
    from rich.table import Table

    from galinfo import metrics
    from galinfo.data.validate import in_range

    table = Table(title=f"adaptive KNN vs softmax ({pred.input_set})")
    for col in (
        "split", "n", "PIT W1 soft", "PIT W1 KNN", "σMAD soft", "σMAD KNN",
        "CRPS soft", "CRPS KNN",
    ):
        table.add_column(col, justify="right")

    def fmt(x: float) -> str:
        return "n/a" if not np.isfinite(x) else f"{x:.4f}"

    defined = pred.predicted() & in_range(pred.target, pred.bins.low, pred.bins.high)
    for split in ("train", "val", "test"):
        m = pred.mask(split) & defined  # galaxies with outputs and a target inside the bins
        if not m.any():
            continue
        y = pred.target[m]
        w_soft = s_soft = c_soft = float("nan")
        if pred.pdf is not None:
            rows = np.flatnonzero(m)
            pits, crps = [], []
            for start in range(0, rows.size, 20_000):  # bounded float64 copies of the pdfs
                r = rows[start : start + 20_000]
                pdf = np.asarray(pred.pdf[r], dtype=np.float64)
                pits.append(metrics.pit(pdf, pred.bins, pred.target[r]))
                crps.append(metrics.crps(pdf, pred.bins, pred.target[r]))
            w_soft = metrics.pit_wasserstein(np.concatenate(pits))
            c_soft = float(np.mean(np.concatenate(crps)))
        if pred.pdf_mean is not None:
            s_soft = metrics.sigma_mad(pred.pdf_mean[m], y)
        table.add_row(
            split, str(int(m.sum())), fmt(w_soft), fmt(metrics.pit_wasserstein(arrays["pit"][m])),
            fmt(s_soft), fmt(metrics.sigma_mad(arrays["pdf_mean"][m], y)), fmt(c_soft),
            fmt(float(np.mean(arrays["crps"][m]))),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add ``galinfo knn`` to the main app."""
    app.command("knn")(knn_cmd)
