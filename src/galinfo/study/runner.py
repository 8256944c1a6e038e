"""Run a planned study: every step once its dependencies are done, cached under a key of its
parameters and upstream keys, so that a rerun (after a crash, or with more steps) skips what is done.

Independent steps run concurrently on local worker processes (``jobs > 1``) or on a Dask cluster
(``dask_address``); each step seeds the global random generators from its own cache key, so the
results do not depend on where or in which order the steps ran.

Layout of ``OUT``::

    study.json                 the validated config
    dataset/                   the study's dataset (mock or import), unless the config names a folder
    models/<objective>-<inputs>/   training runs (checkpoints, predictions.h5, metrics.json)
    steps/<step>/done.json     {key, summary} of every finished step, plus the step's files
    report.html, results.json  the report (galinfo.study.report)
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from galinfo.atomic import slug
from galinfo.data.dataset import Dataset, sha256_file
from galinfo.data.validate import in_range
from galinfo.errors import ConfigError, DataValidationError
from galinfo.models.outputs import PREDICTIONS_FILE
from galinfo.report.html import write_text_atomic
from galinfo.study import analyses
from galinfo.study.config import StudyConfig
from galinfo.study.plan import Step, model_step_name, plan_study

log = logging.getLogger(__name__)


class Study:
    """A study in an output folder. ``run()`` executes (or resumes) it and writes the report."""

    def __init__(self, cfg: StudyConfig, out: str | os.PathLike, *, progress: bool = True,
                 on_step: Callable[[Step], None] | None = None, jobs: int = 1,
                 dask_address: str | None = None):
        if int(jobs) < 1:
            raise ConfigError(f"--jobs {jobs} must be at least 1")
        if dask_address is not None and int(jobs) != 1:
            raise ConfigError("give either --jobs N (local worker processes) or --dask ADDRESS, not both")
        self.cfg = cfg
        self.out = Path(out)
        self.progress = progress
        self.on_step = on_step
        self.jobs = int(jobs)
        self.dask_address = dask_address
        self.steps = plan_study(cfg)
        self.summaries: dict[str, dict] = {}
        self.keys: dict[str, str] = {}

    # -- paths --------------------------------------------------------------------------------
    @property
    def dataset_path(self) -> Path:
        if self.cfg.dataset.kind == "path":
            return Path(self.cfg.dataset.path)
        return self.out / "dataset"

    def model_dir(self, objective: str, inputs: str) -> Path:
        """The run folder of the model of ``inputs``: an external run when the config names one."""
        if inputs in self.cfg.external_models:
            return Path(self.cfg.external_models[inputs])
        return self.out / "models" / slug(f"{objective}-{inputs}")

    def step_dir(self, step: Step) -> Path:
        return self.out / "steps" / slug(step.name)

    # -- validation before any work ------------------------------------------------------------
    def check_dataset(self, ds: Dataset) -> None:
        """Fail early, with one line, when a model, question or tuple cannot run on ``ds``."""
        for step in self.steps:
            if step.kind in ("model", "audit"):
                ok, why = ds.input_set_status(step.params["inputs"])
                if not ok:
                    raise ConfigError(f"{step.name} cannot run on {ds.path}: {why}")
        if self.cfg.target not in ds.catalog.colnames:
            raise ConfigError(f"target column {self.cfg.target} is not in {ds.path}")
        for q in self.cfg.causal:
            for col in (q.query, q.given):
                if col and col not in ds.catalog.colnames:
                    raise ConfigError(f"causal question {q.label}: column {col} is not in {ds.path}")
        for col in self.cfg.discover_vars:
            if col not in ds.catalog.colnames:
                raise ConfigError(f"discover variable {col} is not in {ds.path}")
        for t in self.cfg.all_tuples:
            for m in t.models:
                ok, why = ds.input_set_status(m)
                if not ok:
                    raise ConfigError(f"tuple {t.label} needs {m}, which {ds.path} cannot provide: {why}")

    def check_before_data(self) -> None:
        """Checks possible before the dataset exists (e.g. image models on an image-less source)."""
        from galinfo.data.inputs import parse_inputs

        if self.cfg.dataset.kind in ("na10", "lcs", "table"):
            for step in self.steps:
                if step.kind in ("model", "audit") and parse_inputs(step.params["inputs"]).has_images:
                    raise ConfigError(
                        f"{step.name} needs images, but a {self.cfg.dataset.kind} catalogue has none"
                    )
            if not Path(self.cfg.dataset.path).exists():
                raise ConfigError(f"dataset.path {self.cfg.dataset.path} does not exist")
        if self.cfg.dataset.kind == "path":
            Dataset.open(self.cfg.dataset.path)  # raises on a bad folder
        for inputs, run in self.cfg.external_models.items():
            if not (Path(run) / PREDICTIONS_FILE).exists():
                raise ConfigError(f"external_models: {inputs} names {run}, which holds no {PREDICTIONS_FILE} "
                                  "(write it with galinfo import predictions)")

    # -- caching -------------------------------------------------------------------------------
    def _done(self, step: Step) -> dict | None:
        path = self.step_dir(step) / "done.json"
        if not path.exists():
            return None
        try:
            done = json.loads(path.read_text())
        except json.JSONDecodeError:
            return None
        return done if done.get("key") == self.keys[step.name] else None

    def _mark_done(self, step: Step, summary: dict) -> None:
        payload = {"key": self.keys[step.name], "step": step.name, "summary": summary,
                   "finished_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_text_atomic(self.step_dir(step) / "done.json", json.dumps(payload, indent=1, default=_json_default))

    def _dataset_key_params(self) -> dict:
        spec = asdict(self.cfg.dataset)
        spec.pop("workers", None)  # the mock does not depend on the worker count
        if self.cfg.dataset.kind == "path":
            spec["checksum"] = Dataset.open(self.cfg.dataset.path).checksum
        elif self.cfg.dataset.kind != "mock":
            spec["source_sha256"] = sha256_file(self.cfg.dataset.path)
        return spec

    def compute_keys(self) -> None:
        for step in self.steps:
            params = self._dataset_key_params() if step.kind == "dataset" else None
            if step.kind == "external":  # a re-imported run must invalidate what was computed from it
                params = {**step.params, "sha256": sha256_file(Path(step.params["run"]) / PREDICTIONS_FILE)}
            if params is not None:
                step = Step(step.kind, step.name, params, step.deps)
            self.keys[step.name] = step.key(self.keys)

    # -- running -------------------------------------------------------------------------------
    def execute(self, step: Step) -> dict:
        """Run one step (its dependencies done) and return its summary; seeds the global random
        generators from the step's key first, so that the result does not depend on what ran before."""
        seed_globals(int(self.keys[step.name], 16))
        started = time.perf_counter()
        summary = STEP_KINDS[step.kind].run(self, step)
        summary["seconds"] = round(time.perf_counter() - started, 2)
        return summary

    def _finish(self, step: Step, summary: dict) -> None:
        self.summaries[step.name] = summary
        self._mark_done(step, summary)
        if step.kind == "dataset":
            self.check_dataset(Dataset.open(self.dataset_path))

    def run(self) -> dict[str, Any]:
        """Run every step not yet done, each once its dependencies are done; return the report's results."""
        self.check_before_data()
        self.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.out / "study.json", json.dumps(_config_dict(self.cfg), indent=1, default=str))
        self.compute_keys()
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), disable=not self.progress, transient=False) as bar:
            task = bar.add_task("study", total=len(self.steps))
            waiting = []
            for step in self.steps:
                done = self._done(step)
                if done is None:
                    waiting.append(step)
                else:
                    self.summaries[step.name] = done["summary"]
                    bar.advance(task)
            with self._executors() as submit:
                self._schedule(waiting, submit, lambda names: bar.update(task, description=", ".join(names)),
                               lambda: bar.advance(task))
        return self.summaries.get("report", {})

    def _schedule(self, waiting: list[Step], submit: Callable[[Step], Future],
                  show: Callable[[list[str]], None], advance: Callable[[], None]) -> None:
        """Submit each waiting step once all its dependencies have summaries; record results as they
        come. After a failure nothing new starts; the steps already running are finished and
        recorded (so a rerun resumes after them), then the first error is raised."""
        running: dict[Future, Step] = {}
        error: BaseException | None = None
        while True:
            try:
                for step in [s for s in waiting if all(d in self.summaries for d in s.deps)]:
                    if error is not None:
                        break
                    waiting.remove(step)
                    if self.on_step is not None:
                        self.on_step(step)
                    fut = submit(step)
                    running[fut] = step
                    if fut.done():  # ran here (jobs 1): record it before starting the next one
                        break
            except BaseException as exc:  # noqa: BLE001 - e.g. an interrupt from on_step
                error = exc
            if not running:
                break
            show([s.name for s in running.values()])
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                step = running.pop(fut)
                try:
                    summary = fut.result()
                except BaseException as exc:  # noqa: BLE001 - re-raised below, after the others finish
                    error = error or exc
                    # a worker pool queues what it was given: steps not started yet are cancelled
                    for queued in [f for f in running if f.cancel()]:
                        running.pop(queued)
                    continue
                try:
                    self._finish(step, summary)
                except BaseException as exc:  # noqa: BLE001
                    error = error or exc
                advance()
            if error is not None and not running:
                break
        if error is not None:
            raise error
        if waiting:
            raise RuntimeError(f"steps never became ready: {', '.join(s.name for s in waiting)}")

    @contextmanager
    def _executors(self) -> Iterator[Callable[[Step], Future]]:
        """``submit(step) -> Future``: in this process (jobs 1), on local worker processes, or on Dask
        (GPU steps ask for the worker resource ``GPU=1``)."""
        if self.dask_address is None and self.jobs == 1:
            yield self._submit_here
            return
        args = lambda step: (execute_step, self.cfg, str(self.out), step, dict(self.keys), dict(self.summaries))  # noqa: E731
        if self.dask_address is None:
            import multiprocessing

            threads = max(1, (os.cpu_count() or 1) // self.jobs)
            with _local_pool(self.jobs, multiprocessing.get_context("spawn"), threads) as pool:
                yield lambda step: pool.submit(*args(step))
            return
        try:
            from distributed import Client
        except ImportError:
            raise ConfigError("--dask needs dask.distributed: pip install 'galinfo[dask]'") from None
        with Client(self.dask_address) as client:
            cpu = client.get_executor(pure=False)
            gpu = client.get_executor(pure=False, resources={"GPU": 1})
            yield lambda step: (gpu if step.device == "gpu" else cpu).submit(*args(step))

    def _submit_here(self, step: Step) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(self.execute(step))
        except BaseException as exc:  # noqa: BLE001 - the scheduler re-raises it
            fut.set_exception(exc)
        return fut


def _local_pool(jobs: int, context: Any, threads: int) -> Executor:
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker, initargs=(threads,))


