"""Do images beat photometry? ``ce`` models on ``I_ugriz`` vs ``M_ugriz`` on the mock survey.

Trains both models on the same dataset (by default a mock generated with ``galinfo mock``; the
claim to check needs >= 20,000 galaxies) and prints bias, sigma_MAD, eta, CRPS and the mean
ln q(true bin | x) of the test split, for the raw softmax pdfs and for the same pdfs smoothed with
the Gaussian chosen on the validation split (``galinfo predict --smooth auto``), and the paired
difference of ln q between the two models with its standard error.

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

import numpy as np

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
    ap.add_argument("--lr-drop-fraction", type=float, default=None,
                    help="fraction of --max-steps before the learning-rate drop (default: the config's 1/3)")
    ap.add_argument("--resume", action="store_true",
                    help="keep the runs in --out and continue them to --max-steps (exact resume)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from galinfo.data.dataset import Dataset
    from galinfo.models import evaluate, predict, train
    from galinfo.models.outputs import read_predictions

    ds = Dataset.open(args.dataset)
    print(f"{ds.path}: {ds.n} galaxies, images {ds.image_shape}")
    rows, log_q = [], {}
    for inputs, arch in (("I_ugriz", args.arch), ("M_ugriz", "")):
        run = args.out / inputs
        if run.exists() and not args.resume:
            shutil.rmtree(run)
        t0 = time.perf_counter()
        train(ds, run, inputs=inputs, objective="ce", preset=args.preset, arch=arch or None,
              max_steps=args.max_steps, seed=args.seed, device=args.device,
              lr_drop_fraction=args.lr_drop_fraction)
        seconds = time.perf_counter() - t0
        # the raw softmax, then the same pdfs smoothed with the Gaussian chosen on validation
        for smooth in (None, "auto"):
            predict(run, ds, device=args.device, smooth=smooth)
            pred = read_predictions(run)
            test = pred.mask("test")
            rows.append((inputs, pred.pdf_smoothing, evaluate(run)["test"], seconds))
            log_q[inputs, smooth] = dict(zip(pred.objid[test], pred.log_q_true[test], strict=True))
    print(f"\n{'inputs':<8} {'smooth':>6} {'n_test':>6} {'bias':>8} {'sigma_MAD':>9} {'eta':>7} {'CRPS':>7} "
          f"{'<ln q>':>7} {'train s':>7}")
    for inputs, width, m, t in rows:
        print(f"{inputs:<8} {width:6.4f} {m['n']:>6d} {m['bias']:8.4f} {m['sigma_mad']:9.4f} {m['eta']:7.4f} "
              f"{m['crps']:7.4f} {m['mean_log_q_true']:7.3f} {t:7.0f}")
    print("(smooth: sigma in dex of the Gaussian the pdf is convolved with, chosen on the validation split; "
          "0 = raw softmax)")
    metrics = {(inputs, width > 0): m for inputs, width, m, _ in rows}
    sharper = metrics["I_ugriz", False]["sigma_mad"] < metrics["M_ugriz", False]["sigma_mad"]
    print(f"\nI_ugriz {'beats' if sharper else 'does NOT beat'} M_ugriz in sigma_MAD of the raw pdf mean "
          f"({ds.n} galaxies{'' if ds.n >= 20000 else '; the claim needs >= 20,000'})")
    for smooth, label in ((None, "raw softmax"), ("auto", "validation-chosen smoothing")):
        img, mag = log_q["I_ugriz", smooth], log_q["M_ugriz", smooth]
        common = sorted(set(img) & set(mag))
        diff = np.array([img[o] - mag[o] for o in common])
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        verdict = "beats" if diff.mean() > 0 else "does NOT beat"
        print(f"I_ugriz {verdict} M_ugriz in mean cross-entropy with the {label}: "
              f"<ln q_I - ln q_M> = {diff.mean():+.4f} +- {se:.4f} nats (paired, {len(diff)} test galaxies; "
              f"median {np.median(diff):+.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
