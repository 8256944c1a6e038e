"""Causal discovery over catalogue-level variables: PC / FCI (causal-learn) with the KNN-CMI test.

Any member of the CI-test family (:mod:`galinfo.causal.citest`) runs inside causal-learn through
:class:`FamilyCIT`, registered as the test ``"galinfo"`` (a ``CIT_Base`` subclass): ``discover(...,
test=GCMTest())``. ``test="knn_cmi"`` is :class:`galinfo.causal.citest.KnnCMITest` with ``k`` and
``n_perm`` local permutations; ``"fisherz"`` (linear-Gaussian, causal-learn's own) is available for
speed comparisons.

Graphs are returned as :class:`DiscoveredGraph`: node names and edges with an endpoint mark at each
end (``tail``, ``arrow``, ``circle``), so ``a -> b`` is ``(a, b, "tail", "arrow")``, a PC
undirected edge is ``tail``/``tail`` and FCI's ``o->`` is ``circle``/``arrow``.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from galinfo.atomic import atomic_path, write_bytes
from galinfo.causal.citest import CITest, KnnCMITest, LocalPermutationNull
from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

__all__ = ["DiscoveredGraph", "discover", "score_graph", "project_dag", "FamilyCIT", "TESTS", "METHODS"]

TESTS = ("knn_cmi", "fisherz")
METHODS = ("pc", "fci")
_MARKS = {"TAIL": "tail", "ARROW": "arrow", "CIRCLE": "circle"}

try:  # causal-learn's test base class and registry
    from causallearn.utils.cit import CIT_Base, register_ci_test
except ImportError:  # pragma: no cover - causal-learn is a hard dependency
    CIT_Base = object
    register_ci_test = None


class FamilyCIT(CIT_Base):
    """causal-learn CI test backed by any member of :mod:`galinfo.causal.citest` (p-values cached
    per (X, Y | S)).

    ``citest``: the member (e.g. ``KnnCMITest(null=LocalPermutationNull(200))``), its ``seed`` the
    base seed: each test is re-seeded from it and its variable set, so results do not depend on
    the order PC asks. X and Y columns are tested one at a time (PC and FCI ask for single nodes).
    """

    def __init__(self, data: np.ndarray, citest: CITest | None = None, **kwargs):
        if not isinstance(citest, CITest):
            raise ConfigError(f"FamilyCIT needs citest=<a galinfo.causal.citest.CITest>, got {citest!r}")
        super().__init__(data, **kwargs)
        self.citest = citest
        self.check_cache_method_consistent("galinfo", repr(citest))
        self.assert_input_data_is_valid()

    def __call__(self, X, Y, condition_set=None) -> float:
        xs, ys, cs, key = self.get_formatted_XYZ_and_cachekey(X, Y, condition_set)
        if key in self.pvalue_cache:
            return self.pvalue_cache[key]
        z = self.data[:, cs] if cs else None
        test = copy.copy(self.citest)
        test.seed = (self.citest.seed * 1_000_003 + zlib.crc32(key.encode())) % (2**32)
        p = test.run(self.data[:, xs[0]], self.data[:, ys[0]], z).pvalue
        self.pvalue_cache[key] = p
        return p


if register_ci_test is not None:
    register_ci_test("galinfo", FamilyCIT)


@dataclass
class DiscoveredGraph:
    """A graph with endpoint marks; ``edges`` are (node_a, node_b, mark_at_a, mark_at_b)."""

    nodes: list[str]
    edges: list[tuple[str, str, str, str]]
    method: str = ""
    test: str = ""
    alpha: float = 0.05
    n_samples: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "nodes": list(self.nodes),
            "edges": [{"a": a, "b": b, "mark_a": ma, "mark_b": mb, "text": _edge_text(a, b, ma, mb)}
                      for a, b, ma, mb in self.edges],
            "method": self.method,
            "test": self.test,
            "alpha": self.alpha,
            "n_samples": self.n_samples,
            **self.extra,
        }

    @classmethod
    def from_dict(cls, d: dict) -> DiscoveredGraph:
        edges = [(e["a"], e["b"], e["mark_a"], e["mark_b"]) for e in d["edges"]]
        known = {"nodes", "edges", "method", "test", "alpha", "n_samples"}
        return cls(list(d["nodes"]), edges, d.get("method", ""), d.get("test", ""),
                   d.get("alpha", 0.05), d.get("n_samples", 0),
                   {k: v for k, v in d.items() if k not in known})

    def write_json(self, path: str | os.PathLike) -> Path:
        """Write the graph as JSON (atomic)."""
        return _atomic_write(Path(path), (json.dumps(self.to_dict(), indent=2) + "\n").encode())

    def plot(self, path: str | os.PathLike, title: str | None = None) -> Path:
        """Draw the graph (circular layout; arrowheads, circles and tails at the endpoints)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(self.nodes)
        pos = nx.circular_layout(g)
        fig, ax = plt.subplots(figsize=(6, 6))
        for a, b, ma, mb in self.edges:
            (xa, ya), (xb, yb) = pos[a], pos[b]
            ax.annotate("", xy=(xb, yb), xytext=(xa, ya),
                        arrowprops={"arrowstyle": _arrowstyle(ma, mb), "shrinkA": 18, "shrinkB": 18,
                                    "lw": 1.4, "color": "0.2"})
            for (x0, y0), (x1, y1), m in (((xa, ya), (xb, yb), ma), ((xb, yb), (xa, ya), mb)):
                if m == "circle":
                    t = 0.17
                    ax.plot(x0 + t * (x1 - x0), y0 + t * (y1 - y0), "o", mfc="white", mec="0.2", ms=6)
        for name, (x, y) in pos.items():
            ax.text(x, y, name, ha="center", va="center", fontsize=9,
                    bbox={"boxstyle": "round", "fc": "#dce9f5", "ec": "0.3"})
        ax.set_xlim(-1.35, 1.35)
        ax.set_ylim(-1.35, 1.35)
        ax.set_axis_off()
        ax.set_title(title or f"{self.method.upper()} with {self.test} (alpha={self.alpha}, n={self.n_samples})")
        path = Path(path)
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, dpi=120, bbox_inches="tight")
        finally:
            plt.close(fig)
        return path