def _init_worker(threads: int) -> None:
    """A local worker process shares the cores with the others: ``threads`` torch threads each."""
    import torch

    torch.set_num_threads(threads)


def execute_step(cfg: StudyConfig, out: str, step: Step, keys: dict[str, str], summaries: dict[str, dict]) -> dict:
    """Run one step of the study in ``out`` in a worker (process or Dask) and return its summary;
    the parent records it."""
    study = Study(cfg, out, progress=False)
    study.keys = dict(keys)
    study.summaries = dict(summaries)
    return study.execute(step)


def seed_globals(seed: int) -> None:
    """Seed Python's, NumPy's and torch's global generators (for code that draws from them)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - the legacy global generator, for code that uses it
    torch.manual_seed(seed % 2**63)


def _config_dict(cfg: StudyConfig) -> dict:
    d = asdict(cfg)
    d["tuples"] = [t.label for t in cfg.tuples]
    return d


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


# -- executors ---------------------------------------------------------------------------------------
def _run_subset(study: Study, step: Step) -> dict:
    """Predictions of one input set by its family's amortised network, written where a dedicated
    model's would be (so that every analysis reads them the same way)."""
    from galinfo.models import evaluate, predict

    p = step.params
    family_run = study.model_dir("amortised", p["family"])
    out = study.model_dir("ce", p["inputs"])
    smooth = p.get("smooth")
    source = family_run
    if p.get("finetune"):  # train this input set's own copy of the family's network, then predict it
        from galinfo.models import train
        from galinfo.models.config import TrainConfig

        source = _run_folder(study, step, out)
        family_cfg = TrainConfig.from_dict(json.loads((family_run / "config.json").read_text())["train_config"])
        train(study.dataset_path, out, replace(family_cfg, finetune_from=str(family_run), finetune_subset=p["inputs"],
                                               **p["finetune"]), progress=study.progress)
    predict(source, study.dataset_path, subset=p["inputs"], out=out,
            smooth=None if smooth in (None, "none") else smooth)
    metrics = evaluate(out, study.dataset_path)
    lo, hi = study.cfg.target_range
    return {"run": str(out), "inputs": p["inputs"], "objective": "ce", "amortised_from": p["family"],
            "metrics": metrics, "left_out": _model_left_out(out, study.summaries["dataset"]["n"], lo, hi)}


