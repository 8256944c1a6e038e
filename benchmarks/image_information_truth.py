"""Do the image encoders find information that reaches log M* through one visual property?

Each case is a set of synthetic cutouts (``galinfo.mock.known_images``) in which log M* reaches the
image through one property (axis ratio at fixed area, size, a colour gradient at fixed colours, an
azimuthal m = 2 or m = 1 structure that leaves every circular curve of growth unchanged, or a null),
so that I(log M*; image) is known in closed form. For each case the table gives

- ``truth``: I(bin of log M*; image) for the 520 target bins, nats (quadrature);
- ``oracle``: the same ce recipe given the property itself as a catalogue input (it rides in the
  ``z`` column, input set ``zspec``): what any 520-bin model loses at this sample size;
- one row per image encoder (default: the CPU presets' ``shape_cnn`` and ``aperture_mlp``), input
  set ``I_ugriz``.

Estimates are the test-split mean of ln q(true bin | x) - ln p(true bin) with the exact binned
prior, in nats, with the standard error over galaxies and the paired difference to the oracle.
The recipe is the quickstart's information models' (one-cycle rate, batch 256, Gaussian label
smoothing of 1 bin, weight decay 1e-3, early stopping on validation). CPU time is per model.

    .venv/bin/python benchmarks/image_information_truth.py                      # all cases
    .venv/bin/python benchmarks/image_information_truth.py --cases azimuthal_m2 null --n 4000
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def build_dataset(case: str, n: int, sigma_noise: float, seed: int, out: Path) -> Path:
    """A galinfo dataset of one case (kept between runs: the folder name holds every parameter)."""
    from astropy.table import Table

    from galinfo.data.dataset import write_dataset
    from galinfo.data.schema import BANDS, COLUMNS, MORPH_COLUMNS, WISE_BANDS
    from galinfo.mock.known_images import BAND_FLUX_RATIO, known_information_sample

    path = out / f"{case}-n{n}-s{sigma_noise:g}-seed{seed}"
    if (path / "manifest.json").exists():
        return path
    sample = known_information_sample(case, n, sigma_noise, seed)
    rng = np.random.default_rng([seed, 2])
    split = np.array(["train", "val", "test"])[rng.choice(3, size=n, p=[0.7, 0.1, 0.2])]
    flux_r = sample["images"][:, 2].sum(axis=(1, 2)).clip(1e-3)
    cols: dict[str, np.ndarray] = {
        "objid": np.arange(1, n + 1, dtype=np.int64), "split": split, "logmstar": sample["y"],
        "z": sample["value"],  # the oracle's catalogue input (input set zspec)
        "ebv": np.zeros(n), "cls": np.full(n, "other"),
    }
    for k, b in enumerate(BANDS):
        cols[f"mag_{b}"] = 22.5 - 2.5 * np.log10(flux_r * BAND_FLUX_RATIO[k])
        cols[f"magerr_{b}"] = np.full(n, 0.01)
    for c in (*WISE_BANDS, *(f"{w}err" for w in WISE_BANDS), *MORPH_COLUMNS):
        cols[c] = np.full(n, np.nan)
    table = Table({c.name: cols[c.name] for c in COLUMNS})
    write_dataset(path, table, sample["images"], provenance={"known_images": {
        "case": case, "n": n, "sigma_noise": sigma_noise, "seed": seed}})
    return path


def train_and_score(dataset: Path, inputs: str, arch: str, out: Path, max_steps: int, seed: int) -> dict:
    """Train one ce model with the quickstart's recipe; its test-split information (exact prior)."""
    from galinfo.mock.known_images import exact_prior
    from galinfo.models import predict, train
    from galinfo.models.outputs import read_predictions

    run = out / f"{inputs.replace('|', '+')}-{arch or 'default'}"
    t0 = time.process_time()
    if not (run / "predictions.h5").exists():
        overrides = dict(eval_every=100, checkpoint_every=100, lr_schedule="onecycle", label_sigma=1.0,
                         weight_decay=1e-3, batch_size=256, max_steps=max_steps, seed=seed)
        if arch:
            overrides["arch"] = arch
        train(dataset, run, inputs=inputs, objective="ce", preset="cpu-small", **overrides)
        predict(run)
    cpu_s = time.process_time() - t0
    pred = read_predictions(run / "predictions.h5")
    test = pred.split == "test"
    bins = pred.bins
    idx = bins.index(pred.target[test])
    i = pred.log_q_true[test] - np.log(exact_prior(bins.edges)[idx])
    return {"i": i, "cpu_s": cpu_s, "edges": bins.edges}


def main(argv: list[str] | None = None) -> int:
    from galinfo.mock.known_images import PROPERTIES, binned_information

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(PROPERTIES), choices=list(PROPERTIES))
    ap.add_argument("--encoders", nargs="+", default=["shape_cnn", "aperture_mlp"])
    ap.add_argument("--n", type=int, default=8000, help="galaxies per case (70/10/20 train/val/test)")
    ap.add_argument("--sigma-noise", type=float, default=0.7,
                    help="noise of theta: I = 0.5 ln(1 + 1/sigma^2) nats (0.7 -> 0.556)")
    ap.add_argument("--max-steps", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/image_information_truth")
    ap.add_argument("--json", type=Path, default=None, help="also write the table here")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for case in args.cases:
        ds = build_dataset(case, args.n, args.sigma_noise, args.seed, args.out / "data")
        runs = args.out / "runs" / ds.name
        oracle = train_and_score(ds, "zspec", "", runs, args.max_steps, args.seed)
        truth = binned_information(args.sigma_noise, oracle["edges"]) if PROPERTIES[case].informative else 0.0
        n_test = len(oracle["i"])
        rows.append({"case": case, "model": "oracle (property as input)", "i": float(oracle["i"].mean()),
                     "se": float(oracle["i"].std(ddof=1) / np.sqrt(n_test)), "truth": truth,
                     "minus_oracle": 0.0, "se_paired": 0.0, "cpu_s": oracle["cpu_s"]})
        for enc in args.encoders:
            r = train_and_score(ds, "I_ugriz", enc, runs, args.max_steps, args.seed)
            d = r["i"] - oracle["i"]
            rows.append({"case": case, "model": enc, "i": float(r["i"].mean()),
                         "se": float(r["i"].std(ddof=1) / np.sqrt(n_test)), "truth": truth,
                         "minus_oracle": float(d.mean()), "se_paired": float(d.std(ddof=1) / np.sqrt(n_test)),
                         "cpu_s": r["cpu_s"]})
        print_table(rows[-1 - len(args.encoders):], header=case == args.cases[0])
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def print_table(rows: list[dict], header: bool) -> None:
    if header:
        print("| case | model | truth (nats) | estimate (SE) | estimate - oracle (paired SE) | "
              "estimate - truth | CPU s |")
        print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['model']} | {r['truth']:.3f} | {r['i']:+.3f} ({r['se']:.3f}) | "
              f"{r['minus_oracle']:+.3f} ({r['se_paired']:.3f}) | {r['i'] - r['truth']:+.3f} | {r['cpu_s']:.0f} |",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
