"""Benchmark: exact top-k neighbours in a 16-d latent space, faiss (galinfo) vs scikit-learn.

Default: k = 2000 nearest of 100k queries among 100k reference points (standard normal,
seed 0), 2 threads. Each measurement runs in a fresh subprocess, so the peak memory is that
process's maximum resident set size (ru_maxrss) minus its size after the data were made.
scikit-learn's brute force at full size takes long, so by default every method runs on the
first ``--sub-queries`` queries (same 100k reference), and galinfo's knn_search also on all
queries; the table says which. The neighbour lists of the subsample are compared too.

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/knn_speed.py
      (--n-ref, --n-query, --dim, --k, --sub-queries, --threads; --sklearn-full to run sklearn
      on all queries as well)

``--adaptive`` instead runs galinfo's AdaptiveKNN on a synthetic latent space with
heteroscedastic noise (y = 9 + 1.5 s0 + sigma(s1) eps, sigma = 0.02 + 0.3 s1, s uniform in
[0, 1]^dim): time of fit and predict, PIT W1 distance to uniform of the adaptive (recalibrated
and raw) KNN pdfs vs Gaussians with the true mean and the true / half the true sigma, and the
median chosen k per third of sigma (--n-train, --n-test, --kmax, --dim).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

METHODS = ("faiss_raw", "galinfo", "sklearn_brute")
DESCRIPTION = {
    "faiss_raw": "faiss IndexFlatL2.search alone (float32, no re-sort)",
    "galinfo": "galinfo.knn.knn_search (faiss + float64 re-sort, ties by index)",
    "sklearn_brute": "sklearn NearestNeighbors(algorithm='brute').kneighbors",
}


def _data(n_ref: int, n_query: int, dim: int):
    import numpy as np

    rng = np.random.default_rng(0)
    ref = rng.normal(size=(n_ref, dim)).astype(np.float32)
    query = rng.normal(size=(n_query, dim)).astype(np.float32)
    return ref, query


def _worker(args: argparse.Namespace) -> None:
    """Run one method in this (fresh) process; print a JSON line with time and memory."""
    import resource

    import numpy as np

    ref, query = _data(args.n_ref, args.n_query, args.dim)
    query = query[: args.queries]
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if args.method == "faiss_raw":
        import faiss

        faiss.omp_set_num_threads(args.threads)
        index = faiss.IndexFlatL2(ref.shape[1])
        index.add(ref)
        idx = np.empty((query.shape[0], args.k), np.int64)
        for s in range(0, query.shape[0], 2048):
            idx[s : s + 2048] = index.search(query[s : s + 2048], args.k)[1]
    elif args.method == "galinfo":
        import faiss

        from galinfo.knn.search import knn_search

        faiss.omp_set_num_threads(args.threads)
        idx = knn_search(ref, query, args.k, use_gpu=False)[1]
    else:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=args.k, algorithm="brute", n_jobs=args.threads)
        idx = nn.fit(ref).kneighbors(query, return_distance=False)
    seconds = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.save_indices:
        np.save(args.save_indices, idx[: min(len(idx), 2000)])
    print(json.dumps({"seconds": seconds, "peak_mib": (peak_kb - base_kb) / 1024}))


def _measure(args: argparse.Namespace, method: str, queries: int, save: str | None = None):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads),
               OPENBLAS_NUM_THREADS=str(args.threads))
    cmd = [sys.executable, __file__, "--worker", method, "--queries", str(queries),
           "--n-ref", str(args.n_ref), "--n-query", str(args.n_query), "--dim", str(args.dim),
           "--k", str(args.k), "--threads", str(args.threads)]
    if save:
        cmd += ["--save-indices", save]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _adaptive(args: argparse.Namespace) -> None:
    import numpy as np
    from scipy import stats

    from galinfo import metrics
    from galinfo.knn.adaptive import AdaptiveKNN

    rng = np.random.default_rng(0)

    def make(n):
        s = rng.uniform(0, 1, (n, args.dim)).astype(np.float32)
        sigma = 0.02 + 0.3 * s[:, 1]
        mu = 9 + 1.5 * s[:, 0]
        return s, mu + sigma * rng.normal(size=n), mu, sigma

    s_tr, y_tr, _, _ = make(args.n_train)
    s_te, y_te, mu, sigma = make(args.n_test)
    t0 = time.perf_counter()
    model = AdaptiveKNN(kmax=args.kmax, use_gpu=False).fit(s_tr, y_tr)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = model.predict(s_te, y_te)
    t_pred = time.perf_counter() - t0
    print(f"AdaptiveKNN on a synthetic {args.dim}-d latent space: {args.n_train} train, "
          f"{args.n_test} test, kmax {args.kmax}, {len(model.ks_)} candidate k, seed 0")
    print(f"fit {t_fit:.1f} s; predict {t_pred:.1f} s ({1e3 * t_pred / args.n_test:.2f} ms per "
          f"test galaxy)")
    print(f"{'pdf':42s} {'PIT W1':>8s} {'sigma_MAD':>10s} {'CRPS':>8s}")
    def gauss_crps(scale):  # closed form for a Gaussian pdf with the true mean
        z = (y_te - mu) / scale
        return float(np.mean(scale * (z * (2 * stats.norm.cdf(z) - 1)
                                      + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))))

    rows = [
        ("adaptive KNN, recalibrated", res.pit, res.mean, float(np.mean(res.crps))),
        ("adaptive KNN, raw histogram", res.raw_pit, None, float("nan")),
        ("Gaussian, true mean and sigma", stats.norm.cdf((y_te - mu) / sigma), mu,
         gauss_crps(sigma)),
        ("Gaussian, true mean, sigma / 2 (too narrow)",
         stats.norm.cdf((y_te - mu) / (0.5 * sigma)), mu, gauss_crps(0.5 * sigma)),
    ]
    for name, pit, est, crps in rows:
        sm = metrics.sigma_mad(est, y_te) if est is not None else float("nan")
        print(f"{name:42s} {metrics.pit_wasserstein(pit):8.4f} {sm:10.4f} {crps:8.4f}")
    print("median chosen k in thirds of sigma (low, middle, high): " + ", ".join(
        f"{np.median(res.k[m]):.0f}" for m in np.array_split(np.argsort(sigma), 3)))
    print(f"Spearman(k, sigma) = {stats.spearmanr(res.k, sigma).statistic:.3f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-ref", type=int, default=100_000)
    p.add_argument("--n-query", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=16)
    p.add_argument("--k", type=int, default=2000)
    p.add_argument("--sub-queries", type=int, default=5_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sklearn-full", action="store_true")
    p.add_argument("--adaptive", action="store_true")
    p.add_argument("--n-train", type=int, default=20_000)
    p.add_argument("--n-test", type=int, default=5_000)
    p.add_argument("--kmax", type=int, default=2000)
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--queries", type=int, help=argparse.SUPPRESS)
    p.add_argument("--save-indices", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        args.method = args.worker
        _worker(args)
        return
    if args.adaptive:
        _adaptive(args)
        return

    import tempfile

    import numpy as np

    sub = min(args.sub_queries, args.n_query)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        saved = {}
        for method in METHODS:
            saved[method] = os.path.join(tmp, f"{method}.npy")
            r = _measure(args, method, sub, saved[method])
            rows.append((method, sub, r))
        runs_full = ["galinfo", "faiss_raw"] + (["sklearn_brute"] if args.sklearn_full else [])
        if args.n_query > sub:
            for method in runs_full:
                rows.append((method, args.n_query, _measure(args, method, args.n_query)))
        ids = {m: np.load(f) for m, f in saved.items()}

    print(f"exact top-{args.k} neighbours, {args.n_ref} reference x {args.dim}-d (float32, "
          f"standard normal, seed 0), {args.threads} threads; faiss "
          f"{__import__('faiss').__version__}, scikit-learn {__import__('sklearn').__version__}")
    header = f"{'method':15s} {'queries':>8s} {'seconds':>9s} {'queries/s':>10s} {'peak MiB':>9s}  what"
    print(header)
    print("-" * len(header))
    base = {q: r["seconds"] for m, q, r in rows if m == "sklearn_brute"}
    for method, q, r in rows:
        speed = f" ({base[q] / r['seconds']:.1f}x sklearn)" if q in base and method != "sklearn_brute" else ""
        print(f"{method:15s} {q:8d} {r['seconds']:9.2f} {q / r['seconds']:10.0f} "
              f"{r['peak_mib']:9.0f}  {DESCRIPTION[method]}{speed}")
    n_cmp = min(len(v) for v in ids.values())
    same = np.mean(ids["galinfo"][:n_cmp] == ids["sklearn_brute"][:n_cmp])
    same_set = np.mean([np.intersect1d(a, b).size / a.size for a, b in
                        zip(ids["galinfo"][:n_cmp], ids["sklearn_brute"][:n_cmp], strict=True)])
    print(f"agreement with sklearn on the first {n_cmp} queries: identical index at each rank "
          f"{same:.6f}, same neighbour set {same_set:.6f}")
    if args.n_query > sub and not args.sklearn_full:
        print(f"sklearn brute force was run on {sub} queries only (time scales linearly with "
              f"the number of queries; extrapolated to {args.n_query}: "
              f"{base[sub] * args.n_query / sub:.0f} s)")


if __name__ == "__main__":
    main()
