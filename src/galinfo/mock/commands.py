"""``galinfo mock``: generate the mock survey."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``mock`` command to the main app."""

    @app.command("mock")
    def mock(
        n: int = typer.Option(..., "--n", help="number of galaxies in the catalogue (after the flux limit)"),
        seed: int = typer.Option(..., "--seed", help="random seed; same seed -> same files"),
        out: Path = typer.Option(..., "--out", help="output dataset folder"),
        workers: int = typer.Option(1, "--workers", help="worker processes (does not change the result)"),
        resume: bool = typer.Option(False, "--resume", help="reuse finished chunks in OUT.partial"),
        dask: str | None = typer.Option(None, "--dask", help="dask.distributed scheduler address"),
        overwrite: bool = typer.Option(False, "--overwrite", help="replace OUT if it exists"),
        chunk_size: int = typer.Option(500, "--chunk-size", help="candidates per chunk (does not change the result)"),
        defects: str = typer.Option("none", "--defects",
                                    help="add real-survey catalogue defects: none or sdss (counts in the manifest)"),
    ) -> None:
        """Render a mock SDSS+WISE survey (catalogue, ugriz images, truth_dag.json) with GalSim."""
        import logging

        from galinfo.mock.config import MockConfig
        from galinfo.mock.generate import generate

        logging.basicConfig(level=logging.INFO, format="%(message)s")
        path = generate(n, seed, out, workers, resume=resume, dask_address=dask,
                        config=MockConfig(chunk_size=chunk_size, defects=defects), overwrite=overwrite, progress=True)  # fmt: skip
        typer.echo(f"wrote {path}")
