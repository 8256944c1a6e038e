import json
from dataclasses import replace

import pytest

from galinfo.data.dataset import write_dataset
from galinfo.errors import ConfigError, GalinfoError
from galinfo.models.outputs import read_predictions
from galinfo.study.config import config_from_dict, load_preset
from galinfo.study.plan import gpu_hours, plan_study
from galinfo.study.runner import Study
from tests.conftest import make_catalog


def _tiny_training():
    return {"preset": "tiny", "max_steps": 6, "overrides": {"eval_every": 3, "checkpoint_every": 3}}


def _config(path, **extra):
    raw = {
        "name": "tiny",
        "dataset": {"kind": "path", "path": str(path)},
        "training": _tiny_training(),
        "pid": {"tuples": ["M_ugriz,Morph"], "estimator": "model", "bootstrap": 20},
    }
    raw.update(extra)
    return config_from_dict(raw)


@pytest.fixture(scope="module")
def tabular_dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("ds") / "cat", make_catalog(240, seed=3))


@pytest.mark.parametrize("raw, needle", [
    ({"latent_models": ["M_ugrizX"]}, "bad magnitude list"),
    ({"pid": {"tuples": ["M_ugriz"]}}, "two input sets separated by a comma"),
    ({"causal": [{"latent": "M_ugriz", "query": "ab_r"}]}, "which latent_models lacks"),
    ({"bogus": 1}, "unknown key(s) in study config: bogus"),
    ({"training": {"preset": "cpu-small", "max_step": 3}}, "unknown key(s) in training: max_step"),
    ({"dataset": {"kind": "sdss"}}, "dataset.kind 'sdss'"),
    ({"training": {"smooth": "wide"}}, "training.smooth 'wide'"),
    ({"training": {"preset": "bogus"}}, "training.preset 'bogus' is not one of"),
    ({"training": {"image_preset": "huge"}}, "training.image_preset 'huge'"),
    ({"training": {"overrides": {"learning_rate": 0.1}}}, "training.overrides: unknown training option(s): learning_rate"),
])
def test_bad_configs_are_one_line(raw, needle, tabular_dataset):
    base = {"name": "x", "dataset": {"kind": "path", "path": str(tabular_dataset)}}
    with pytest.raises(GalinfoError) as err:
        config_from_dict({**base, **raw})
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("extra, needle", [
    ({"pid": {"tuples": ["I_ugriz,M_W123"]}}, r"I_ugriz\S* cannot run on .*no image cube"),
    ({"pid": {"tuples": ["I_ugriz,M_W123"], "models": "dedicated"}}, "I_ugriz cannot run on .*no image cube"),
    ({"latent_models": ["M_ugriz"], "causal": [{"latent": "M_ugriz", "query": "no_such_column"}]},
     "column no_such_column is not in"),
    ({"discover": {"vars": ["logmstar", "nope"]}}, "discover variable nope"),
])
def test_unavailable_data_fails_before_training(tmp_path, tabular_dataset, extra, needle):
    study = Study(_config(tabular_dataset, **extra), tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match=needle):
        study.run()
    assert not (tmp_path / "out" / "models").exists()


def _dedicated_pid():
    return {"tuples": ["M_ugriz,Morph"], "estimator": "model", "bootstrap": 20, "models": "dedicated"}


@pytest.mark.slow
def test_interrupted_study_resumes_without_retraining(tmp_path, tabular_dataset, monkeypatch):
    """Dedicated models (pid.models: dedicated): one model per input set, each trained once."""
    import galinfo.models.training as training

    cfg = _config(tabular_dataset, pid=_dedicated_pid())
    out = tmp_path / "study"

    def stop_at_second_model(step):
        if step.name == "model:ce:Morph":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Study(cfg, out, progress=False, on_step=stop_at_second_model).run()
    first = out / "steps" / "model_ce_M_ugriz" / "done.json"
    assert first.exists()
    stamp = first.stat().st_mtime_ns

    trained = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: trained.append(k["inputs"]) or real_train(*a, **k))
    Study(cfg, out, progress=False).run()
    assert trained == ["Morph", "M_ugriz|Morph"]  # M_ugriz was finished: not trained again
    assert first.stat().st_mtime_ns == stamp
    results = json.loads((out / "results.json").read_text())
    assert set(results) >= {"estimation", "pid", "causal"}
    atoms = results["pid"]["<M_ugriz, Morph>"][0]
    assert atoms["red"] + atoms["unq1"] + atoms["unq2"] + atoms["syn"] == pytest.approx(atoms["i12"], abs=1e-9)
    html = (out / "report.html").read_text()
    assert "Information decomposition" in html and "data:image/png;base64," in html

    trained.clear()  # a third run does nothing at all
    Study(cfg, out, progress=False).run()
    assert trained == []

    # smoothing the pdfs re-predicts and re-analyses, but keeps the trained weights
    smoothed = _config(tabular_dataset, training={**_tiny_training(), "smooth": "auto"}, pid=_dedicated_pid())
    study = Study(smoothed, out, progress=False)
    weights = study.model_dir("ce", "M_ugriz") / "best.pt"
    stamp = weights.stat().st_mtime_ns
    study.run()
    assert weights.stat().st_mtime_ns == stamp  # the finished run was resumed, not retrained
    pred = read_predictions(study.model_dir("ce", "M_ugriz"))
    assert pred.config["pdf_smoothing"]["chosen_on"] == "val"
    assert json.loads((out / "results.json").read_text())["pid"]["<M_ugriz, Morph>"]