def _run_dataset(study: Study, step: Step) -> dict:
    cfg = study.cfg.dataset
    out = study.dataset_path
    if cfg.kind == "mock":
        from galinfo.mock import generate

        if out.exists():
            shutil.rmtree(out)
        generate(n=cfg.n, seed=cfg.seed, out=out, workers=cfg.workers, resume=True, progress=study.progress)
    elif cfg.kind in ("na10", "lcs", "table"):
        from galinfo.data import importers

        fn = {"na10": importers.import_na10, "lcs": importers.import_lcs, "table": importers.import_table}[cfg.kind]
        fn(cfg.path, out, seed=cfg.seed, overwrite=True)
    ds = Dataset.open(out)
    prov = ds.manifest.get("provenance", {})
    return {"path": str(out), "n": ds.n, "n_per_split": ds.manifest["n_per_split"], "checksum": ds.checksum,
            "has_images": ds.has_images, "kind": cfg.kind, "provenance": prov,
            "left_out": {f"dropped at import: {why}": n for why, n in (prov.get("dropped") or {}).items() if n},
            "masked": {c: sum(r.values()) for c, r in (prov.get("masked") or {}).items()}}


def _run_folder(study: Study, step: Step, run: Path) -> Path:
    """``run``, emptied first when it holds a run of other training settings; returns it."""
    key_file = run / "study_key"
    # the pdf smoothing is applied by predict: changing it must not throw the trained weights away
    train_key = replace(step, params={k: v for k, v in step.params.items() if k != "smooth"}).key(study.keys)
    if run.exists() and (not key_file.exists() or key_file.read_text() != train_key):
        shutil.rmtree(run)  # a run of other settings: start again
    run.mkdir(parents=True, exist_ok=True)
    write_text_atomic(key_file, train_key)
    return run


