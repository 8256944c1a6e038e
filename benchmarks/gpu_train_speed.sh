#!/usr/bin/env bash
# Prepared GPU check of galinfo.models (one short run, about 3-6 minutes on one GPU, most of it
# torch.compile warm-up). Not yet run: the machine this was written on has no GPU.
#
#   bash benchmarks/gpu_train_speed.sh            # writes benchmarks/out/gpu_train_speed.txt
#
# 1. paper-size image encoder (inception_paper, 64x64x5, objective ce, batch 128): training images/s
#    in bf16 autocast + channels_last, without and with torch.compile, including batch gathering and
#    rotation/flip augmentation from a cube held on the device;
# 2. the same for the scl objective (decoder, two augmented copies, re-encoding), no compile;
# 3. fp32 (TF32 off) logits of one fixed batch on the GPU vs the CPU, same weights (tolerance 1e-4);
# 4. the CPU encoders (cnn_small, aperture_mlp) and the amortised model (masks drawn and applied in
#    every step, I_ugriz|M_ugriz|M_W123|Morph|zspec) at paper size (inception_paper) and cnn_small,
#    bf16, compile off/on, with the GPU-vs-CPU check of cnn_small;
# 5. end-to-end: galinfo.models.train + predict on a small synthetic dataset with --device cuda, for a
#    dedicated scl run and an amortised ce run (predicting one subset).
# Exit status is non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
OUT_DIR=${OUT_DIR:-benchmarks/out}
mkdir -p "$OUT_DIR"
LOG="$OUT_DIR/gpu_train_speed.txt"
export PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" benchmarks/train_speed.py --device cuda --archs inception_paper --objective ce --bf16 \
      --compile both --batch 128 --steps 50 --check-cpu
  "$PY" benchmarks/train_speed.py --device cuda --archs inception_paper --objective scl --bf16 \
      --compile no --batch 64 --steps 30
  "$PY" benchmarks/train_speed.py --device cuda --archs cnn_small aperture_mlp --objective ce --bf16 \
      --compile both --batch 256 --steps 50 --check-cpu
  "$PY" benchmarks/train_speed.py --device cuda --archs inception_paper cnn_small --objective ce --bf16 \
      --compile both --batch 128 --steps 50 --amortised
  "$PY" - <<'PYEOF'
import sys, tempfile, time
from pathlib import Path
sys.path.insert(0, "tests/models")
from conftest import synthetic_catalog, synthetic_images
from galinfo.data.dataset import write_dataset
from galinfo.models import evaluate, predict, train

tmp = Path(tempfile.mkdtemp())
cat = synthetic_catalog(2000)
ds = write_dataset(tmp / "ds", cat, synthetic_images(cat, size=64))
t0 = time.perf_counter()
run = train(ds, tmp / "run", inputs="I_ugriz|M_W123", objective="scl", preset="cpu-small",
            arch="inception_paper", max_steps=100, eval_every=50, device="cuda")
predict(run, device="cuda")
m = evaluate(run)
print(f"end-to-end train(scl, inception_paper, 100 steps) + predict on cuda: {time.perf_counter() - t0:.1f} s; "
      f"test sigma_MAD {m['test']['sigma_mad']:.3f} (synthetic data, not a quality figure)")
t0 = time.perf_counter()
run = train(ds, tmp / "am", inputs="I_ugriz|M_ugriz|M_W123|zspec", objective="ce", amortised=True,
            arch="inception_paper", max_steps=100, eval_every=50, batch_size=128, device="cuda")
sub = predict(run, subset="I_g", out=tmp / "am_g", device="cuda")
m = evaluate(sub.parent)
print(f"end-to-end amortised train(ce, inception_paper, 100 steps) + predict I_g on cuda: "
      f"{time.perf_counter() - t0:.1f} s; test sigma_MAD {m['test']['sigma_mad']:.3f} (synthetic data)")
PYEOF
} 2>&1 | tee "$LOG"
exit "${PIPESTATUS[0]}"
