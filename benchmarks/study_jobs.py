"""Wall time of a quickstart-like study with ``--jobs 1`` against ``--jobs 2`` (same machine, same run).

The mock is generated once (not timed); then the study's steps (models, KNN, decompositions,
causal tests, discovery, report) run from that dataset twice, in one process and on two worker
processes, into separate folders. Prints a table: both times, their ratio (target >= 1.5 on 2 idle
cores) and the largest relative difference between the two results.json files' numbers::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_jobs.py              # the quickstart's sizes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/study_jobs.py --n 1000 --max-steps 100 --image-max-steps 50
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from galinfo.study.config import DatasetSpec, load_preset
from galinfo.study.report import results_numbers
from galinfo.study.runner import Study


def max_relative_difference(a: Path, b: Path) -> float:
    """Largest |x - y| / max(|x|, 1e-12) over the numbers two results.json files share (NaN = NaN)."""
    na, nb = results_numbers(json.loads(a.read_text())), results_numbers(json.loads(b.read_text()))
    if na.keys() != nb.keys():
        return math.inf
    worst = 0.0
    for k, x in na.items():
        y = nb[k]
        if math.isnan(x) and math.isnan(y):
            continue
        worst = max(worst, abs(x - y) / max(abs(x), 1e-12))
    return worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=None, help="mock galaxies (default: the quickstart's)")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="tabular training steps, dedicated and amortised (default: the quickstart's)")
    ap.add_argument("--image-max-steps", type=int, default=None,
                    help="image training steps, dedicated and amortised (default: the quickstart's)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of the concurrent run")
    ap.add_argument("--out", type=Path, default=None, help="working folder (default: a temporary one)")
    args = ap.parse_args()

    cfg = load_preset("quickstart")
    cfg = replace(cfg, max_steps=args.max_steps or cfg.max_steps,
                  image_max_steps=args.image_max_steps or cfg.image_max_steps,
                  # the amortised information networks (pid.models: amortised) shrink with the others
                  amortised_max_steps=args.max_steps or cfg.amortised_max_steps,
                  amortised_image_max_steps=args.image_max_steps or cfg.amortised_image_max_steps,
                  dataset=replace(cfg.dataset, n=args.n or cfg.dataset.n))
    root = args.out or Path(tempfile.mkdtemp(prefix="study_jobs_"))
    t0 = time.perf_counter()
    Study(replace(cfg, latent_models=(), causal=(), tuples=(), discover_vars=()), root / "data", progress=False).run()
    print(f"mock of {cfg.dataset.n} galaxies: {time.perf_counter() - t0:.0f} s (not timed below)")
    on_disk = replace(cfg, dataset=DatasetSpec(kind="path", path=str(root / "data" / "dataset")))

    times = {}
    for jobs in (1, args.jobs):
        started = time.perf_counter()
        Study(on_disk, root / f"jobs{jobs}", progress=False, jobs=jobs).run()
        times[jobs] = time.perf_counter() - started
    diff = max_relative_difference(root / "jobs1" / "results.json", root / f"jobs{args.jobs}" / "results.json")
    rows = [
        ("study wall time, --jobs 1", f"{times[1]:.0f} s", "baseline (this run)"),
        (f"study wall time, --jobs {args.jobs}", f"{times[args.jobs]:.0f} s", "--jobs 1 (this run)"),
        (f"speed-up --jobs {args.jobs} / --jobs 1", f"{times[1] / times[args.jobs]:.2f}x", "target >= 1.5x on 2 cores"),
        ("largest relative difference of results.json numbers", f"{diff:.2g}", "float tolerance 1e-5"),
        ("cores / load average at the end", f"{os.cpu_count()} / {os.getloadavg()[0]:.1f}", "idle machine: load ~ jobs"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'figure':<{width}} | {'value':>10} | compared with")
    for name, value, against in rows:
        print(f"{name:<{width}} | {value:>10} | {against}")


if __name__ == "__main__":
    main()
