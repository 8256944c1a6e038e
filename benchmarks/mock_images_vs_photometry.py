"""Do images beat photometry? ``ce`` models on ``I_ugriz`` vs ``M_ugriz`` on the mock survey.

Trains both models on the same dataset (by default a mock generated with ``galinfo mock``; the
claim to check needs >= 20,000 galaxies) and prints bias, sigma_MAD, eta, CRPS and the mean
ln q(true bin | x) of the test split, and whether I_ugriz has the lower sigma_MAD.

    galinfo mock --n 20000 --seed 0 --out runs/mock20k            # the mock (another package)
    .venv/bin/python benchmarks/mock_images_vs_photometry.py runs/mock20k --max-steps 20000

The image model is ``inception_small`` on a CPU and should be ``inception_paper`` on a GPU
(``--arch inception_paper --device cuda``). On 2 CPU cores, 4,000 steps take about 40 minutes;
``--resume`` continues both runs to a larger ``--max-steps``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path, help="dataset folder with images (e.g. a galinfo mock)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/mock_images_vs_photometry")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--arch", default="", help="image architecture (default from the preset)")
    ap.add_argument("--preset", default="cpu-small")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs in --out and continue them to --max-steps (exact resume)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from galinfo.data.dataset import Dataset
    from galinfo.models import evaluate, predict, train

    ds = Dataset.open(args.dataset)
    print(f"{ds.path}: {ds.n} galaxies, images {ds.image_shape}")
    results = {}
    for inputs, arch in (("I_ugriz", args.arch), ("M_ugriz", "")):
        run = args.out / inputs
        if run.exists() and not args.resume:
            shutil.rmtree(run)
        t0 = time.perf_counter()
        train(ds, run, inputs=inputs, objective="ce", preset=args.preset, arch=arch or None,
              max_steps=args.max_steps, seed=args.seed, device=args.device)
        predict(run, ds, device=args.device)
        results[inputs] = (evaluate(run)["test"], time.perf_counter() - t0)
    print(f"\n{'inputs':<8} {'n_test':>6} {'bias':>8} {'sigma_MAD':>9} {'eta':>7} {'CRPS':>7} {'<ln q>':>7} {'s':>6}")
    for inputs, (m, t) in results.items():
        print(f"{inputs:<8} {m['n']:>6d} {m['bias']:8.4f} {m['sigma_mad']:9.4f} {m['eta']:7.4f} "
              f"{m['crps']:7.4f} {m['mean_log_q_true']:7.3f} {t:6.0f}")
    img, mag = results["I_ugriz"][0], results["M_ugriz"][0]
    sharper = img["sigma_mad"] < mag["sigma_mad"]
    likelier = img["mean_log_q_true"] > mag["mean_log_q_true"]  # higher <ln q> = lower cross-entropy
    print(f"\nI_ugriz {'beats' if sharper else 'does NOT beat'} M_ugriz in sigma_MAD and "
          f"{'beats' if likelier else 'does NOT beat'} it in mean cross-entropy "
          f"({ds.n} galaxies{'' if ds.n >= 20000 else '; the claim needs >= 20,000'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
