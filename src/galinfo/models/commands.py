"""CLI: ``galinfo train``, ``galinfo predict`` and ``galinfo evaluate``."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from galinfo.data.schema import SPLITS
from galinfo.errors import ConfigError

Run = Annotated[Path, typer.Argument(help="Run folder (checkpoints, predictions.h5, metrics.json).")]


def _range(text: str | None) -> tuple[float | None, float | None]:
    if text is None:
        return None, None
    try:
        low, high = (float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"--target-range {text!r} must be two numbers 'LOW,HIGH'") from None
    return low, high


def train_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder (catalog.fits, manifest.json, images.h5).")],
    inputs: Annotated[str, typer.Option(help="Input set, e.g. 'I_ugriz|M_W123' or 'M_ugriz'.")],
    out: Annotated[Path, typer.Option(help="Run folder; an existing run there is resumed.")],
    objective: Annotated[str, typer.Option(help="'scl' (latent model) or 'ce' (cross-entropy only).")] = "ce",
    preset: Annotated[str, typer.Option(help="'cpu-small' (minutes on a CPU) or 'paper' (180k steps).")] = "cpu-small",
    target: Annotated[str, typer.Option(help="Catalogue column to estimate.")] = "logmstar",
    target_range: Annotated[str | None, typer.Option(help="Bin range 'LOW,HIGH' (default 6,12.5).")] = None,
    bins: Annotated[int | None, typer.Option(help="Number of target bins (default 520).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of initialisation, batch order and augmentation.")] = 0,
    max_steps: Annotated[int | None, typer.Option(help="Training steps (default from the preset).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Rows per step (default from the preset).")] = None,
    lr: Annotated[float | None, typer.Option(help="Base learning rate (default from the preset).")] = None,
    arch: Annotated[str | None, typer.Option(help="Registered architecture (default from preset and inputs).")] = None,
    device: Annotated[str, typer.Option(help="'auto', 'cpu' or 'cuda[:N]'.")] = "auto",
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the training step (GPU).")] = False,
    predict_after: Annotated[bool, typer.Option("--predict/--no-predict", help="Write predictions.h5 at the end.")] = True,
    smooth: Annotated[str, typer.Option(
        help="Gaussian smoothing of the predicted pdfs: 'none', 'auto' (width maximising the "
             "validation mean ln q) or a width in target units (dex).")] = "none",
    lr_schedule: Annotated[str | None, typer.Option(help="'step' (the paper's drop) or 'onecycle'.")] = None,
    amortised: Annotated[bool, typer.Option(
        "--amortised", help="One network for every union of the input groups of --inputs (objective ce); "
                            "predict a subset with 'galinfo predict RUN --subset NAME'.")] = False,
    subsets: Annotated[str | None, typer.Option(
        help="Amortised: focus input sets, separated by ';' (default: those of the paper's tuples and "
             "band studies that --inputs covers).")] = None,
) -> None:
    """Train a model (or resume the run in --out)."""
    from galinfo.models.inference import predict
    from galinfo.models.smoothing import parse_smooth
    from galinfo.models.training import train

    parse_smooth(smooth)  # a bad value fails now, not after the training

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    low, high = _range(target_range)
    run = train(
        dataset, out, inputs=inputs, objective=objective, preset=preset, progress=True,
        target=target, target_low=low, target_high=high, n_bins=bins, seed=seed, max_steps=max_steps,
        batch_size=batch_size, lr=lr, arch=arch, device=device, compile=compile or None,
        lr_schedule=lr_schedule, amortised=amortised or None,
        subsets=tuple(s.strip() for s in subsets.split(";") if s.strip()) if subsets else None,
    )
    if int(os.environ.get("RANK", "0")) != 0:  # torchrun: rank 0 reports and predicts
        return
    console = Console()
    import json

    history = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
    if history:
        best = min(history, key=lambda h: h["val_ce"])
        console.print(f"trained [bold]{run}[/]: best validation CE {best['val_ce']:.4f} nats at step {best['step']}")
    if predict_after and not amortised:
        console.print(f"wrote {predict(run, dataset, device=device, smooth=smooth)}")
    elif amortised:
        console.print(f"predict an input set with: galinfo predict {run} --subset NAME")


def predict_cmd(
    run: Run,
    dataset: Annotated[Path | None, typer.Option(help="Dataset to predict (default: the training dataset).")] = None,
    device: Annotated[str, typer.Option(help="'auto', 'cpu' or 'cuda[:N]'.")] = "cpu",
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Leave the (N, bins) pdf out of the file.")] = False,
    smooth: Annotated[str, typer.Option(
        help="Gaussian smoothing of the pdf: 'none', 'auto' (width maximising the validation mean "
             "ln q) or a width in target units (dex).")] = "none",
    subset: Annotated[str | None, typer.Option(
        help="Amortised runs: the input set to predict, a union of the run's input groups (e.g. 'I_g').")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Amortised runs: folder of the subset's predictions.h5 (default RUN/subsets/NAME).")] = None,
) -> None:
    """Write RUN/predictions.h5 (latent S, ln q(true bin | x), pdf and its mean/median/mode)."""
    import h5py

    from galinfo.models.inference import predict

    path = predict(run, dataset, device=device, store_pdf=not no_pdf, smooth=smooth, subset=subset, out=out)
    with h5py.File(path, "r") as f:
        width = float(f.attrs["pdf_smoothing"])
    Console().print(f"wrote {path}" + (f" (pdf smoothed with a Gaussian of sigma {width:.4g})" if width else ""))


def evaluate_cmd(
    run: Run,
    dataset: Annotated[Path | None, typer.Option(help="Dataset folder for per-class and per-bin rows "
                                                 "(default: the one the run was trained on).")] = None,
) -> None:
    """Print bias, sigma_MAD, eta and CRPS per split, then per class and in bins of log M* and r mag
    on the test split; write RUN/metrics.json."""
    from galinfo.models.inference import evaluate

    metrics = evaluate(run, dataset)
    cols = ("split", "n", "bias", "sigma_MAD", "eta", "CRPS", "mean ln q(true)")
    table = RichTable(title=f"{run} (pdf mean vs truth)")
    for col in cols:
        table.add_column(col, justify="right")
    for split in SPLITS:
        if split in metrics:
            m = metrics[split]
            table.add_row(split, str(m["n"]), f"{m['bias']:.4f}", f"{m['sigma_mad']:.4f}", f"{m['eta']:.4f}",
                          f"{m['crps']:.4f}", f"{m['mean_log_q_true']:.4f}")
    console = Console()
    console.print(table)
    groups = metrics.get("by_group")
    if groups is None:
        console.print("no per-class rows: the run's dataset is unknown (give --dataset)")
        return
    sub = RichTable(title="test split: per class and in bins")
    for col in ("group", "n", "bias", "sigma_MAD", "eta"):
        sub.add_column(col, justify="right")
    for label, m in groups.get("class", {}).items():
        sub.add_row(f"class {label}", str(m["n"]), f"{m['bias']:.4f}", f"{m['sigma_mad']:.4f}", f"{m['eta']:.4f}")
    for name, rows in groups.items():
        if name != "class":
            for m in rows:
                sub.add_row(f"{name} [{m['x_low']:g}, {m['x_high']:g})", str(m["n"]), f"{m['bias']:.4f}",
                            f"{m['sigma_mad']:.4f}", f"{m['eta']:.4f}")
    console.print(sub)


def register(app: typer.Typer) -> None:
    """Add ``train``, ``predict`` and ``evaluate`` to the main app."""
    app.command("train")(train_cmd)
    app.command("predict")(predict_cmd)
    app.command("evaluate")(evaluate_cmd)