def _arrowstyle(ma: str, mb: str) -> str:
    left = "<" if ma == "arrow" else "-"
    right = ">" if mb == "arrow" else "-"
    return {"--": "-", "->": "-|>", "<-": "<|-", "<>": "<|-|>"}[left + right]


def _edge_text(a: str, b: str, ma: str, mb: str) -> str:
    left = {"tail": "-", "arrow": "<", "circle": "o"}[ma]
    right = {"tail": "-", "arrow": ">", "circle": "o"}[mb]
    return f"{a} {left}-{right} {b}"


def _atomic_write(path: Path, data: bytes) -> Path:
    return write_bytes(path, data)


def _edges_of(general_graph) -> list[tuple[str, str, str, str]]:
    out = []
    for e in general_graph.get_graph_edges():
        out.append((e.get_node1().get_name(), e.get_node2().get_name(),
                    _MARKS[e.get_endpoint1().name], _MARKS[e.get_endpoint2().name]))
    return out


def discover(data: np.ndarray, names: Sequence[str], *, method: str = "pc",
             test: str | CITest = "knn_cmi", alpha: float = 0.05, k: int = 10, n_perm: int = 200,
             seed: int = 0, depth: int = -1) -> DiscoveredGraph:
    """Run PC or FCI on ``data`` (n, p) with variable ``names`` and a CI test.

    ``test``: a member of :mod:`galinfo.causal.citest` (its own settings; ``seed`` re-seeds it),
    ``"knn_cmi"`` (:class:`~galinfo.causal.citest.KnnCMITest` with ``k`` and ``n_perm``) or
    ``"fisherz"``. ``data`` must be finite (drop or impute missing rows first, and say how many).
    ``depth`` limits the conditioning-set size (-1: unlimited).
    """
    if method not in METHODS:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if isinstance(test, CITest):
        member = copy.copy(test)
        member.seed = seed
    elif test == "knn_cmi":
        member = KnnCMITest(k=k, null=LocalPermutationNull(n_perm), seed=seed)
    elif test == "fisherz":
        member = None
    else:
        raise ConfigError(f"test must be a galinfo.causal.citest.CITest or one of {', '.join(TESTS)}, got {test!r}")
    data = np.asarray(data, dtype=np.float64)
    names = [str(n) for n in names]
    if data.ndim != 2 or data.shape[1] != len(names):
        raise DataValidationError(f"data shape {data.shape} does not match {len(names)} variable names")
    if len(set(names)) != len(names):
        raise ConfigError(f"duplicate variable names in {names}")
    if not np.isfinite(data).all():
        bad = [names[j] for j in np.flatnonzero(~np.isfinite(data).all(axis=0))]
        raise DataValidationError(f"NaN/inf in variables {', '.join(bad)}: drop those rows first")
    kw = {"citest": member} if member is not None else {}
    test_name = "galinfo" if member is not None else "fisherz"
    if method == "pc":
        from causallearn.search.ConstraintBased.PC import pc

        cg = pc(data, alpha=alpha, indep_test=test_name, stable=True, show_progress=False,
                node_names=names, max_k=None if depth < 0 else depth, **kw)
        graph = cg.G
    else:
        from causallearn.search.ConstraintBased.FCI import fci

        graph, _ = fci(data, independence_test_method=test_name, alpha=alpha, depth=depth,
                       show_progress=False, node_names=names, **kw)
    label = member.name if member is not None else "fisherz"
    return DiscoveredGraph(names, _edges_of(graph), method, label, alpha, data.shape[0])


