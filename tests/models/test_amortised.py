"""Amortised any-subset models: no leakage from masked groups, exact resume, subset predictions."""

import itertools
import logging

import numpy as np
import pytest
import torch
from astropy.table import Table

from galinfo.data.dataset import Dataset, write_dataset
from galinfo.errors import ConfigError
from galinfo.models import predict, train
from galinfo.models.amortised import (
    AmortisedSpec,
    GroupLayout,
    default_focus,
    mask_generator,
    plan_families,
    sample_masks,
)
from galinfo.models.checkpoint import BEST, LAST, load_checkpoint
from galinfo.models.inference import load_run
from galinfo.models.outputs import read_predictions

FAMILY = "I_ugriz|M_ugriz|M_W123|zspec"
TINY = dict(preset="tiny", arch="cnn_tiny", batch_size=32, max_steps=8, eval_every=3, checkpoint_every=2,
            amortised=True, subsets=("I_ugriz", "M_ugriz", "I_g|M_W123"))


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def amortised_run(tiny_dataset, tmp_path_factory):
    return train(tiny_dataset, tmp_path_factory.mktemp("am") / "run", inputs=FAMILY, **TINY)


def test_groups_of_a_family():
    columns = ("mag_u", "mag_g", "magerr_u", "magerr_g", "w1", "w1err", "z", "ebv")
    layout = GroupLayout.build("I_gr|M_ug|M_W1|zspec", columns)
    assert layout.group_names == ("I_g", "I_r", "M_u", "M_g", "M_W1", "zspec")
    assert layout.groups[2].columns == (0, 2) and layout.groups[4].columns == (4, 5)
    assert layout.subset_mask("I_r|M_W1").tolist() == [False, True, False, False, True, False]
    assert layout.covers("M_ug|zspec") and not layout.covers("M_ugr") and not layout.covers("I_g_norm")
    with pytest.raises(ConfigError, match="union of input groups"):
        layout.subset_mask("Morph")


def test_families_and_focus_cover_the_paper():
    from galinfo.info.tuples import PAPER_TUPLES, band_study_tuples, plan_models

    needed = plan_models(PAPER_TUPLES + band_study_tuples())
    fams = plan_families(needed)
    assert set(fams) == {n for n in needed}
    assert len(set(fams.values())) == 3  # catalogue inputs, raw images, normalised images
    assert fams["M_ugriz"] == "M_ugriz|M_W123|Morph|zspec" and fams["I_u"] == "I_ugriz|M_W123|zspec"
    for name, fam in fams.items():
        assert name in default_focus(fam)


def test_mask_sampler_is_seeded_and_covers_sizes():
    focus = torch.tensor([[True, False, False, False]])
    a = sample_masks(mask_generator(0, 5), 4000, 4, focus, 0.5)
    b = sample_masks(mask_generator(0, 5), 4000, 4, focus, 0.5)
    assert torch.equal(a, b)
    assert not torch.equal(a, sample_masks(mask_generator(0, 6), 4000, 4, focus, 0.5))
    sizes = torch.bincount(a.sum(1), minlength=5)
    assert sizes[0] == 0 and (sizes[1:] > 300).all()
    assert 0.5 < (a == focus).all(1).float().mean() < 0.65  # half focus + its share of the random ones


def _randomise(image, tab, keep_ch, keep_col, rng):
    image, tab = image.clone(), tab.clone()
    image[:, ~keep_ch] = torch.from_numpy(rng.normal(0, 50, image[:, ~keep_ch].shape).astype(np.float32))
    noise = rng.choice([np.nan, np.inf, -9999.0, 1e6, 0.3], size=tab[:, ~keep_col].shape).astype(np.float32)
    tab[:, ~keep_col] = torch.from_numpy(noise)
    return image, tab


