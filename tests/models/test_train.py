import json

import h5py
import numpy as np
import pytest
import torch

from galinfo.data.dataset import Dataset
from galinfo.errors import ConfigError, GalinfoError
from galinfo.models import evaluate, predict, train
from galinfo.models.checkpoint import BEST, LAST, load_checkpoint
from galinfo.models.config import make_config
from galinfo.models.outputs import read_predictions
from galinfo.models.training import BatchOrder, lr_factor, may_stop_early


def _weights(run):
    return load_checkpoint(run / LAST)["model"]


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a) and a.keys() == b.keys()


TINY = dict(preset="tiny", batch_size=32, max_steps=8, eval_every=3, checkpoint_every=2)


@pytest.mark.parametrize("inputs, objective", [("M_ugriz", "ce"), ("I_ugriz|M_W123", "scl")])
def test_same_seed_same_weights_and_other_seed_differs(tiny_dataset, tmp_path, inputs, objective):
    a = train(tiny_dataset, tmp_path / "a", inputs=inputs, objective=objective, seed=3, **TINY)
    b = train(tiny_dataset, tmp_path / "b", inputs=inputs, objective=objective, seed=3, **TINY)
    c = train(tiny_dataset, tmp_path / "c", inputs=inputs, objective=objective, seed=4, **TINY)
    assert _same(_weights(a), _weights(b))
    assert not _same(_weights(a), _weights(c))


@pytest.mark.parametrize("inputs, objective", [("M_ugriz", "scl"), ("I_ugriz", "ce")])
def test_interrupted_and_resumed_equals_uninterrupted(tiny_dataset, tmp_path, inputs, objective):
    full = train(tiny_dataset, tmp_path / "full", inputs=inputs, objective=objective, **TINY)

    def interrupt(step, info):
        if step == 5:  # last checkpoint at step 4: step 5 is lost and replayed
            raise KeyboardInterrupt

    run = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_dataset, run, inputs=inputs, objective=objective, callback=interrupt, **TINY)
    assert load_checkpoint(run / LAST)["run_state"]["step"] == 4
    train(tiny_dataset, run, inputs=inputs, objective=objective, **TINY)
    a, b = load_checkpoint(full / LAST), load_checkpoint(run / LAST)
    assert b["run_state"]["step"] == 8 and b["run_state"]["finished"]
    assert _same(a["model"], b["model"])
    assert a["run_state"]["history"] == b["run_state"]["history"]
    assert _same(load_checkpoint(full / BEST)["model"], load_checkpoint(run / BEST)["model"])
    # a finished run is not trained again; more steps continue it
    train(tiny_dataset, run, inputs=inputs, objective=objective, **TINY)
    assert _same(_weights(run), a["model"])
    train(tiny_dataset, run, inputs=inputs, objective=objective, **{**TINY, "max_steps": 10})
    assert load_checkpoint(run / LAST)["run_state"]["step"] == 10


def test_resume_refuses_a_different_configuration(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "r", inputs="M_ugriz", objective="ce", **TINY)
    with pytest.raises(ConfigError, match="objective"):
        train(tiny_dataset, run, inputs="M_ugriz", objective="scl", **TINY)
    with pytest.raises(ConfigError, match="inputs"):
        train(tiny_dataset, run, inputs="M_ugriz|zspec", objective="ce", **TINY)


def test_learning_rate_drops_by_five_at_a_third(tiny_dataset, tmp_path):
    assert lr_factor(0, 180_000, 1 / 3, 5) == 1.0
    assert lr_factor(59_999, 180_000, 1 / 3, 5) == 1.0
    assert lr_factor(60_000, 180_000, 1 / 3, 5) == pytest.approx(0.2)
    run = train(tiny_dataset, tmp_path / "lr", inputs="M_ugriz", **{**TINY, "max_steps": 9, "lr": 1e-3})
    hist = json.loads((run / "history.json").read_text())
    assert hist[0]["lr"] == pytest.approx(1e-3) and hist[-1]["lr"] == pytest.approx(2e-4)


def test_early_stopping_stops_and_keeps_best(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "es", inputs="M_ugriz", preset="tiny", batch_size=32,
                max_steps=200, eval_every=1, checkpoint_every=50, patience=2, lr=0.3)
    state = load_checkpoint(run / LAST)["run_state"]
    assert state["stopped_early"] and round(200 / 3) <= state["step"] < 200  # not before the rate drops
    assert state["evals_since_best"] >= 2
    assert load_checkpoint(run / BEST)["run_state"]["step"] == state["best_step"]


def test_early_stopping_waits_for_the_learning_rate_to_decay():
    step_cfg = make_config("M_ugriz", preset="tiny", max_steps=300)
    assert not may_stop_early(99, step_cfg) and may_stop_early(100, step_cfg)
    one = make_config("M_ugriz", preset="tiny", max_steps=1000, lr_schedule="onecycle")
    allowed = [s for s in range(1, 1001) if may_stop_early(s, one)]
    assert allowed[0] > 500 and allowed[-1] == 1000  # past the warm-up and half of the decay
    assert all(lr_factor(s, 1000, 1 / 3, 5, "onecycle") <= 0.5 for s in allowed)


def test_batch_order_covers_each_epoch_once():
    order = BatchOrder(10, 3, seed=0)
    epoch0 = torch.cat([order(s) for s in range(3)])
    assert len(set(epoch0.tolist())) == 9
    assert not torch.equal(order(0), order(3))  # a new permutation next epoch
    assert torch.equal(BatchOrder(10, 3, seed=0)(4), order(4))


