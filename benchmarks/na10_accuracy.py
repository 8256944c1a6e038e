"""Accuracy of the cross-entropy (``ce``) models on the real NA10 catalogue, against scikit-learn.

For each input set, a ``ce`` model (``cpu-small`` preset, MLP) and a
``HistGradientBoostingRegressor`` are trained on the same training galaxies and scored on the same
test galaxies (those with every input present and log M* inside the bin range [6, 12.5]). The model's
point estimate is its pdf mean. Prints bias, sigma_MAD, eta (|Δ| > 3 sigma_MAD) and CRPS (models
only: the regressor gives no pdf), and whether the ce model on ``M_ugriz|zspec`` matches or beats the
regressor's sigma_MAD.

Run (about 3-5 minutes on 2 CPU cores)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/na10_accuracy.py
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_NA10 = ROOT.parent / "shared/data/real/na10/Nair-Abraham-2010-edited-for-class-all.fits"
INPUT_SETS = ("M_ugriz|zspec", "M_ugriz", "Morph", "M_ugriz|Morph", "M_ugriz|Morph|zspec")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--na10", type=Path, default=DEFAULT_NA10)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/na10")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--arch", default="mlp_small")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--inputs", nargs="*", default=list(INPUT_SETS))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    if not args.na10.exists():
        print(f"NA10 catalogue not found at {args.na10}; nothing to do")
        return 0

    from sklearn.ensemble import HistGradientBoostingRegressor

    from galinfo.data.dataset import Dataset
    from galinfo.data.importers import import_na10
    from galinfo.metrics import crps, summarize
    from galinfo.models import evaluate, predict, train
    from galinfo.models.outputs import read_predictions

    ds = Dataset.open(import_na10(args.na10, args.out / "dataset", seed=args.seed, overwrite=True))
    print(f"NA10: {ds.n} galaxies ({ds.manifest['n_per_split']}); torch threads {torch.get_num_threads()}")
    header = f"{'input set':<22} {'model':<10} {'n_test':>6} {'bias':>8} {'sigma_MAD':>9} {'eta':>7} {'CRPS':>7} {'fit s':>7}"
    rows_out = [header, "-" * len(header)]
    sigma = {}
    for name in args.inputs:
        run = args.out / f"run_{name.replace('|', '+')}"
        if run.exists():  # a fresh run each time: a benchmark measures, it does not resume
            import shutil

            shutil.rmtree(run)
        t0 = time.perf_counter()
        train(ds, run, inputs=name, objective="ce", preset="cpu-small", arch=args.arch,
              max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
              patience=args.patience, seed=args.seed)
        t_nn = time.perf_counter() - t0
        predict(run, ds)
        evaluate(run)
        pred = read_predictions(run)
        test = (pred.split == "test") & np.isfinite(pred.log_q_true)  # target inside the bins
        trn = (pred.split == "train") & np.isfinite(pred.log_q_true)
        m_nn = summarize(pred.pdf_mean[test], pred.target[test])
        m_nn["crps"] = float(np.mean(crps(pred.pdf[test], pred.bins, pred.target[test])))

        ds_rows = np.searchsorted(ds.objid, pred.objid, sorter=np.argsort(ds.objid))
        ds_rows = np.argsort(ds.objid)[ds_rows]
        assert np.array_equal(ds.objid[ds_rows], pred.objid)
        x = ds.features(name, ds_rows)
        t0 = time.perf_counter()
        hgb = HistGradientBoostingRegressor(random_state=args.seed).fit(x[trn], pred.target[trn])
        t_hgb = time.perf_counter() - t0
        m_hgb = summarize(hgb.predict(x[test]), pred.target[test])
        sigma[name] = (m_nn["sigma_mad"], m_hgb["sigma_mad"])
        for label, m, t in (("ce model", m_nn, t_nn), ("HGB", m_hgb, t_hgb)):
            c = f"{m['crps']:7.4f}" if np.isfinite(m["crps"]) else f"{'-':>7}"
            rows_out.append(f"{name:<22} {label:<10} {m['n']:>6d} {m['bias']:8.4f} {m['sigma_mad']:9.4f} "
                            f"{m['eta']:7.4f} {c} {t:7.1f}")
        print(rows_out[-2])
        print(rows_out[-1])
    print()
    print("\n".join(rows_out))
    key = "M_ugriz|zspec"
    if key in sigma:
        nn, hgb = sigma[key]
        verdict = "PASS" if nn <= hgb else "FAIL"
        print(f"\n{verdict}: sigma_MAD of the ce model on {key} = {nn:.4f} vs HistGradientBoostingRegressor "
              f"{hgb:.4f} (same train/test galaxies, same run)")
        return 0 if nn <= hgb else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