def _run_model(study: Study, step: Step) -> dict:
    from galinfo.models import evaluate, predict, train

    p = step.params
    amortised = bool(p.get("amortised"))
    run = _run_folder(study, step, study.model_dir("amortised" if amortised else p.get("role", p["objective"]),
                                                   p["inputs"]))
    lo, hi = p["target_range"]
    extra = {k: p[k] for k in ("arch", "arch_overrides", "batch_size") if k in p}
    if amortised:
        extra.update(amortised=True, subsets=tuple(p["subsets"]), lr_schedule="onecycle")
    train(study.dataset_path, run, inputs=p["inputs"], objective=p["objective"], preset=p["preset"],
          seed=p["seed"], max_steps=p["max_steps"], target=p["target"], target_low=lo, target_high=hi,
          n_bins=p["n_bins"], progress=study.progress, **{**p["overrides"], **extra})
    if amortised:  # its input sets are predicted by the 'subset' steps
        history = json.loads((run / "history.json").read_text())
        best = min(history, key=lambda h: h["val_ce"]) if history else {}
        return {"run": str(run), "inputs": p["inputs"], "objective": "ce", "amortised": True,
                "subsets": p["subsets"], "best_val_ce": best.get("val_ce"), "best_step": best.get("step"),
                "left_out": _amortised_left_out(study, p["inputs"], p["target"], lo, hi)}
    predict(run, study.dataset_path, smooth=p.get("smooth"))
    metrics = evaluate(run, study.dataset_path)
    return {"run": str(run), "inputs": p["inputs"], "objective": p["objective"], "metrics": metrics,
            **({"role": p["role"]} if "role" in p else {}),
            "left_out": _model_left_out(run, study.summaries["dataset"]["n"], lo, hi)}


def _model_left_out(run: Path, n_dataset: int, lo: float, hi: float) -> dict[str, int]:
    """Galaxies a model left out, per reason: no prediction (an input missing), and no defined
    ln q (target missing or outside the bins: not trained on, left out of information measures)."""
    from galinfo.models.outputs import read_predictions

    pred = read_predictions(run)
    has = pred.predicted()
    counts = {"an input missing (no prediction)": n_dataset - len(pred) + int((~has).sum()),
              f"{pred.target_column} missing or outside [{lo:g}, {hi:g}] (not trained on, ln q undefined)":
                  int((has & ~np.isfinite(pred.log_q_true)).sum())}
    return {why: n for why, n in counts.items() if n}


