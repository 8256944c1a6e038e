"""CLI: ``galinfo build sdss``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from galinfo.errors import ConfigError

build_app = typer.Typer(help="Build a galinfo dataset from survey archives.", no_args_is_help=True)


def _service_factory():
    """The service a CLI build uses (None: the default astroquery one). Tests replace this seam."""
    return None


@build_app.command("sdss")
def sdss_cmd(
    out: Annotated[Path, typer.Argument(help="Output dataset folder; resumable work goes to OUT.work.")],
    where: Annotated[str | None, typer.Option(
        help="Selection on SkyServer columns, e.g. 'z < 0.1 AND petroMag_r < 17.77'.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most N galaxies.")] = None,
    objids: Annotated[Path | None, typer.Option(help="Table (FITS/ECSV/CSV) with an objid column.")] = None,
    coords: Annotated[Path | None, typer.Option(help="Table with ra, dec columns (deg).")] = None,
    frames: Annotated[Path | None, typer.Option(
        help="Local mirror of corrected frames (frame-*.fits[.bz2]); nothing is downloaded then.")] = None,
    dr: Annotated[int, typer.Option(help="SDSS data release.")] = 17,
    chunk_size: Annotated[int, typer.Option(help="Galaxies per resumable chunk.")] = 1000,
    workers: Annotated[int, typer.Option(help="Parallel frame downloads (all under one rate limit).")] = 4,
    wise_radius: Annotated[float, typer.Option(help="ALLWISE match radius, arcsec.")] = 3.0,
    images: Annotated[bool, typer.Option("--images/--no-images", help="Cut ugriz images (needs frames).")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the stratified train/val/test split.")] = 0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the queries and the estimated "
                                                            "download; no network.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing OUT.")] = False,
) -> None:
    """SDSS Petrosian ugriz, spec-z, E(B-V), morphology, MPA-JHU masses, ALLWISE W1-W3 and 64x64
    ugriz cutouts into a dataset (see docs/sdss.md)."""
    from galinfo.build.sdss import BuildOptions, Selection, build_sdss, read_selection_file
    from galinfo.build.sdss import dry_run as plan

    if sum(x is not None for x in (where, objids, coords)) > 1:
        raise ConfigError("give at most one of --where, --objids and --coords")
    if objids is not None:
        sel = read_selection_file(objids, "objids", limit)
    elif coords is not None:
        sel = read_selection_file(coords, "coords", limit)
    else:
        sel = Selection(where=where, limit=limit)
    opts = BuildOptions(data_release=dr, chunk_size=chunk_size, workers=workers, wise_radius_arcsec=wise_radius,
                        images=images, seed=seed, frames_dir=str(frames) if frames else None)
    if dry_run:
        typer.echo(plan(sel, opts))
        return
    path = build_sdss(out, sel, opts, service=_service_factory(), overwrite=overwrite, progress=True)
    from galinfo.data.commands import _summary

    _summary(path)
    Console().print(f"resumable work and caches: {path.parent / (path.name + '.work')} (safe to delete)")


def register(app: typer.Typer) -> None:
    """Add ``galinfo build`` to the main app."""
    app.add_typer(build_app, name="build")
