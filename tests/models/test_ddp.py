"""Multi-process training (torchrun, DistributedDataParallel) on CPU with the gloo backend."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from galinfo.models import train
from galinfo.models.checkpoint import LAST, load_checkpoint


@pytest.mark.slow
def test_two_ranks_give_the_weights_of_one_process(tiny_dataset, tmp_path):
    # Each rank takes every other row of the global batch and DDP averages the gradients, so two
    # ranks follow the single-process trajectory up to float rounding (tabular input: no augmentation).
    opts = ["--inputs", "M_ugriz", "--objective", "ce", "--preset", "tiny", "--max-steps", "12",
            "--batch-size", "32", "--no-predict"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "galinfo.cli", "train", str(tiny_dataset), *opts, "--out", str(tmp_path / "ddp")]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("best validation CE") == 1  # only rank 0 reports
    single = train(tiny_dataset, tmp_path / "one", inputs="M_ugriz", objective="ce", preset="tiny",
                   max_steps=12, batch_size=32)
    a, b = load_checkpoint(single / LAST), load_checkpoint(tmp_path / "ddp" / LAST)
    assert b["run_state"]["step"] == 12
    for key, w in a["model"].items():
        torch.testing.assert_close(b["model"][key], w, rtol=1e-4, atol=1e-5, msg=key)
