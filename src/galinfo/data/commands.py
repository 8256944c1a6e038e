"""CLI: ``galinfo import ...``, ``galinfo export npz`` and ``galinfo info``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

import_app = typer.Typer(help="Import a catalogue into a galinfo dataset folder.", no_args_is_help=True)
export_app = typer.Typer(help="Export a galinfo dataset to other formats.", no_args_is_help=True)

Out = Annotated[Path, typer.Argument(help="Output dataset folder (must not exist unless --overwrite).")]
Seed = Annotated[int, typer.Option(help="Seed of the stratified train/val/test split.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")]


def _summary(out: Path) -> None:
    from galinfo.data.dataset import Dataset

    ds = Dataset.open(out)
    prov = ds.manifest.get("provenance", {})
    dropped = prov.get("dropped") or {}
    why = ", ".join(f"{n} {reason}" for reason, n in dropped.items()) or "none"
    console = Console()
    console.print(
        f"wrote [bold]{out}[/]: {ds.n} galaxies from {prov.get('rows_in', ds.n)} rows; dropped: {why}"
    )
    masked = prov.get("masked") or {}
    console.print(f"masked values: {sum(sum(c.values()) for c in masked.values())}"
                  + ("" if masked else " (none)"))
    for column, counts in masked.items():
        console.print(f"  {column}: " + ", ".join(f"{n} {reason}" for reason, n in counts.items()),
                      soft_wrap=True, highlight=False)


@import_app.command("table")
def import_table_cmd(
    path: Annotated[Path, typer.Argument(help="FITS, ECSV, CSV or Parquet table.")],
    out: Out,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML mapping {data-model column: source column}.")
    ] = None,
    seed: Seed = 0,
    overwrite: Overwrite = False,
) -> None:
    """Import any table; columns named as in the data model are taken as they are."""
    from galinfo.data.importers import import_table

    _summary(import_table(path, out, mapping_path=mapping, seed=seed, overwrite=overwrite))


@import_app.command("na10")
def import_na10_cmd(
    path: Annotated[Path, typer.Argument(help="Nair & Abraham (2010) FITS table.")],
    out: Out,
    seed: Seed = 0,
    overwrite: Overwrite = False,
) -> None:
    """Import the Nair & Abraham (2010) catalogue (ugriz, z, LGM, r/g-band morphology)."""
    from galinfo.data.importers import import_na10

    _summary(import_na10(path, out, seed=seed, overwrite=overwrite))


@import_app.command("lcs")
def import_lcs_cmd(
    path: Annotated[Path, typer.Argument(help="LCS_all_size.fits of the Local Cluster Survey.")],
    out: Out,
    seed: Seed = 0,
    overwrite: Overwrite = False,
) -> None:
    """Import the Local Cluster Survey table (NSA ugriz, WISE W1-W3, iSEDfit masses)."""
    from galinfo.data.importers import import_lcs

    _summary(import_lcs(path, out, seed=seed, overwrite=overwrite))


@import_app.command("npz")
def import_npz_cmd(
    catalog: Annotated[Path, typer.Argument(help="The paper code's catalog.npz.")],
    out: Out,
    images: Annotated[Path | None, typer.Option(help="The paper code's images.npz.")] = None,
    overwrite: Overwrite = False,
) -> None:
    """Import the paper code's catalog.npz (+ images.npz)."""
    from galinfo.data.importers import import_paper_npz

    _summary(import_paper_npz(catalog, out, images_npz=images, overwrite=overwrite))


@export_app.command("npz")
def export_npz_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder.")],
    out: Annotated[Path, typer.Argument(help="Folder for catalog.npz (+ images.npz).")],
) -> None:
    """Export a dataset as the paper code's catalog.npz (+ images.npz)."""
    from galinfo.data.importers import export_paper_npz

    cat, img = export_paper_npz(dataset, out)
    Console().print(f"wrote {cat}" + (f" and {img}" if img else ""))


def info_cmd(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder.")],
    verify: Annotated[bool, typer.Option(help="Recompute the manifest checksums.")] = False,
) -> None:
    """Row counts per split and class, columns, available input sets, image cube shape."""
    import numpy as np

    from galinfo.data.dataset import Dataset
    from galinfo.data.schema import CLASSES, SPLITS

    ds = Dataset.open(dataset, verify=verify)
    console = Console()
    console.print(f"[bold]{ds.path}[/]  {ds.n} galaxies, schema v{ds.manifest['schema_version']}")
    counts = RichTable(title="galaxies per split and class")
    counts.add_column("split")
    for c in (*CLASSES, "all"):
        counts.add_column(c, justify="right")
    cls = np.asarray(ds.catalog["cls"]).astype(str)
    for s in SPLITS:
        in_split = ds.split == s
        counts.add_row(s, *(str(int((in_split & (cls == c)).sum())) for c in CLASSES), str(int(in_split.sum())))
    console.print(counts)
    sets = RichTable(title="input sets")
    sets.add_column("input set")
    sets.add_column("available")
    sets.add_column("detail")
    for name, (ok, detail) in ds.available_input_sets().items():
        sets.add_row(name, "[green]yes[/]" if ok else "[red]no[/]", detail)
    console.print(sets)
    shape = "x".join(str(s) for s in ds.image_shape) if ds.has_images else "none"
    console.print(f"image cube: {shape}")
    missing = {c: ds.n_missing(c) for c in ds.catalog.colnames}
    cols = ", ".join(
        f"{c}" + (f" ({m} missing)" if 0 < m < ds.n else " (empty)" if m == ds.n else "")
        for c, m in missing.items()
    )
    console.print(f"columns: {cols}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    from galinfo.models.import_command import import_predictions_cmd

    import_app.command("predictions")(import_predictions_cmd)
    app.add_typer(import_app, name="import")
    app.add_typer(export_app, name="export")
    app.command("info")(info_cmd)
