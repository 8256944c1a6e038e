"""Do images beat photometry? ``ce`` models on ``I_ugriz`` vs ``M_ugriz`` on the mock survey.

Trains both models on the same dataset (by default a mock generated with ``galinfo mock``; the
claim to check needs >= 20,000 galaxies) and prints bias, sigma_MAD, eta, CRPS and the mean
ln q(true bin | x) of the test split, for the raw softmax pdfs and for the same pdfs smoothed with
the Gaussian chosen on the validation split (``galinfo predict --smooth auto``), and the paired
difference of ln q between the two models with its standard error. Without training:
``--ensemble OUT [OUT ...]`` compares the mixtures of several realisations' pdfs, and
``--holdout DATASET`` applies finished runs to an independent dataset (e.g. a mock of another seed)
as a larger test set.

    galinfo mock --n 20000 --seed 0 --out runs/mock20k            # the mock
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
    ap.add_argument("--ensemble", type=Path, nargs="+", default=None, metavar="OUT",
                    help="train nothing: compare the mixtures of the pdfs stored in these --out folders")
    ap.add_argument("--holdout", type=Path, default=None, metavar="DATASET",
                    help="train nothing: apply the finished runs (in --out, or in every --ensemble folder) to "
                         "an independent dataset, e.g. a mock of another seed, and compare on all its galaxies")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.holdout:
        return holdout(args.ensemble or [args.out], args.holdout, args.device)
    if args.ensemble:
        return ensemble(args.ensemble)

    from galinfo.data.dataset import Dataset
    from galinfo.models import evaluate, predict, train
    from galinfo.models.outputs import read_predictions

    ds = Dataset.open(args.dataset)
    print(f"{ds.path}: {ds.n} galaxies, images {ds.image_shape}")
    rows, preds = [], {}
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
            pred = preds[inputs, smooth] = read_predictions(predict(run, ds, device=args.device, smooth=smooth))
            rows.append((inputs, pred.pdf_smoothing, evaluate(run)["test"], seconds))
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
        objid, img, mag = test_log_q(preds["I_ugriz", smooth], preds["M_ugriz", smooth])
        verdict = "beats" if img.mean() > mag.mean() else "does NOT beat"
        print(f"I_ugriz {verdict} M_ugriz in mean cross-entropy with the {label}: {paired(img, mag)}")
    by_magnitude(ds, *test_log_q(preds["I_ugriz", "auto"], preds["M_ugriz", "auto"]))
    return 0


def test_log_q(pred_img, pred_mag) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(objid, ln q of the image model, ln q of the photometry model) of the test galaxies both predict."""
    test = pred_img.mask("test")
    objid = np.intersect1d(pred_img.objid[test], pred_mag.objid[pred_mag.mask("test")])
    return objid, pred_img.log_q_true[pred_img.align(objid)], pred_mag.log_q_true[pred_mag.align(objid)]


def paired(log_q_img: np.ndarray, log_q_mag: np.ndarray, what: str = "test galaxies") -> str:
    diff = log_q_img - log_q_mag
    return (f"<ln q_I - ln q_M> = {diff.mean():+.4f} +- {diff.std(ddof=1) / np.sqrt(len(diff)):.4f} nats "
            f"(paired, {len(diff)} {what}; median {np.median(diff):+.4f})")


def mixture_log_q(preds: list, objid: np.ndarray) -> np.ndarray:
    """ln q(true bin) of the equal-weight mixture of the pdfs of ``preds`` (realisations), for ``objid``."""
    pdf = sum(pred.pdf[pred.align(objid)].astype(np.float64) for pred in preds)
    pdf /= pdf.sum(axis=1, keepdims=True)
    ref = preds[0]
    true_bin = ref.bins.index(ref.target[ref.align(objid)])
    return np.log(pdf[np.arange(len(objid)), true_bin])


def ensemble(outs: list[Path]) -> int:
    """Test <ln q> of the equal-weight mixture of each model's pdfs over several realisations."""
    from galinfo.models.outputs import read_predictions

    mixed = {}
    for inputs in ("I_ugriz", "M_ugriz"):
        preds = [read_predictions(out / inputs) for out in outs]
        ref = preds[0]
        objid = ref.objid[ref.mask("test") & np.isfinite(ref.target)]
        mixed[inputs] = mixture_log_q(preds, objid)
        widths = ", ".join(f"{p.pdf_smoothing:.4g}" for p in preds)
        print(f"{inputs}: mixture of {len(preds)} realisations (stored pdfs smoothed by {widths}): "
              f"test <ln q> {mixed[inputs].mean():.4f}")
    print(f"I_ugriz against M_ugriz, mixtures: {paired(mixed['I_ugriz'], mixed['M_ugriz'])}")
    return 0