@pytest.mark.slow
def test_interrupted_amortised_study_resumes_without_retraining(tmp_path, tabular_dataset, monkeypatch):
    """Amortised models (the default): one network for the catalogue family, trained once; its
    input sets are predicted by subset steps, which resume and re-predict without retraining."""
    import galinfo.models.training as training

    cfg = _config(tabular_dataset)
    out = tmp_path / "study"
    steps = {s.name: s for s in plan_study(cfg)}
    family = [s for s in steps.values() if s.kind == "model"]
    assert len(family) == 1 and family[0].params["amortised"]
    assert {steps[f"model:ce:{m}"].kind for m in ("M_ugriz", "Morph", "M_ugriz|Morph")} == {"subset"}

    def stop_at_second_subset(step):
        if step.name == "model:ce:Morph":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        Study(cfg, out, progress=False, on_step=stop_at_second_subset).run()
    first = out / "steps" / "model_ce_M_ugriz" / "done.json"
    assert first.exists()
    stamp = first.stat().st_mtime_ns

    trained = []
    real_train = training.train
    monkeypatch.setattr(training, "train", lambda *a, **k: trained.append(k["inputs"]) or real_train(*a, **k))
    Study(cfg, out, progress=False).run()
    assert trained == []  # the family network was finished: not trained again
    assert first.stat().st_mtime_ns == stamp
    results = json.loads((out / "results.json").read_text())
    atoms = results["pid"]["<M_ugriz, Morph>"][0]
    assert atoms["red"] + atoms["unq1"] + atoms["unq2"] + atoms["syn"] == pytest.approx(atoms["i12"], abs=1e-9)
    assert set(results["left_out"]) == {s for s in steps if steps[s].kind != "report"}

    # smoothing the pdfs re-predicts the subsets and re-analyses, but keeps the trained weights
    smoothed = _config(tabular_dataset, training={**_tiny_training(), "smooth": "auto"})
    study = Study(smoothed, out, progress=False)
    weights = study.model_dir("amortised", family[0].params["inputs"]) / "best.pt"
    stamp = weights.stat().st_mtime_ns
    study.run()
    assert trained == []
    assert weights.stat().st_mtime_ns == stamp
    pred = read_predictions(study.model_dir("ce", "M_ugriz"))
    assert pred.config["pdf_smoothing"]["chosen_on"] == "val"


@pytest.mark.parametrize("models", ["dedicated", "amortised"])
def test_smoothing_enters_the_model_keys_only_when_asked(tabular_dataset, models):
    pid = {"tuples": ["M_ugriz,Morph"], "models": models}
    raw = {s.name: s for s in plan_study(_config(tabular_dataset, pid=pid))}
    auto = {s.name: s for s in plan_study(_config(tabular_dataset, pid=pid,
                                                  training={**_tiny_training(), "smooth": "auto"}))}
    assert raw.keys() == auto.keys()
    kinds = {step.kind for step in raw.values()}
    assert ("subset" in kinds) == (models == "amortised")
    for name, step in raw.items():
        if step.kind == "model" and not step.params.get("amortised"):
            assert "smooth" not in step.params and auto[name].params["smooth"] == "auto"
            assert step.key() != auto[name].key()
        elif step.kind == "model":  # an amortised network: smoothing is applied by its subset steps
            assert "smooth" not in step.params and "smooth" not in auto[name].params
        elif step.kind == "subset":
            assert auto[name].params["smooth"] == "auto"
            assert step.key() != auto[name].key()


@pytest.mark.parametrize("models", ["dedicated", "amortised"])
def test_paper_plan_lists_every_model(models):
    cfg = replace(load_preset("paper"), pid_models=models)
    steps = plan_study(cfg)
    models_ = [s for s in steps if s.kind in ("model", "subset")]
    names = {s.name for s in models_}
    assert len(names) == len(models_)  # each model once
    wanted = {"model:ce:I_ugriz_norm", "model:ce:I_g", "model:ce:M_ugriz|M_W123"}
    assert {"model:scl:I_ugriz|M_W123|zspec"} | wanted <= names
    kind = {s.name: s.kind for s in models_}
    assert {kind[n] for n in wanted} == {"model" if models == "dedicated" else "subset"}
    assert gpu_hours(steps) > 1.0