def _reach(children: dict[str, list[str]], start: str, keep: set[str]) -> set[str]:
    """Observed nodes reached from ``start`` along directed paths through unobserved nodes only."""
    stack, seen, found = list(children.get(start, [])), set(), set()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node in keep:
            found.add(node)
        else:
            stack.extend(children.get(node, []))
    return found


def _parent_table(truth: dict | Iterable) -> dict[str, list[str]]:
    """{child: [parents]} from truth_dag.json, {child: parents} or (parent, child) pairs."""
    if isinstance(truth, dict):
        table = truth.get("nodes", truth)
        return {c: list(spec.get("parents", []) if isinstance(spec, dict) else spec) for c, spec in table.items()}
    parents: dict[str, list[str]] = {}
    for a, b in truth:
        parents.setdefault(b, []).append(a)
    return parents


def project_dag(truth: dict | Iterable, observed: Sequence[str]) -> tuple[set[tuple[str, str]], set[frozenset]]:
    """Latent projection of a known DAG onto ``observed`` variables.

    Returns (directed, confounded): a -> b when the DAG has a directed path from a to b whose
    intermediate nodes are all unobserved; {a, b} confounded when an unobserved node reaches both
    that way (a bidirected edge of the projection; e.g. two magnitudes measured on the same image).
    ``truth``: truth_dag.json ({"nodes": {child: {"parents": [...]}}}), {child: [parents]} or
    (parent, child) pairs.
    """
    table = _parent_table(truth)
    children: dict[str, list[str]] = {}
    for child, parents in table.items():
        for parent in parents:
            children.setdefault(parent, []).append(child)
    keep = set(observed)
    directed = {(a, b) for a in observed for b in _reach(children, a, keep) if b != a}
    confounded: set[frozenset] = set()
    hidden = (set(children) | set(table)) - keep
    for u in hidden:
        reached = sorted(_reach(children, u, keep))
        for i, a in enumerate(reached):
            for b in reached[i + 1:]:
                if (a, b) not in directed and (b, a) not in directed:
                    confounded.add(frozenset((a, b)))
    return directed, confounded


def score_graph(graph: DiscoveredGraph, truth: dict | Iterable) -> dict:
    """Compare a discovered graph with a known DAG projected onto the graph's nodes.

    The one scorer of ``galinfo causal discover --truth`` and of the study. ``truth``:
    {child: [parents]}, a truth_dag.json dict ({"nodes": {child: {"parents": ...}}}), or
    (parent, child) pairs. The truth is first projected onto the observed nodes
    (:func:`project_dag`): a -> b when a causes b through unobserved nodes only, and {a, b} adjacent
    when an unobserved node causes both. Returns adjacency precision/recall (against directed and
    confounded pairs), arrowhead precision/recall (arrowheads at children of directed pairs) and
    the structural Hamming distance: missing + extra adjacencies + directed pairs found with a wrong
    or undetermined orientation.
    """
    true, confounded = project_dag(truth, graph.nodes)
    true_adj = {frozenset(e) for e in true} | confounded
    est_adj = {frozenset((a, b)) for a, b, _, _ in graph.edges}
    tp = len(true_adj & est_adj)
    est_heads = {(a, b) for a, b, ma, mb in graph.edges if mb == "arrow"} | {
        (b, a) for a, b, ma, mb in graph.edges if ma == "arrow"}  # (tail side, head side)
    directed = {(a, b) for a, b, ma, mb in graph.edges if ma == "tail" and mb == "arrow"} | {
        (b, a) for a, b, ma, mb in graph.edges if mb == "tail" and ma == "arrow"}
    wrong_orient = sum(1 for e in true if frozenset(e) in est_adj and e not in directed)
    head_tp = len(true & est_heads)
    return {
        "n_true_edges": len(true_adj),
        "n_true_directed": len(true),
        "n_true_confounded": len(confounded),
        "n_found_edges": len(est_adj),
        "adjacency_precision": tp / len(est_adj) if est_adj else float("nan"),
        "adjacency_recall": tp / len(true_adj) if true_adj else float("nan"),
        "arrowhead_precision": head_tp / len(est_heads) if est_heads else float("nan"),
        "arrowhead_recall": head_tp / len(true) if true else float("nan"),
        "shd": len(true_adj - est_adj) + len(est_adj - true_adj) + wrong_orient,
    }
