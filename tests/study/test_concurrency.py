"""Concurrent study steps: the same results.json numbers whatever runs the steps (one process,
local worker processes, a Dask cluster), and the step registry is explicit."""

from __future__ import annotations

import json
import math

import pytest

from galinfo.data.dataset import write_dataset
from galinfo.errors import ConfigError
from galinfo.study.config import config_from_dict
from galinfo.study.plan import plan_study
from galinfo.study.report import results_numbers
from galinfo.study.runner import STEP_KINDS, Study
from tests.conftest import make_catalog


def _config(path):
    return config_from_dict({
        "name": "jobs",
        "dataset": {"kind": "path", "path": str(path)},
        "training": {"preset": "tiny", "max_steps": 6, "overrides": {"eval_every": 3, "checkpoint_every": 3}},
        "latent_models": ["M_ugriz"],
        "causal": [{"latent": "M_ugriz", "query": "z", "k": 20}],
        "pid": {"tuples": ["M_ugriz,Morph"], "estimator": "model", "bootstrap": 20},
    })


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ds") / "cat", make_catalog(400, seed=5))


@pytest.fixture(scope="module")
def serial(dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "study"
    Study(_config(dataset), out, progress=False).run()
    return out


def assert_same_numbers(a, b):
    na, nb = results_numbers(json.loads(a.read_text())), results_numbers(json.loads(b.read_text()))
    assert na.keys() == nb.keys()
    assert len(na) > 100  # estimation, knn, pid and causal numbers, not an empty report
    for k, x in na.items():
        y = nb[k]
        if isinstance(x, float) and math.isnan(x):
            assert isinstance(y, float) and math.isnan(y), k
        else:
            # float32 sums in another order (a worker has fewer torch threads) move the 8th digit
            assert y == pytest.approx(x, rel=1e-5, abs=1e-7), k


def test_every_planned_kind_is_registered(dataset):
    assert {s.kind for s in plan_study(_config(dataset))} <= set(STEP_KINDS)
    assert STEP_KINDS["causal"].section is not None and STEP_KINDS["causal"].truth is not None


@pytest.mark.parametrize("models", ["amortised", "dedicated"])
def test_the_sufficiency_check_reuses_an_amortised_subset(dataset, models):
    """Each latent gets a ce model of its inputs: with pid.models amortised, the subset step that
    already predicts that input set (one step per name); otherwise a dedicated model."""
    from dataclasses import replace

    cfg = replace(_config(dataset), pid_models=models, latent_models=("M_ugriz", "M_ugriz|zspec"))
    steps = plan_study(cfg)
    names = [s.name for s in steps]
    assert len(names) == len(set(names))
    kind = {s.name: s.kind for s in steps}
    assert kind["model:ce:M_ugriz"] == ("subset" if models == "amortised" else "model")
    assert kind["model:ce:M_ugriz|zspec"] == "model"  # not an input set of the decompositions
    position = {n: i for i, n in enumerate(names)}
    for s in steps:  # every step after its dependencies: a subset after its family's network
        assert all(position[d] < position[s.name] for d in s.deps), s.name
    if models == "amortised":
        family = steps[position["model:ce:M_ugriz"]].deps
        assert [kind[d] for d in family] == ["model"] and steps[position[family[0]]].params["amortised"]
        assert {"model", "subset"} <= set(STEP_KINDS)


@pytest.mark.parametrize("kwargs, needle", [
    ({"jobs": 0}, "--jobs 0 must be at least 1"),
    ({"jobs": 2, "dask_address": "tcp://127.0.0.1:1"}, "not both"),
])
def test_bad_concurrency_options(dataset, tmp_path, kwargs, needle):
    with pytest.raises(ConfigError, match=needle):
        Study(_config(dataset), tmp_path, progress=False, **kwargs)


@pytest.mark.slow
def test_two_jobs_give_the_numbers_of_one(dataset, serial, tmp_path):
    out = tmp_path / "study"
    started = []
    Study(_config(dataset), out, progress=False, jobs=2, on_step=lambda s: started.append(s.name)).run()
    assert_same_numbers(serial / "results.json", out / "results.json")
    # dependencies respected: each step started after the steps it needs
    steps = {s.name: s for s in plan_study(_config(dataset))}
    for i, name in enumerate(started):
        assert set(steps[name].deps) <= set(started[:i]), name
    # the same caching as one process: a rerun with one job does nothing
    again = []
    Study(_config(dataset), out, progress=False, on_step=lambda s: again.append(s.name)).run()
    assert again == []


@pytest.mark.slow
def test_a_dask_local_cluster_gives_the_numbers_of_one_process(dataset, serial, tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is the optional extra 'dask'")
    out = tmp_path / "study"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        Study(_config(dataset), out, progress=False, dask_address=cluster.scheduler_address).run()
    assert_same_numbers(serial / "results.json", out / "results.json")


def test_a_failing_step_stops_new_work_and_keeps_finished_steps(dataset, tmp_path):
    def fail_on_union(step):
        if step.name == "model:ce:M_ugriz|Morph":
            raise RuntimeError("boom")

    out = tmp_path / "study"
    with pytest.raises(RuntimeError, match="boom"):
        Study(_config(dataset), out, progress=False, jobs=2, on_step=fail_on_union).run()
    assert (out / "steps" / "dataset" / "done.json").exists()
    assert not (out / "steps" / "report" / "done.json").exists()


@pytest.mark.slow
def test_report_shows_per_class_accuracy_and_latent_sufficiency(serial):
    results = json.loads((serial / "results.json").read_text())
    est = results["estimation"]
    suff = results["sufficiency"]["M_ugriz"]
    assert suff["val_ce_latent"] == pytest.approx(-est["scl:M_ugriz"]["val"]["mean_log_q_true"])
    assert suff["val_ce_ce"] == pytest.approx(-est["ce:M_ugriz"]["val"]["mean_log_q_true"])
    assert suff["gap_nats"] == pytest.approx(suff["val_ce_latent"] - suff["val_ce_ce"])
    assert suff["sufficient"] == (suff["gap_nats"] <= suff["margin_nats"])
    by_class = est["scl:M_ugriz"]["by_group"]["class"]
    assert sum(g["n"] for g in by_class.values()) == est["scl:M_ugriz"]["test"]["n"]
    html = (serial / "report.html").read_text()
    assert "Accuracy of each model per galaxy class" in html and "in bins of true log M*" in html
    assert "latent sufficiency" in html
    verdict = "sufficient" if suff["sufficient"] else "latent not sufficient: not interpretable"
    assert f"<td>{verdict}</td>" in html
    # Gaussian-copula cross-checks of the tuple from the two source models' latents
    cop = results["pid_copula"]["<M_ugriz, Morph>"]
    assert cop["n"] == est["ce:M_ugriz"]["test"]["n"]
    for atoms in (cop["mmi"], cop["dep"]):
        assert atoms["red"] + atoms["unq1"] + atoms["unq2"] + atoms["syn"] == pytest.approx(cop["mmi"]["i12"], abs=1e-9)
    assert cop["mmi"]["red"] == pytest.approx(min(cop["mmi"]["i1"], cop["mmi"]["i2"]))
    assert "Gaussian-copula mutual informations" in html


def test_dask_missing_is_one_line(dataset, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "distributed", None)  # as if the extra 'dask' were not installed
    with pytest.raises(ConfigError, match=r"--dask needs dask.distributed: pip install 'galinfo\[dask\]'"):
        Study(_config(dataset), tmp_path / "s", progress=False, dask_address="tcp://127.0.0.1:1").run()
    assert not (tmp_path / "s" / "steps").exists()


def test_steps_queued_in_a_pool_are_cancelled_after_a_failure(dataset, tmp_path):
    import threading
    from concurrent.futures import Future

    from galinfo.study.plan import Step

    study = Study(_config(dataset), tmp_path / "s", progress=False)
    futures: dict[str, Future] = {}

    def submit(step):  # a pool that starts only the first step; the others wait in its queue
        fut = Future()
        futures[step.name] = fut
        if step.name == "a":
            fut.set_running_or_notify_cancel()
            threading.Timer(0.05, fut.set_exception, (RuntimeError("boom"),)).start()
        return fut

    steps = [Step("pid", name, {}, ()) for name in ("a", "b", "c")]
    with pytest.raises(RuntimeError, match="boom"):
        study._schedule(list(steps), submit, lambda names: None, lambda: None)
    assert futures["b"].cancelled() and futures["c"].cancelled()