def test_predictions_roundtrip(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "p", inputs="I_ugriz", objective="scl", **TINY)
    path = predict(run)
    pred = read_predictions(path)
    ds = Dataset.open(tiny_dataset)
    assert pred.objid.dtype == np.int64 and np.array_equal(pred.objid, ds.objid)
    assert set(pred.split) == {"train", "val", "test"}
    assert pred.latent.shape == (ds.n, 16)
    assert np.allclose(pred.pdf.sum(axis=1), 1, atol=1e-4)
    idx = pred.bins.index(pred.target)
    assert np.allclose(pred.log_q_true, np.log(pred.pdf[np.arange(ds.n), idx]), atol=1e-4)
    assert np.allclose(pred.pdf_mean, pred.pdf @ pred.bins.centers, atol=1e-4)
    assert np.array_equal(pred.pdf_mode, pred.bins.centers[pred.pdf.argmax(axis=1)])
    assert pred.input_set == "I_ugriz" and pred.objective == "scl" and pred.data_checksum == ds.checksum
    with h5py.File(path) as f:
        assert f["objid"].dtype == np.int64
    metrics = evaluate(run)
    assert set(metrics) == {"train", "val", "test", "by_group"}  # by_group: the test split per class, in bins
    assert metrics["test"]["n"] == int((ds.split == "test").sum())
    saved = json.loads((run / "metrics.json").read_text())
    for split in ("train", "val", "test"):
        m = metrics[split]
        assert saved[split] == pytest.approx(m)
        assert m["n"] > 0 and m["sigma_mad"] > 0 and m["crps"] > 0


def test_predict_smoothing(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "s", inputs="M_ugriz", n_bins=520, **TINY)
    raw = read_predictions(predict(run))
    assert raw.pdf_smoothing == 0.0
    auto = read_predictions(predict(run, smooth="auto"))
    chosen = auto.config["pdf_smoothing"]
    assert auto.pdf_smoothing == pytest.approx(chosen["width"]) and chosen["chosen_on"] == "val"
    scores = chosen["val_mean_log_q_by_width"]
    val = auto.mask("val")
    # the choice is the best on validation, and at least as good there as the raw softmax
    assert np.nanmean(auto.log_q_true[val]) == pytest.approx(max(scores.values()))
    assert np.nanmean(auto.log_q_true[val]) >= np.nanmean(raw.log_q_true[val])
    idx = auto.bins.index(auto.target)
    assert np.allclose(auto.log_q_true, np.log(auto.pdf[np.arange(len(auto)), idx]), atol=1e-4)
    assert np.allclose(auto.pdf_mean, auto.pdf @ auto.bins.centers, atol=1e-4)
    fixed = read_predictions(predict(run, smooth=0.05))  # dex: 4 bins of 0.0125
    assert fixed.pdf_smoothing == pytest.approx(0.05)
    assert not np.allclose(fixed.pdf, raw.pdf)
    with pytest.raises(ConfigError, match="smooth='wide'"):
        predict(run, smooth="wide")


def test_other_target_and_range(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "z", inputs="M_ugriz", target="z", target_low=0.0,
                target_high=0.25, n_bins=50, **TINY)
    pred = read_predictions(predict(run))
    assert pred.target_column == "z" and pred.bins.n_bins == 50 and pred.pdf.shape[1] == 50
    assert np.all((pred.pdf_mean > 0) & (pred.pdf_mean < 0.25))


def test_config_errors():
    with pytest.raises(ConfigError, match="objective"):
        make_config("M_ugriz", "mse")
    with pytest.raises(ConfigError, match="preset"):
        make_config("M_ugriz", "ce", "huge")
    with pytest.raises(ConfigError, match="unknown training option"):
        make_config("M_ugriz", "ce", wat=1)
    with pytest.raises(ConfigError):
        make_config("M_ugriz", "ce", target_low=7, target_high=6)
    with pytest.raises(GalinfoError):
        make_config("Q_xyz")


def test_arch_overrides_merge_into_the_preset_architecture(tiny_dataset, tmp_path):
    run = train(tiny_dataset, tmp_path / "w", inputs="I_ugriz", preset="tiny", max_steps=2,
                arch_overrides={"image_encoder": {"width": 4}, "latent_dim": 6})
    mc = load_checkpoint(run / LAST)["model_config"]
    assert mc["image_encoder"]["width"] == 4 and mc["image_encoder"]["k"] == 6  # k kept from tiny
    assert mc["latent_dim"] == 6
    assert read_predictions(predict(run)).latent.shape[1] == 6
    with pytest.raises(ConfigError, match="unknown architecture field"):
        train(tiny_dataset, tmp_path / "w2", inputs="I_ugriz", preset="tiny", max_steps=2,
              arch_overrides={"depth": 3})


def test_images_read_per_batch_from_hdf5_give_the_same_run(tiny_dataset, tmp_path):
    kw = dict(inputs="I_ugriz", objective="ce", preset="tiny", batch_size=32, max_steps=3)
    a = train(tiny_dataset, tmp_path / "mem", **kw)
    b = train(tiny_dataset, tmp_path / "h5", max_image_memory_gb=1e-9, **kw)  # forces lazy reads
    assert _same(_weights(a), _weights(b))
