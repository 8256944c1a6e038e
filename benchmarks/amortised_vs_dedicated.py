"""Amortised any-subset information models against dedicated ones, on one mock.

For every input set of the paper's five tuples, the band studies' unions and four band-study
members, a dedicated ``ce`` model per input set is compared with what the study uses: one amortised
network per modality family (``galinfo.models.amortised``) followed by a short fine-tune of that
network on each input set alone (``--finetune-steps``; 0 compares the amortised predictions as
they are). Every ce model uses the study's recipe (``--label-sigma``, ``--weight-decay``, one-cycle
rate, early stopping after the decay). A dedicated model counts as converged when it stopped early
after its rate had annealed, or when the last fifth of its run improved validation by < 0.005 nats.
Printed:

1. per input set, on the test split: mean ln q(true bin) (nats) of each, the paired difference
   amortised - dedicated with its standard error, whether the dedicated model converged, sigma_MAD
   of the pdf mean, and the CPU time;
2. the PID atoms (nats, 95% bootstrap intervals) of five tuples from either kind of model, and
   whether the intervals overlap.

    .venv/bin/python benchmarks/amortised_vs_dedicated.py --mock runs/mock20k [--out runs/avd]
        [--tab-steps 6000] [--img-steps 4000] [--finetune-steps 3000] [--image-arch aperture_mlp]

The mock: ``galinfo mock --n 20000 --seed 0 --out runs/mock20k``. Reruns reuse finished runs in
``--out`` (training resumes exactly; delete the folder to start again).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

TAB_SETS = ("M_ugriz", "Morph", "M_W123", "zspec", "M_ugriz|Morph", "M_ugriz|M_W123", "M_ugriz|zspec",
            "M_g", "M_urizW123")
IMG_SETS = ("I_ugriz", "I_g", "I_uriz", "I_ugriz|M_W123", "I_ugriz|M_W123|zspec")
NORM_SETS = ("I_ugriz_norm", "I_ugriz_norm|M_ugriz")
TUPLES = (("M_ugriz", "Morph"), ("M_ugriz", "M_W123"), ("I_ugriz", "M_W123"), ("I_ugriz|M_W123", "zspec"),
          ("M_ugriz", "I_ugriz_norm"), ("I_g", "I_uriz"), ("M_g", "M_urizW123"))
TAB_FAMILY = "M_ugriz|M_W123|Morph|zspec"
IMG_FAMILY = "I_ugriz|M_W123|zspec"
NORM_FAMILY = "I_ugriz_norm|M_ugriz"


def _train(mock: Path, run: Path, **kw) -> float:
    """Train (or resume) a run; return the CPU seconds this call spent (all threads)."""
    from galinfo.models import train

    start = time.process_time()
    train(mock, run, objective="ce", lr_schedule="onecycle", eval_every=100, patience=10, **kw)
    spent = time.process_time() - start
    record = run / "cpu_seconds.json"
    total = spent + (json.loads(record.read_text())["cpu_s"] if record.exists() else 0.0)
    record.write_text(json.dumps({"cpu_s": total}))
    return total


def _metrics(pred) -> tuple[np.ndarray, float]:
    from galinfo.metrics import sigma_mad

    test = pred.mask("test") & np.isfinite(pred.log_q_true)
    return test, float(sigma_mad(pred.pdf_mean[test], pred.target[test]))


def converged(run: Path) -> bool:
    """Stopped early after the rate annealed, or the last fifth improved validation by < 0.005 nats."""
    from galinfo.models.checkpoint import LAST, load_checkpoint

    state = load_checkpoint(run / LAST)["run_state"]
    if state["stopped_early"]:
        return True
    h = state["history"]
    cut = h[-1]["step"] * 0.8
    early = min(r["val_ce"] for r in h if r["step"] <= cut)
    return min(r["val_ce"] for r in h) > early - 0.005


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mock", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("runs/amortised_vs_dedicated"))
    ap.add_argument("--tab-steps", type=int, default=6000, help="steps of each dedicated tabular model")
    ap.add_argument("--img-steps", type=int, default=4000, help="steps of each dedicated image model")
    ap.add_argument("--tab-family-steps", type=int, default=12000, help="steps of the amortised catalogue network")
    ap.add_argument("--img-family-steps", type=int, default=6000, help="steps of each amortised image network")
    ap.add_argument("--finetune-steps", type=int, default=3000, help="per-set fine-tune of a catalogue family (0: none)")
    ap.add_argument("--img-finetune-steps", type=int, default=1500, help="per-set fine-tune of an image family")
    ap.add_argument("--label-sigma", type=float, default=4.0, help="Gaussian label smoothing (bins) of every ce model")
    ap.add_argument("--weight-decay", type=float, default=1e-3)
    ap.add_argument("--image-arch", default="aperture_mlp")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import torch

    from galinfo.data.inputs import parse_inputs
    from galinfo.info.aggregate import summarize
    from galinfo.info.table import pid_table
    from galinfo.models import evaluate, predict
    from galinfo.models.outputs import read_predictions

    torch.set_num_threads(args.threads)
    out = args.out
    common = dict(batch_size=args.batch, seed=args.seed, label_sigma=args.label_sigma, weight_decay=args.weight_decay)
    all_sets = TAB_SETS + IMG_SETS + NORM_SETS
    cpu: dict[str, float] = {}
    ded: dict[str, Path] = {}
    for s in all_sets:
        images = parse_inputs(s).has_images
        run = out / "dedicated" / s.replace("|", "+")
        cpu[f"dedicated {s}"] = _train(args.mock, run, inputs=s, max_steps=args.img_steps if images else args.tab_steps,
                                       arch=args.image_arch if images else None, **common)
        predict(run, smooth="auto")
        evaluate(run)
        ded[s] = run
        print(f"dedicated {s}: {cpu[f'dedicated {s}']:.0f} CPU s", flush=True)
    am: dict[str, Path] = {}
    for family, sets, steps, arch, tune in (
            (TAB_FAMILY, TAB_SETS, args.tab_family_steps, None, args.finetune_steps),
            (IMG_FAMILY, IMG_SETS, args.img_family_steps, args.image_arch, args.img_finetune_steps),
            (NORM_FAMILY, NORM_SETS, args.img_family_steps, args.image_arch, args.img_finetune_steps)):
        run = out / "amortised" / family.replace("|", "+")
        cpu[f"amortised {family}"] = _train(args.mock, run, inputs=family, amortised=True, subsets=sets,
                                            max_steps=steps, arch=arch, **common)
        print(f"amortised {family}: {cpu[f'amortised {family}']:.0f} CPU s", flush=True)
        for s in sets:
            source = run
            if tune:
                source = run / "finetune" / s.replace("|", "+")
                cpu[f"fine-tune {s}"] = _train(args.mock, source, inputs=family, amortised=True, subsets=sets,
                                               finetune_from=str(run), finetune_subset=s, max_steps=tune, **common)
            sub = run / "subsets" / s.replace("|", "+")
            predict(source, subset=s, out=sub, smooth="auto")
            am[s] = sub

    print("\n## Mean ln q(true bin) on the test split (nats), paired by galaxy\n")
    print("| input set | dedicated | dedicated converged | amortised | amortised - dedicated (SE) | "
          "sigma_MAD ded. | sigma_MAD am. |")
    print("|---|---|---|---|---|---|---|")
    rows = {}
    for s in all_sets:
        pd_, pa = read_predictions(ded[s]), read_predictions(am[s])
        test_d, smad_d = _metrics(pd_)
        test_a, smad_a = _metrics(pa)
        ids = np.intersect1d(pd_.objid[test_d], pa.objid[test_a])
        lq_d = pd_.log_q_true[pd_.align(ids)]
        lq_a = pa.log_q_true[pa.align(ids)]
        diff = lq_a - lq_d
        se = diff.std(ddof=1) / np.sqrt(len(diff))
        rows[s] = (lq_d.mean(), lq_a.mean(), diff.mean(), se)
        print(f"| {s} | {lq_d.mean():.4f} | {'yes' if converged(ded[s]) else 'NO'} | {lq_a.mean():.4f} | "
              f"{diff.mean():+.4f} ({se:.4f}) | {smad_d:.4f} | {smad_a:.4f} |")

    print("\n## PID atoms (nats, test split, 95% bootstrap intervals)\n")
    print("| tuple | atom | dedicated | amortised | intervals overlap |")
    print("|---|---|---|---|---|")
    for s1, s2 in TUPLES:
        union = (parse_inputs(s1) | parse_inputs(s2)).name
        sums = {}
        for kind, runs in (("dedicated", ded), ("amortised", am)):
            table = pid_table(*(read_predictions(runs[m]) for m in (s1, s2, union)))
            sums[kind] = summarize(table, n_boot=args.n_boot, seed=args.seed)[0]
        for atom in ("i1", "i2", "i12", "red", "unq1", "unq2", "syn"):
            d, a = sums["dedicated"], sums["amortised"]
            overlap = not (d[f"{atom}_hi"] < a[f"{atom}_lo"] or a[f"{atom}_hi"] < d[f"{atom}_lo"])
            print(f"| <{s1}, {s2}> | {atom} | {d[atom]:.3f} [{d[f'{atom}_lo']:.3f}, {d[f'{atom}_hi']:.3f}] | "
                  f"{a[atom]:.3f} [{a[f'{atom}_lo']:.3f}, {a[f'{atom}_hi']:.3f}] | {'yes' if overlap else 'NO'} |")

    print("\n## CPU time (seconds, all threads)\n")
    print("| run | CPU s |")
    print("|---|---|")
    for k, v in cpu.items():
        print(f"| {k} | {v:.0f} |")
    tab_d = sum(v for k, v in cpu.items() if k.startswith("dedicated") and not parse_inputs(k.split()[1]).has_images)
    img_d = sum(v for k, v in cpu.items() if k.startswith("dedicated") and parse_inputs(k.split()[1]).has_images)
    print(f"| all dedicated tabular | {tab_d:.0f} |\n| all dedicated image | {img_d:.0f} |")
    worst = min(rows.items(), key=lambda kv: kv[1][2])
    ok = all(rows[s][2] >= -0.02 for s in all_sets)
    print(f"\nworst amortised - dedicated: {worst[0]} {worst[1][2]:+.4f} nats; "
          f"every input set within 0.02 nats or better: {'yes' if ok else 'NO'}")


if __name__ == "__main__":
    main()
