"""Pointwise PID on real galaxies: Nair & Abraham (2010), <M_ugriz, Morph> and <M_ugriz|Morph, zspec>.

Catalogue-level inputs only (NA10 has no images and no WISE), so the pointwise MI comes from
``estimate_pointwise_mi`` (5-fold cross-fitted MLP over the paper's 520 bins of log M*), not from
trained deep models. Every galaxy with all inputs and 6 <= log M* <= 12.5 is used, each with an
out-of-sample value; the five distinct models are fitted once (``plan_models``) on the same folds.

Run (about 5 minutes on 2 cores):
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/na10_pid.py [--dataset DIR | --fits FILE] [--out DIR]
By default it imports ../shared/data/real/na10/Nair-Abraham-2010-edited-for-class-all.fits into a
temporary folder (the same as ``galinfo import na10 FILE OUT``) and writes tables and figures to
benchmarks/out/na10_pid/. Prints averaged atoms (nats) with 95 % bootstrap intervals per class.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from galinfo.data.binning import TargetBins
from galinfo.info import TupleSpec, binned, per_galaxy_table, plan_models, summarize
from galinfo.info.estimate import estimate_pointwise_mi
from galinfo.info.pipeline import BIN_COLUMNS, add_catalog_columns
from galinfo.info.plots import plot_atom_bars, plot_stack
from galinfo.info.table import write_table

DEFAULT_FITS = Path(__file__).resolve().parents[1] / "../shared/data/real/na10/Nair-Abraham-2010-edited-for-class-all.fits"
TUPLES = (TupleSpec("M_ugriz", "Morph"), TupleSpec("M_ugriz|Morph", "zspec"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, help="an imported NA10 dataset folder")
    ap.add_argument("--fits", type=Path, default=DEFAULT_FITS.resolve())
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/na10_pid"))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    from galinfo.data.dataset import Dataset

    with tempfile.TemporaryDirectory() as tmp:
        if args.dataset is None:
            if not args.fits.exists():
                print(f"skipped: NA10 catalogue not found at {args.fits}")
                return
            from galinfo.data.importers import import_na10

            args.dataset = import_na10(args.fits, Path(tmp) / "na10", seed=args.seed)
        ds = Dataset.open(args.dataset)
        bins = TargetBins()
        models = plan_models(TUPLES)
        rows = np.arange(ds.n)
        for m in models:
            rows = ds.complete_rows(m, rows)
        y = ds.column("logmstar", rows)
        ok = (y >= bins.low) & (y <= bins.high)
        rows, y = rows[ok], y[ok]
        print(f"NA10: {len(rows)} of {ds.n} galaxies have every input and 6 <= log M* <= 12.5")
        pmi = {}
        for m in models:
            t0 = time.perf_counter()
            X = ds.features(m, rows)
            pmi[m] = estimate_pointwise_mi(X, y, bins=bins, n_folds=args.folds, seed=args.seed)
            print(f"  {m:<22} {X.shape[1]:2d} features  mean i = {pmi[m].mean():.4f} nats  "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)

        args.out.mkdir(parents=True, exist_ok=True)
        summaries = {}
        for spec in TUPLES:
            i1, i2, i12 = (pmi[m] for m in spec.models)
            t = per_galaxy_table(ds.objid[rows], i1, i2, i12,
                                 extra={"split": ds.split[rows], "logmstar": y})
            t = add_catalog_columns(t, ds)
            t.meta.update(source1=spec.source1, source2=spec.source2, union=spec.union)
            slug = spec.label.strip("<>").replace(", ", "__").replace("|", "+")
            write_table(t, args.out / f"pid_{slug}.fits")
            s = summarize(t, n_boot=args.n_boot, seed=args.seed)
            summaries[spec.label] = s
            write_table(s, args.out / f"summary_{slug}.ecsv")
            for column, width in BIN_COLUMNS.items():
                b = binned(t, column, width=width, min_count=50, n_boot=args.n_boot, seed=args.seed)
                write_table(b, args.out / f"binned_{slug}_{column}.ecsv")
                plot_stack(b, args.out / f"stack_{slug}_{column}", source1=spec.source1,
                           source2=spec.source2, title=f"NA10 {spec.label}")
            print(f"\n{spec.label}  (nats; 95 % bootstrap intervals; {args.n_boot} resamples)")
            print(f"{'group':<9}{'n':>6}" + "".join(f"{q:>24}" for q in ("i12", "red", "unq1", "unq2", "syn")))
            for r in s:
                cells = "".join(f"{r[q]:+8.3f} [{r[q + '_lo']:+.3f},{r[q + '_hi']:+.3f}]"
                                for q in ("i12", "red", "unq1", "unq2", "syn"))
                print(f"{r['group']:<9}{r['n']:6d}{cells}")
            r0 = s[0]
            print(f"cross-check, MMI on averages (all): red {r0['mmi_red']:.3f} unq1 {r0['mmi_unq1']:.3f} "
                  f"unq2 {r0['mmi_unq2']:.3f} syn {r0['mmi_syn']:.3f}")
        plot_atom_bars(summaries, args.out / "bars", title="NA10: averaged atoms")
        print(f"\ntables and figures in {args.out}")


if __name__ == "__main__":
    sys.exit(main())
