"""Training throughput (images/s) of the image models on 64x64x5 cutouts, CPU or GPU.

Times the real training step of ``galinfo.models.training`` (batch gathered from an in-memory /
on-device cube of preprocessed images, seeded rotation/flip augmentation, forward, loss, backward,
Adam) for the CPU-size (``inception_small``) and paper-size (``inception_paper``) encoders. Synthetic
images: the speed does not depend on the pixel values.

CPU (what docs/performance.md quotes)::

    .venv/bin/python benchmarks/train_speed.py

GPU (see benchmarks/gpu_train_speed.sh)::

    python benchmarks/train_speed.py --device cuda --archs inception_paper --bf16 --compile both \
        --check-cpu
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

AMORTISED_FAMILY = "I_ugriz|M_ugriz|M_W123|Morph|zspec"


def _data(n: int, size: int, n_bins: int, device: torch.device, seed: int, amortised: bool = False):
    """Synthetic model inputs; ``amortised``: the tabular columns and group masker of
    ``AMORTISED_FAMILY`` (every group available), so that a step includes drawing and applying masks."""
    from galinfo.data.inputs import parse_inputs
    from galinfo.models.amortised import GroupLayout, GroupMasker
    from galinfo.models.data import ImageSource, ModelData

    g = torch.Generator().manual_seed(seed)
    cube = torch.randn(n, 5, size, size, generator=g).to(device)
    if not amortised:
        tab = torch.randn(n, 1, generator=g).to(device)  # E(B-V), the companion input of image sets
        y = torch.randint(0, n_bins, (n,), generator=g)
        return ModelData(np.arange(n), tab, ImageSource.from_tensor(cube), np.zeros(n), y)
    layout = GroupLayout.build(AMORTISED_FAMILY, parse_inputs(AMORTISED_FAMILY).resolve_columns(lambda c: True))
    tab = torch.randn(n, len(layout.columns), generator=g).to(device)
    y = torch.randint(0, n_bins, (n,), generator=g)
    data = ModelData(np.arange(n), tab, ImageSource.from_tensor(cube), np.zeros(n), y)
    data.masker = GroupMasker(layout, torch.zeros(0, layout.n_groups, dtype=torch.bool))
    data.avail = torch.ones(n, layout.n_groups, dtype=torch.bool)
    return data


def measure(arch: str, device: torch.device, *, objective: str, batch: int, steps: int, warmup: int,
            bf16: bool, compile_: bool, size: int = 64, n_cube: int = 1024, seed: int = 0,
            amortised: bool = False) -> dict:
    """Images per second of ``steps`` training steps after ``warmup`` steps (``amortised``: with
    per-galaxy group masks drawn and applied in every step)."""
    from galinfo.models.amortised import mask_generator
    from galinfo.models.networks import create_model
    from galinfo.models.training import BatchOrder, LossModule, _batch_inputs, step_generator

    torch.manual_seed(seed)
    data = _data(n_cube, size, 520, device, seed, amortised)
    n_tab = data.tab.shape[1] + (data.masker.layout.n_groups if amortised else 0)
    model = create_model(arch, n_channels=5, image_size=size, n_tabular=n_tab, n_bins=520,
                         decoder=objective == "scl").to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    step_fn = LossModule(model, objective)
    if compile_:
        step_fn = torch.compile(step_fn)
    per_step = batch // 2 if objective == "scl" else batch
    order = BatchOrder(n_cube, per_step, seed)

    def one(step: int) -> None:
        idx = order(step)
        image, tab, y, image2 = _batch_inputs(data, idx, device, channels_last, step_generator(seed, step), objective,
                                              mask_generator(seed, step) if amortised else None)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            loss, _ = step_fn(image, tab, y, image2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t_first = time.perf_counter()
    for s in range(warmup):
        one(s)
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for s in range(warmup, warmup + steps):
        one(s)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return {"arch": arch + (" (amortised)" if amortised else ""), "device": str(device), "objective": objective,
            "precision": "bf16" if bf16 else "fp32", "compile": compile_, "batch": batch,
            "params_M": model.n_parameters() / 1e6, "images_per_s": batch * steps / dt,
            "ms_per_step": 1e3 * dt / steps, "warmup_s": t0 - t_first}


def check_cpu_agreement(arch: str, device: torch.device, size: int = 64, batch: int = 8) -> float:
    """Max |logit difference| / max |logit| of one fixed batch, fp32, device vs CPU, same weights."""
    from galinfo.models.networks import create_model

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = create_model(arch, n_channels=5, image_size=size, n_tabular=1, n_bins=520).eval()
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn(batch, 5, size, size, generator=g), torch.randn(batch, 1, generator=g)
    with torch.no_grad():
        ref = model(x, t).logits
        model.to(device)
        got = model(x.to(device), t.to(device)).logits.cpu()
    return float((got - ref).abs().max() / ref.abs().max())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--archs", nargs="+", default=["inception_small", "inception_paper"])
    ap.add_argument("--objective", default="ce", choices=["ce", "scl"])
    ap.add_argument("--batch", type=int, default=0, help="default: 64 (small), 16 (paper) on CPU; 128 on GPU")
    ap.add_argument("--steps", type=int, default=0, help="timed steps (default 5 on CPU, 50 on GPU)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--bf16", action="store_true")
    ap.add_argument("--compile", default="no", choices=["no", "yes", "both"])
    ap.add_argument("--check-cpu", action="store_true", help="compare fp32 logits with the CPU")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--amortised", action="store_true",
                    help=f"amortised model of {AMORTISED_FAMILY}: masks drawn and applied every step")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if gpu else f", {torch.get_num_threads()} threads")
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    compiles = {"no": [False], "yes": [True], "both": [False, True]}[args.compile]
    rows = []
    status_fail: list[str] = []
    for arch in args.archs:
        batch = args.batch or (128 if gpu else (16 if "paper" in arch else 64))
        steps = args.steps or (50 if gpu else 5)
        for c in compiles:
            try:
                r = measure(arch, device, objective=args.objective, batch=batch, steps=steps,
                            warmup=max(args.warmup, 3 if c else 0), bf16=args.bf16 and gpu, compile_=c,
                            amortised=args.amortised)
            except Exception as exc:  # keep the other measurements of a one-shot GPU run
                print(f"  {arch} compile={c}: FAILED {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
                status_fail.append(arch)
                continue
            rows.append(r)
            print(f"  {r['arch']:<28} {r['precision']} compile={c!s:<5} {r['images_per_s']:9.1f} images/s", flush=True)
    print()
    print(f"{'arch':<28} {'params':>7} {'device':<7} {'obj':<4} {'prec':<5} {'compile':<8} {'batch':>5} "
          f"{'images/s':>9} {'ms/step':>8} {'warmup s':>8}")
    for r in rows:
        print(f"{r['arch']:<28} {r['params_M']:6.2f}M {r['device']:<7} {r['objective']:<4} {r['precision']:<5} "
              f"{r['compile']!s:<8} {r['batch']:>5} {r['images_per_s']:9.1f} {r['ms_per_step']:8.1f} {r['warmup_s']:8.1f}")
    status = 1 if status_fail else 0
    if args.check_cpu and gpu:
        for arch in args.archs:
            rel = check_cpu_agreement(arch, device)
            ok = rel < 1e-4
            status |= 0 if ok else 1
            print(f"fp32 {arch} {device} vs CPU, fixed batch: max |dlogit| / max |logit| = {rel:.2e} "
                  f"({'OK' if ok else 'MISMATCH'}, tolerance 1e-4)")
    return status


if __name__ == "__main__":
    sys.exit(main())