def _amortised_left_out(study: Study, family: str, target: str, lo: float, hi: float) -> dict[str, int]:
    """Galaxies an amortised network was not trained on, per reason. A galaxy lacking an input
    group is trained on with that group masked; its predictions are counted by the subset steps."""
    from galinfo.models.amortised import AmortisedSpec

    ds = Dataset.open(study.dataset_path)
    usable = np.zeros(ds.n, dtype=bool)
    usable[AmortisedSpec.usable_rows_of(ds, family)] = True
    defined = in_range(ds.column(target), lo, hi)
    counts = {"an image band's magnitude missing (not trained on)": int((~usable).sum()),
              f"{target} missing or outside [{lo:g}, {hi:g}] (not trained on)": int((usable & ~defined).sum())}
    return {why: n for why, n in counts.items() if n}


def _run_external(study: Study, step: Step) -> dict:
    """Check a model trained outside galinfo against the study (dataset, input set, target) and
    evaluate it (``RUN/metrics.json``); nothing is trained."""
    from galinfo.models import evaluate
    from galinfo.models.outputs import read_predictions

    p = step.params
    run = Path(p["run"])
    pred = read_predictions(run)
    ds = Dataset.open(study.dataset_path)
    if pred.data_checksum != ds.checksum:
        raise ConfigError(f"external model {p['inputs']} at {run} was imported on another dataset than {ds.path}")
    if pred.input_set != p["inputs"]:
        raise ConfigError(f"external_models: {run} holds a model of {pred.input_set}, not {p['inputs']}")
    if pred.target_column != study.cfg.target:
        raise ConfigError(f"external model {p['inputs']} estimates {pred.target_column}, the study {study.cfg.target}")
    if p["objective"] == "scl" and pred.latent is None:
        raise ConfigError(f"external model {p['inputs']} has no latent, but the study uses it as a latent model")
    metrics = evaluate(run, ds) if pred.pdf_mean is not None else {}
    no_prediction = ds.n - len(pred) + int((~pred.predicted()).sum())
    left_out = {"not covered by the external model (no prediction)": no_prediction} if no_prediction else {}
    return {"run": str(run), "inputs": p["inputs"], "objective": "external", "metrics": metrics,
            "left_out": left_out}