def test_masked_inputs_cannot_reach_the_output(amortised_run, tiny_dataset):
    """For random subsets, randomising every masked pixel, magnitude and error (even NaN / inf)
    leaves the logits bit-identical."""
    model, ckpt = load_run(amortised_run)
    spec = AmortisedSpec.from_dict(ckpt["input_spec"])
    ds = Dataset.open(tiny_dataset)
    rows = np.arange(40)
    data = spec.model_data(ds, rows, "logmstar", ckpt_bins(ckpt))
    image = data.images.get(torch.arange(len(rows)))
    layout = spec.layout
    rng = np.random.default_rng(0)
    subsets = [m for k in (1, 2, 3, 5) for m in itertools.combinations(range(layout.n_groups), k)]
    for pick in rng.choice(len(subsets), 25, replace=False):
        mask = torch.zeros(layout.n_groups, dtype=torch.bool)
        mask[list(subsets[pick])] = True
        masks = mask.expand(len(rows), -1)
        keep_ch = torch.tensor([any(g.channel == c and mask[i] for i, g in enumerate(layout.groups))
                                for c in range(len(layout.image_bands))])
        keep_col = torch.tensor([any(j in g.columns and mask[i] for i, g in enumerate(layout.groups))
                                 or not any(j in g.columns for g in layout.groups)
                                 for j in range(len(layout.columns))])
        with torch.no_grad():
            ref = model(*data.masker.apply(image, data.tab, masks)).logits
            img2, tab2 = _randomise(image, data.tab, keep_ch, keep_col, rng)
            out = model(*data.masker.apply(img2, tab2, masks)).logits
        assert torch.isfinite(ref).all()
        assert torch.equal(ref, out), f"masked inputs leak for {layout.subset_mask}"
        # and the kept inputs do matter
        if keep_col.any():
            tab3 = data.tab.clone()
            tab3[:, keep_col] += 1.0
            with torch.no_grad():
                moved = model(*data.masker.apply(image, tab3, masks)).logits
            assert not torch.equal(ref, moved)


def ckpt_bins(ckpt):
    from galinfo.data.binning import TargetBins

    t = ckpt["target"]
    return TargetBins(t["low"], t["high"], t["n_bins"])


def test_subset_predictions_ignore_other_groups_end_to_end(amortised_run, tiny_dataset, tmp_path, caplog):
    """predict() of ``M_ugriz`` on a copy of the dataset whose images, WISE magnitudes and z are
    replaced (some by NaN) gives the same predictions for every galaxy; a subset needing a group
    a galaxy lacks gives that galaxy NaN outputs (one row per galaxy, as a dedicated run)."""
    ds = Dataset.open(tiny_dataset)
    cat = Table(ds.catalog, copy=True)
    rng = np.random.default_rng(1)
    for col in ("w1", "w2", "w3", "w1err", "w2err", "z"):
        cat[col] = rng.normal(0, 3, len(cat))
    cat["w2"][:10] = np.nan
    images = rng.normal(0, 10, (ds.n, *ds.image_shape)).astype(np.float32)
    other = write_dataset(tmp_path / "other", cat, images)
    a = read_predictions(predict(amortised_run, tiny_dataset, subset="M_ugriz", out=tmp_path / "a"))
    with pytest.warns(Warning, match="not the dataset"):
        b = read_predictions(predict(amortised_run, other, subset="M_ugriz", out=tmp_path / "b"))
    assert a.input_set == "M_ugriz" and len(a) == ds.n
    np.testing.assert_array_equal(a.objid, b.objid)
    np.testing.assert_array_equal(a.log_q_true, b.log_q_true)
    np.testing.assert_array_equal(a.predicted(), b.predicted())  # missing w2 does not matter to M_ugriz
    # a subset that needs w2: one row per galaxy still, and the 10 galaxies without w2 have no
    # outputs (NaN), counted in the log as a dedicated run counts them
    with pytest.warns(Warning, match="not the dataset"), caplog.at_level(logging.WARNING):
        c = read_predictions(predict(amortised_run, other, subset="M_W123", out=tmp_path / "c"))
    assert len(c) == ds.n
    np.testing.assert_array_equal(c.objid, ds.objid)
    has = c.predicted()
    assert not has[:10].any() and has[10:].all()
    assert np.isnan(c.log_q_true[:10]).all() and np.isnan(c.pdf_mean[:10]).all()
    assert np.isnan(c.pdf[:10]).all() and np.isfinite(c.pdf[10:]).all()
    assert f"input set M_W123: 10 of {ds.n} galaxies lack a feature" in caplog.text


