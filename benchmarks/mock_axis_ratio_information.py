"""How much stellar-mass information the axis ratio adds beyond photometry (and z) in a mock.

Fits scikit-learn's HistGradientBoostingRegressor for log M* on the train+val split from several
column sets and prints sigma_MAD and the mean squared error on the test split. The mock's designed
answer (a) (truth_dag.json) needs ``mags + z + ab_r`` to beat ``mags + z``; ``true_cosi`` (the true
inclination) shows the ceiling.

    .venv/bin/python benchmarks/mock_axis_ratio_information.py runs/mock20k
    .venv/bin/python benchmarks/mock_axis_ratio_information.py --generate 20000 --grey-coeff 0   # without grey dust
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

MAGS = [f"mag_{b}" for b in "ugriz"]
MORPH = [f"{q}_{b}" for b in "ugriz" for q in ("r50", "r90", "ab", "sersic_n")]
COLUMN_SETS = {
    "mags": MAGS,
    "mags + ab_r": [*MAGS, "ab_r"],
    "mags + morphology": MAGS + MORPH,
    "mags + z": [*MAGS, "z"],
    "mags + z + ab_r": [*MAGS, "z", "ab_r"],
    "mags + z + true_cosi": [*MAGS, "z", "true_cosi"],
}


def report(path: Path, seed: int) -> None:
    from astropy.table import Table
    from sklearn.ensemble import HistGradientBoostingRegressor

    from galinfo.metrics import sigma_mad

    t = Table.read(path / "catalog.fits")
    y = np.asarray(t["logmstar"], dtype=float)
    split = np.asarray(t["split"]).astype(str)
    fit, test = split != "test", split == "test"
    print(f"{path}: {len(t)} galaxies, {int(test.sum())} in the test split")
    print(f"  {'columns':<24}{'sigma_MAD':>10}{'MSE (dex^2)':>13}")
    for name, cols in COLUMN_SETS.items():
        x = np.column_stack([np.asarray(t[c], dtype=float) for c in cols])
        model = HistGradientBoostingRegressor(max_iter=800, learning_rate=0.05, random_state=seed)
        pred = model.fit(x[fit], y[fit]).predict(x[test])
        print(f"  {name:<24}{sigma_mad(pred, y[test]):>10.4f}{np.mean((pred - y[test]) ** 2):>13.5f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("datasets", type=Path, nargs="*", help="mock dataset folders")
    ap.add_argument("--generate", type=int, default=0, help="generate a mock of this many galaxies first")
    ap.add_argument("--grey-coeff", type=float, default=None, help="dust_grey_coeff of the generated mock")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    for path in args.datasets:
        report(path, args.seed)
    if args.generate:
        from galinfo.mock import MockConfig, generate

        cfg = MockConfig() if args.grey_coeff is None else MockConfig(dust_grey_coeff=args.grey_coeff)
        with tempfile.TemporaryDirectory() as tmp:
            path = generate(n=args.generate, seed=args.seed, out=Path(tmp) / "mock", workers=2, config=cfg)
            print(f"generated with dust_grey_coeff = {cfg.dust_grey_coeff}")
            report(path, args.seed)


if __name__ == "__main__":
    main()