def _run_knn(study: Study, step: Step) -> dict:
    from galinfo.knn.outputs import run_adaptive_knn, write_knn
    from galinfo.metrics import pit, pit_wasserstein, sigma_mad
    from galinfo.models.outputs import read_predictions

    run = study.model_dir("scl", step.params["latent"])
    pred = read_predictions(run)
    n_train = int(pred.mask("train").sum())
    kmax = int(min(2000, max(10, n_train // 4)))
    _, arrays = run_adaptive_knn(pred, kmax=kmax)
    write_knn(study.step_dir(step) / "knn.h5", arrays, {"kmax": kmax, "input_set": pred.input_set})
    has = pred.predicted()
    test = pred.mask("test") & has & in_range(pred.target, pred.bins.low, pred.bins.high)
    raw_pit = pit(pred.pdf[test], pred.bins, pred.target[test]) if pred.pdf is not None else None
    left_out = {"test galaxies without a latent (an input missing)": int((pred.mask("test") & ~has).sum()),
                f"test galaxies with {pred.target_column} missing or outside the bins":
                    int((pred.mask("test") & has & ~test).sum())}
    return {
        "latent": pred.input_set, "kmax": kmax, "n_test": int(test.sum()),
        "left_out": {why: n for why, n in left_out.items() if n},
        "pit_w1_softmax": float(pit_wasserstein(raw_pit)) if raw_pit is not None else None,
        "pdf_smoothing": float(pred.pdf_smoothing),
        "pit_w1_knn": float(pit_wasserstein(arrays["pit"][test])),
        "sigma_mad_softmax": (float(sigma_mad(pred.pdf_mean[test], pred.target[test]))
                              if pred.pdf_mean is not None else None),
        "sigma_mad_knn": float(sigma_mad(arrays["pdf_mean"][test], pred.target[test])),
    }


def _run_pid(study: Study, step: Step) -> dict:
    from astropy.table import Table

    from galinfo.info.pipeline import run_pid
    from galinfo.info.tuples import TupleSpec

    p = step.params
    t = TupleSpec(p["source1"], p["source2"])
    n_galaxies = study.summaries["dataset"]["n"]
    kwargs = {"n_boot": p["bootstrap"], "seed": p["seed"], "min_count": 20 if n_galaxies < 20000 else 50}
    copula = None
    if p["estimator"] == "model":
        from galinfo.models.outputs import read_predictions
        from galinfo.study.crosschecks import copula_cross_check

        runs = [study.model_dir("ce", m) for m in t.models]
        # the prior is the training split's histogram on the same bins (the models' own training
        # targets; the test galaxies' targets never enter it)
        files = run_pid(study.dataset_path, t, study.step_dir(step), runs=runs, prior="train", **kwargs)
        copula = copula_cross_check(read_predictions(runs[0]), read_predictions(runs[1]))
    else:
        files = run_pid(study.dataset_path, t, study.step_dir(step), estimate=True, **kwargs)
    summary = Table.read(files["summary"])
    figures = [str(files[k]) for k in ("stack_logmstar", "stack_mag_r") if k in files]
    record = json.loads(Path(files["config"]).read_text())
    return {"tuple": t.label, "source1": t.source1, "source2": t.source2, "estimator": p["estimator"],
            "n": len(Table.read(files["table"])), "summary": _table_records(summary), "figures": figures,
            "copula": copula, "left_out": record.get("left_out", {})}


def _table_records(table) -> list[dict]:
    """Rows of an astropy table as plain JSON-ready dicts."""
    return [{k: _py(v) for k, v in zip(table.colnames, row, strict=True)} for row in table.iterrows()]


def _py(v: Any) -> Any:
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


def _run_report(study: Study, step: Step) -> dict:
    from astropy.table import Table

    from galinfo.info.plots import plot_atom_bars
    from galinfo.models.outputs import read_predictions
    from galinfo.report.figures import plot_estimates, plot_pit
    from galinfo.report.html import Figure
    from galinfo.study import report as rep
    from galinfo.study.comparisons import images_section, images_vs_photometry
    from galinfo.study.paper_claims import paper_section, paper_vs_run
    from galinfo.study.tightness import study_audit, tightness_section

    by_kind: dict[str, list[dict]] = {}
    for s in study.steps:
        if s.kind != "report":
            by_kind.setdefault(s.kind, []).append(study.summaries[s.name])
    fig_dir = study.out / "figures"
    models = ([m for m in by_kind.get("model", []) if not m.get("amortised")] + by_kind.get("subset", [])
              + [m for m in by_kind.get("external", []) if m["metrics"]])
    est, pits = {}, {}
    for m in models:
        pred = read_predictions(m["run"])
        test = pred.mask("test") & np.isfinite(pred.target) & pred.predicted()
        est[f"{m['objective']}: {m['inputs']}"] = (pred.target[test], pred.pdf_mean[test])
        if m["objective"] == "scl" and pred.pdf is not None:
            pits[f"softmax {m['inputs']}"] = (pred.pdf[test], pred.bins.edges, pred.target[test])
    figures = []
    if est:
        figures.append(Figure(plot_estimates(est, fig_dir / "estimates"),
                              "Estimated against true log M* for the test galaxies, one panel per model; the dashed "
                              "line is equality. A tighter band along it means a better estimator."))
    if pits:
        figures.append(Figure(plot_pit(pits, fig_dir / "pit"),
                              "Probability integral transform of the true mass under each latent model's pdf: a flat "
                              "histogram means calibrated pdfs, a U shape over-confident ones, a hump under-confident ones."))
    sufficiency = analyses.latent_sufficiency(study)
    tightness = study_audit(models, by_kind.get("audit", []))
    images = images_vs_photometry(models, seed=study.cfg.seed, slack=tightness["slack"])
    sections = [rep.dataset_section(study.summaries["dataset"]),
                rep.estimation_section(models, by_kind.get("knn", []), figures, sufficiency)]
    sections.append(tightness_section(tightness))
    if images:
        sections.append(images_section(images))
    pids = by_kind.get("pid", [])
    if pids:
        tables = {p["tuple"]: Table(rows=p["summary"]) for p in pids}
        files = plot_atom_bars(tables, fig_dir / "pid_bars", title="mean pointwise information atoms (nats)")
        bar = Figure(Path(files[0]), "Mean information atoms of every tuple (nats) with 95% bootstrap intervals, "
                                     "for all test galaxies and per class.")
        sections.append(rep.pid_section(pids, bar, band_study_figures(tables, fig_dir)))
    for kind, handler in STEP_KINDS.items():
        if handler.section is not None and by_kind.get(kind):
            sections.append(handler.section(study, by_kind[kind]))
    left_out = {s.name: study.summaries[s.name].get("left_out", {}) for s in study.steps if s.kind != "report"}
    sections.insert(1, rep.left_out_section(left_out, study.summaries["dataset"].get("masked", {})))
    results = {
        "left_out": left_out,
        "dataset": study.summaries["dataset"],
        "estimation": {f"{m['objective']}:{m['inputs']}": m["metrics"] for m in models},
        "knn": {k["latent"]: k for k in by_kind.get("knn", [])},
        "sufficiency": sufficiency,
        "tightness": tightness,
        "images_vs_photometry": images,
        "pid": {p["tuple"]: p["summary"] for p in pids},
        "pid_mmi_averages": {p["tuple"]: rep.mmi_on_averages(g) for p in pids for g in p["summary"]
                             if g["group"] == "all"},
        "pid_copula": {p["tuple"]: p["copula"] for p in pids if p.get("copula")},
        "causal": {c["question"]: c for c in by_kind.get("causal", [])},
        "discovery": by_kind.get("discover", [{}])[0],
    }
    claims = paper_vs_run(results)
    if claims:
        results["paper_vs_run"] = claims
        sections.append(paper_section(claims))
    truth = truth_check(study, by_kind)
    if truth is not None:
        results["truth_check"] = truth
        sections.append(rep.truth_section(truth))
    html_path, json_path = rep.write_report(study.out, f"galinfo study: {study.cfg.name}", sections, results)
    return {"html": str(html_path), "json": str(json_path)}


def band_study_figures(tables: dict, fig_dir: Path) -> list:
    """One stacked-bar figure per band study (:data:`galinfo.info.tuples.BAND_STUDIES`) whose tuples
    the study decomposed: the atoms of each tuple, one panel per class."""
    from galinfo.info.plots import plot_band_study
    from galinfo.info.tuples import BAND_STUDIES, band_studies
    from galinfo.report.html import Figure

    figures = []
    for sid, tuples in band_studies().items():
        present = [t for t in tuples if t.label in tables]
        if len(present) < 2:
            continue
        names = [t.source1.split("_", 1)[1] for t in present]  # I_g -> g, M_W12 -> W12
        files = plot_band_study({t.label: tables[t.label] for t in present}, fig_dir / f"band_study_{sid}", names=names,
                                title=f"band study {sid}: {BAND_STUDIES[sid]}")
        figures.append(Figure(Path(files[0]), f"Band study {sid}, {BAND_STUDIES[sid]}: mean atoms of each tuple "
                                              "(nats), one panel per class; redundant, unique and synergistic "
                                              "information stacked, positive above zero and negative below; the "
                                              "black mark is the union's mean information."))
    return figures


def truth_check(study: Study, by_kind: dict[str, list[dict]]) -> list[dict] | None:
    """For mock data: each designed answer of truth_dag.json that the study tested, right or wrong."""
    dag_path = study.dataset_path / "truth_dag.json"
    if not dag_path.exists():
        return None
    checks: list[dict] = []
    for kind in STEP_KINDS.values():
        if kind.truth is not None:
            checks.extend(kind.truth(study, by_kind, json.loads(dag_path.read_text())))
    return checks


@dataclass(frozen=True)
class StepKind:
    """What the runner does with the steps of one kind: ``run`` them, build their report
    ``section`` from their summaries, and check their ``truth`` against a mock's known graph."""

    run: Callable[[Study, Step], dict]
    section: Callable[[Study, list[dict]], Any] | None = None
    truth: Callable[[Study, dict, dict], list[dict]] | None = None


STEP_KINDS: dict[str, StepKind] = {
    "dataset": StepKind(_run_dataset),
    "model": StepKind(_run_model),
    "external": StepKind(_run_external),
    "subset": StepKind(_run_subset),  # after its family's amortised "model" step (a dependency)
    "audit": StepKind(_run_model),  # a dedicated ce model of an input set, for the tightness audit only
    "knn": StepKind(_run_knn),
    "pid": StepKind(_run_pid),
    "causal": StepKind(analyses.run_causal, analyses.causal_section, analyses.truth_check_causal),
    "discover": StepKind(analyses.run_discover, analyses.discover_section),
    "report": StepKind(_run_report),
}

__all__ = ["STEP_KINDS", "StepKind", "Study", "execute_step", "slug", "model_step_name", "DataValidationError"]