def test_interrupted_amortised_run_resumes_exactly(tiny_dataset, tmp_path):
    full = train(tiny_dataset, tmp_path / "full", inputs=FAMILY, **TINY)

    def interrupt(step, info):
        if step == 5:
            raise KeyboardInterrupt

    run = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        train(tiny_dataset, run, inputs=FAMILY, callback=interrupt, **TINY)
    train(tiny_dataset, run, inputs=FAMILY, **TINY)
    a, b = load_checkpoint(full / LAST), load_checkpoint(run / LAST)
    assert _same(a["model"], b["model"])
    assert a["run_state"]["history"] == b["run_state"]["history"]
    assert _same(load_checkpoint(full / BEST)["model"], load_checkpoint(run / BEST)["model"])
    other = train(tiny_dataset, tmp_path / "seed1", inputs=FAMILY, seed=1, **TINY)
    assert not _same(a["model"], load_checkpoint(other / LAST)["model"])


def test_amortised_run_needs_a_subset_and_a_covered_one(amortised_run):
    with pytest.raises(ConfigError, match="amortised run"):
        predict(amortised_run)
    with pytest.raises(ConfigError, match="union of input groups"):
        predict(amortised_run, subset="Morph")
    with pytest.raises(ConfigError, match="ce"):
        train("unused", "unused", inputs="M_ugriz", objective="scl", amortised=True)


def test_finetune_of_one_subset_is_a_valid_bound_and_never_worse(amortised_run, tiny_dataset, tmp_path):
    """A fine-tune starts from the family's best weights, validates on its own subset, keeps the
    starting weights as its first evaluation (so its best val CE is never above the start), and its
    prediction of the subset ignores every other group, as the family's does."""
    tune = dict(TINY, max_steps=6, finetune_from=str(amortised_run), finetune_subset="M_ugriz")
    run = train(tiny_dataset, tmp_path / "ft", inputs=FAMILY, **tune)
    history = load_checkpoint(run / LAST)["run_state"]["history"]
    assert history[0]["step"] == 0  # the starting weights, evaluated on M_ugriz alone
    start_model, _ = load_run(amortised_run)
    tuned_first = load_checkpoint(run / LAST)  # training moved the weights away from the start
    assert not _same(start_model.state_dict(), tuned_first["model"])
    assert load_checkpoint(run / BEST)["run_state"]["best_metric"] <= history[0]["val_ce"]
    ds = Dataset.open(tiny_dataset)
    cat = Table(ds.catalog, copy=True)
    rng = np.random.default_rng(2)
    for col in ("w1", "w2", "w3", "w1err", "w2err", "z"):
        cat[col] = rng.normal(0, 3, len(cat))
    other = write_dataset(tmp_path / "other", cat, rng.normal(0, 10, (ds.n, *ds.image_shape)).astype(np.float32))
    a = read_predictions(predict(run, tiny_dataset, subset="M_ugriz", out=tmp_path / "a"))
    with pytest.warns(Warning, match="not the dataset"):
        b = read_predictions(predict(run, other, subset="M_ugriz", out=tmp_path / "b"))
    np.testing.assert_array_equal(a.log_q_true, b.log_q_true)
    with pytest.raises(ConfigError, match="not an amortised run"):
        train(tiny_dataset, tmp_path / "bad", inputs="I_ugriz|M_ugriz", **dict(tune, subsets=("M_ugriz",)))
    with pytest.raises(ConfigError, match="both"):
        train(tiny_dataset, tmp_path / "bad2", inputs=FAMILY, **dict(TINY, finetune_subset="M_ugriz"))