def holdout(outs: list[Path], dataset: Path, device: str) -> int:
    """Paired <ln q_I - ln q_M> on every galaxy of an independent dataset, for the raw softmax and for
    the smoothing width each run chose on its own validation split; then for the mixture of the runs."""
    import warnings

    from galinfo.data.dataset import Dataset
    from galinfo.models import predict
    from galinfo.models.outputs import read_predictions

    ds = Dataset.open(dataset)
    print(f"holdout {ds.path}: {ds.n} galaxies, none seen in training")
    smoothed: dict[str, list] = {"I_ugriz": [], "M_ugriz": []}
    for out in outs:
        log_q = {}
        for inputs in ("I_ugriz", "M_ugriz"):
            chosen = read_predictions(out / inputs).config.get("pdf_smoothing", {})
            if chosen.get("chosen_on") != "val":
                raise SystemExit(f"{out / inputs}: predictions were not smoothed with --smooth auto; "
                                 "rerun the benchmark on this --out first")
            run = out / f"holdout-{ds.path.name}" / inputs
            shutil.rmtree(run, ignore_errors=True)
            shutil.copytree(out / inputs, run, ignore=shutil.ignore_patterns("predictions.h5", "metrics.json"))
            for smooth in (None, chosen["width"]):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "predicting on another dataset": that is the point
                    pred = read_predictions(predict(run, ds, device=device, smooth=smooth))
                log_q[inputs, smooth is None] = pred.log_q_true[pred.align(ds.objid)]  # every galaxy, or an error
                if smooth is not None:
                    smoothed[inputs].append(pred)
        for raw, label in ((True, "raw softmax"), (False, "smoothed (width from the run's validation)")):
            print(f"{out.name}: {label}: {paired(log_q['I_ugriz', raw], log_q['M_ugriz', raw], 'holdout galaxies')}")
    if len(outs) > 1:
        mixed = {inputs: mixture_log_q(preds, ds.objid) for inputs, preds in smoothed.items()}
        text = paired(mixed["I_ugriz"], mixed["M_ugriz"], "holdout galaxies")
        print(f"mixture of the {len(outs)} runs (smoothed): {text}")
    return 0


def by_magnitude(ds, objid: np.ndarray, log_q_img: np.ndarray, log_q_mag: np.ndarray,
                 edges=(10.0, 15.5, 16.5, 17.2, 18.0)) -> None:
    """Paired <ln q_I - ln q_M> (smoothed) in bins of r magnitude, next to the fraction of galaxies
    whose r-band R90 reaches beyond the half-width of the cutout (flux the image cannot hold)."""
    from astropy.table import Table

    from galinfo.info.pipeline import add_catalog_columns

    t = add_catalog_columns(Table({"objid": objid, "diff": log_q_img - log_q_mag}), ds, ("mag_r", "r90_r"))
    diff, mag_r, r90 = (np.asarray(t[c], dtype=float) for c in ("diff", "mag_r", "r90_r"))
    scale = ds.manifest.get("provenance", {}).get("config", {}).get("pixel_scale", 0.396)
    half_width = ds.image_shape[-1] / 2 * scale
    print(f"\nsmoothed pdfs, by r magnitude (R90 vs the cutout half-width {half_width:.1f} arcsec):")
    print(f"{'r mag':<11} {'n':>5} {'<ln q_I - ln q_M>':>19} {'frac R90 > half-width':>22}")
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        sel = (mag_r >= lo) & (mag_r < hi)
        if sel.sum() < 2:
            continue
        d = diff[sel]
        print(f"{lo:4.1f}-{hi:4.1f}  {sel.sum():>5d} {d.mean():+9.4f} +- {d.std(ddof=1) / np.sqrt(sel.sum()):.4f} "
              f"{np.mean(r90[sel] > half_width):22.2f}")


if __name__ == "__main__":
    sys.exit(main())