def test_bad_preset_is_one_line_exit_2_before_any_work(tmp_path):
    import subprocess
    import sys

    cfg = tmp_path / "study.yaml"
    cfg.write_text("name: x\ndataset: {kind: mock, n: 200}\ntraining: {preset: bogus}\n"
                   "pid: {tuples: ['M_ugriz,Morph']}\n")
    res = subprocess.run([sys.executable, "-m", "galinfo.cli", "study", str(cfg), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "training.preset 'bogus'" in res.stderr
    assert not (tmp_path / "out" / "dataset").exists()


def test_study_writes_every_file_atomically(tmp_path, tabular_dataset, monkeypatch):
    """state, keys, summaries, reports and figures go through a temporary file and a rename: a
    plain Path.write_text that fails half-way must never be on the study's path."""
    from pathlib import Path

    def torn_write(self, *a, **k):
        raise OSError(f"non-atomic write of {self}")

    monkeypatch.setattr(Path, "write_text", torn_write)
    cfg = _config(tabular_dataset, latent_models=["M_ugriz"],
                  causal=[{"latent": "M_ugriz", "query": "ab_r", "k": 20}])
    Study(cfg, tmp_path / "out", progress=False).run()
    assert (tmp_path / "out" / "results.json").exists()
    assert (tmp_path / "out" / "models" / "scl-M_ugriz" / "study_key").exists()


def test_bad_pid_models_is_one_line(tabular_dataset):
    with pytest.raises(ConfigError, match="pid.models 'shared' is not one of amortised, dedicated"):
        _config(tabular_dataset, pid={"tuples": ["M_ugriz,Morph"], "models": "shared"})


def test_fine_tuned_information_models_and_the_tightness_audit(tmp_path, tabular_dataset):
    """pid.amortised.finetune_steps gives every input set its own fine-tune of the family network;
    training.ce_overrides reach the ce models only; tightness.audit trains dedicated models whose gaps
    (and the latent model's) land in results.json, and the sufficiency check sees every comparator."""
    from galinfo.models.checkpoint import LAST, load_checkpoint

    cfg = _config(tabular_dataset, latent_models=["M_ugriz"],
                  training={**_tiny_training(), "ce_overrides": {"label_sigma": 2.0, "weight_decay": 1e-3}},
                  pid={"tuples": ["M_ugriz,Morph"], "estimator": "model", "bootstrap": 20,
                       "amortised": {"finetune_steps": 4}},
                  tightness={"audit": ["M_ugriz|Morph", "M_ugriz"], "max_steps": 6})
    steps = {s.name: s for s in plan_study(cfg)}
    assert steps["model:ce:Morph"].params["finetune"]["max_steps"] == 4
    assert steps["model:scl:M_ugriz"].params["overrides"].get("label_sigma") is None
    assert steps["model:audit:M_ugriz|Morph"].params["overrides"]["label_sigma"] == 2.0
    out = tmp_path / "study"
    study = Study(cfg, out, progress=False)
    study.run()
    tuned = load_checkpoint(study.model_dir("ce", "Morph") / LAST)
    assert tuned["train_config"]["finetune_subset"] == "Morph" and tuned["train_config"]["label_sigma"] == 2.0
    assert tuned["run_state"]["history"][0]["step"] == 0  # the family's weights, evaluated on Morph alone
    results = json.loads((out / "results.json").read_text())
    rows = {(r["inputs"], r["independent"]) for r in results["tightness"]["rows"]}
    assert {("M_ugriz|Morph", "dedicated ce (audit)"), ("M_ugriz", "dedicated ce (audit)"),
            ("M_ugriz", "latent model (scl)")} <= rows
    for r in results["tightness"]["rows"]:
        assert r["gap_nats"] == pytest.approx(r["mean_log_q_independent"] - r["mean_log_q_used"], abs=1e-9)
        assert r["floor_nats"] >= 0
    assert set(results["tightness"]["slack"]) == {"M_ugriz", "M_ugriz|Morph"}
    suff = results["sufficiency"]["M_ugriz"]
    assert set(suff["comparators"]) == {"fine-tuned amortised ce", "dedicated ce (audit)"}
    assert suff["val_ce_ce"] == min(suff["comparators"].values())
    assert set(results["pid_mmi_averages"]["<M_ugriz, Morph>"]) == {"red", "unq1", "unq2", "syn"}
    html = (out / "report.html").read_text()
    assert "Tightness of the information models" in html and "MMI on the averages" in html
