"""Exact k-nearest-neighbour search in a latent space (squared L2), with faiss.

faiss ranks candidates with float32 distances computed as ``|x|^2 + |y|^2 - 2 x.y`` (BLAS for
large batches, a direct loop for small ones), so its rounding, and hence the order of near-ties,
can depend on the batch size. :func:`knn_search` therefore recomputes the distances of the
returned candidates directly in float64, ``sum((x - y)^2)``, and sorts them by (distance, index):
results are sorted, ties are broken by the lower reference index, and a pair's distance never
depends on the batch. Which neighbours are returned is still faiss's float32 choice: when several
points tie (or nearly tie, within float32 rounding) at the k-th distance, the ones left out are
faiss's pick, which may depend on the batch size (on random data batched equals unbatched).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import numpy as np

from galinfo.data.validate import require_finite
from galinfo.errors import ConfigError, DataValidationError

log = logging.getLogger(__name__)

#: faiss GPU brute-force search supports at most this many neighbours per query.
_GPU_MAX_K = 2048


def _check_matrix(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataValidationError(f"{name} must be 2-D (n, d), got shape {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise DataValidationError(f"{name} is empty (shape {x.shape})")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise DataValidationError(f"{name} must be real numbers, got dtype {x.dtype}")
    require_finite(x, name)
    return x


def _faiss_gpu_count() -> int:
    import faiss

    getter = getattr(faiss, "get_num_gpus", None)
    return int(getter()) if getter is not None else 0


def _make_index(reference: np.ndarray, use_gpu: bool | Literal["auto"], k: int):
    import faiss

    d = reference.shape[1]
    index = faiss.IndexFlatL2(d)
    n_gpu = _faiss_gpu_count()
    if use_gpu in (True, "auto") and n_gpu > 0:
        if k > _GPU_MAX_K:
            log.info("k=%d exceeds the faiss GPU limit %d; searching on CPU", k, _GPU_MAX_K)
        else:
            res = faiss.StandardGpuResources()
            index = faiss.index_cpu_to_gpu(res, 0, index)
            index._galinfo_res = res  # keep the resources alive with the index
    index.add(reference)
    return index


def _sort_candidates(cand: np.ndarray, d64: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort each row by (distance, index). faiss order is nearly sorted already, so a stable
    sort is cheap; the rare rows with exactly tied distances are re-sorted by index too."""
    order = np.argsort(d64, axis=1, kind="stable")
    cand = np.take_along_axis(cand, order, axis=1)
    d64 = np.take_along_axis(d64, order, axis=1)
    tied = (d64[:, 1:] == d64[:, :-1]).any(axis=1)
    if tied.any():
        order = np.lexsort((cand[tied], d64[tied]), axis=-1)
        cand[tied] = np.take_along_axis(cand[tied], order, axis=1)
        d64[tied] = np.take_along_axis(d64[tied], order, axis=1)
    return cand, d64


def exact_sq_distances(
    reference: np.ndarray, query: np.ndarray, indices: np.ndarray
) -> np.ndarray:
    """Squared L2 distances (float64) between each query row and its candidate reference rows.

    ``indices`` is (n_query, m) int64; the result has the same shape. Summation runs over the
    dimensions in a fixed order, so the value of a pair never depends on the batch it is in.
    """
    out = np.zeros(indices.shape, dtype=np.float64)
    q = query.astype(np.float64, copy=False)
    for j in range(reference.shape[1]):
        col = reference[:, j].astype(np.float64, copy=False)
        diff = col[indices] - q[:, j : j + 1]
        out += diff * diff
    return out


class ExactKNN:
    """Exact squared-L2 neighbour search over a fixed reference set (faiss ``IndexFlatL2``).

    Build once, then :meth:`search` any number of query blocks against it (the index is not
    rebuilt). ``use_gpu`` as in :func:`knn_search`.
    """

    def __init__(self, reference: np.ndarray, *, use_gpu: bool | Literal["auto"] = "auto") -> None:
        reference = _check_matrix(reference, "reference")
        if use_gpu not in (True, False, "auto"):
            raise ConfigError(f"use_gpu must be True, False or 'auto', got {use_gpu!r}")
        if use_gpu is True and _faiss_gpu_count() == 0:
            raise ConfigError("use_gpu=True but faiss sees no GPU (faiss-cpu, or no CUDA device)")
        self.reference = reference
        self.use_gpu = use_gpu
        self._ref32 = np.ascontiguousarray(reference, dtype=np.float32)
        self._indexes: dict[bool, object] = {}

    @property
    def n(self) -> int:
        return int(self.reference.shape[0])

    @property
    def dim(self) -> int:
        return int(self.reference.shape[1])

    def _index(self, k: int):
        on_gpu = self.use_gpu in (True, "auto") and _faiss_gpu_count() > 0 and k <= _GPU_MAX_K
        if on_gpu not in self._indexes:
            self._indexes[on_gpu] = _make_index(self._ref32, self.use_gpu if on_gpu else False, k)
        return self._indexes[on_gpu]

    def search(
        self,
        query: np.ndarray,
        k: int,
        *,
        self_rows: np.ndarray | None = None,
        batch_size: int = 2048,
        progress: Callable[[int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest reference rows of each query row; see :func:`knn_search`.

        ``self_rows`` (int, one per query row) names a reference row to leave out of that
        query's list (e.g. the query's own row when a block of the reference is searched
        against all of it); -1 leaves nothing out.
        """
        query = _check_matrix(query, "query")
        if query.shape[1] != self.dim:
            raise DataValidationError(
                f"reference has {self.dim} dimensions but query has {query.shape[1]}"
            )
        if isinstance(k, bool) or not isinstance(k, int | np.integer):
            raise ConfigError(f"k must be an integer, got {k!r}")
        k = int(k)
        n_query = query.shape[0]
        if self_rows is not None:
            self_rows = np.asarray(self_rows)
            if self_rows.shape != (n_query,) or not np.issubdtype(self_rows.dtype, np.integer):
                raise DataValidationError(
                    f"self_rows must be {n_query} integers, got shape {self_rows.shape} "
                    f"dtype {self_rows.dtype}"
                )
            if ((self_rows < -1) | (self_rows >= self.n)).any():
                raise DataValidationError(f"self_rows has values outside [-1, {self.n - 1}]")
        k_max = self.n - 1 if self_rows is not None else self.n
        if not 1 <= k <= k_max:
            raise ConfigError(
                f"k={k} must be between 1 and {k_max} (n_reference={self.n}"
                f"{', minus the point itself' if self_rows is not None else ''})"
            )
        if isinstance(batch_size, bool) or int(batch_size) < 1:
            raise ConfigError(f"batch_size={batch_size} must be at least 1")
        batch_size = int(batch_size)

        k_search = k + 1 if self_rows is not None else k
        index = self._index(k_search)
        out_d = np.empty((n_query, k), dtype=np.float32)
        out_i = np.empty((n_query, k), dtype=np.int64)
        for start in range(0, n_query, batch_size):
            stop = min(start + batch_size, n_query)
            q = query[start:stop]
            _, cand = index.search(np.ascontiguousarray(q, dtype=np.float32), k_search)
            if (cand < 0).any():  # pragma: no cover - faiss pads with -1 only if k > n
                raise DataValidationError("faiss returned fewer neighbours than requested")
            d64 = exact_sq_distances(self.reference, q, cand)
            if self_rows is not None:
                # the row itself gets distance -1 so it sorts first and is dropped; if faiss did
                # not return it (exact duplicates), the farthest candidate is dropped instead
                d64 = np.where(cand == self_rows[start:stop, None], -1.0, d64)
            cand, d64 = _sort_candidates(cand, d64)
            if self_rows is not None:
                has_self = d64[:, 0] < 0
                sel = np.where(has_self[:, None], np.arange(1, k + 1), np.arange(k))
                cand = np.take_along_axis(cand, sel, axis=1)
                d64 = np.take_along_axis(d64, sel, axis=1)
            out_d[start:stop] = d64
            out_i[start:stop] = cand
            if progress is not None:
                progress(stop - start)
        return out_d, out_i


def knn_search(
    reference: np.ndarray,
    query: np.ndarray,
    k: int,
    *,
    exclude_self: bool = False,
    batch_size: int = 2048,
    use_gpu: bool | Literal["auto"] = "auto",
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``k`` nearest reference rows of every query row (squared Euclidean distance).

    Parameters
    ----------
    reference, query
        (n_reference, d) and (n_query, d) real arrays (searched in float32; distances of the
        returned neighbours recomputed in float64, see the module docstring).
    k
        Neighbours per query, ``1 <= k <= n_reference`` (``n_reference - 1`` with ``exclude_self``).
    exclude_self
        ``query`` is ``reference`` row for row: drop each row itself from its own list (when
        exact duplicates tie with it at distance 0, the row itself is the one dropped).
    batch_size
        Queries per faiss call; bounds the temporary memory to about ``batch_size * k * 40`` bytes.
    use_gpu
        ``"auto"`` uses a faiss GPU index when faiss has GPUs (and ``k <= 2048``); ``True`` requires
        one; ``False`` never uses one.
    progress
        Optional callback receiving the number of queries done after each batch.

    Returns
    -------
    sq_distances : float32 (n_query, k), ascending along each row
    indices : int64 (n_query, k), rows of ``reference``; ties ordered by ascending index
    """
    searcher = ExactKNN(reference, use_gpu=use_gpu)
    query = _check_matrix(query, "query")
    self_rows = None
    if exclude_self:
        if query.shape[0] != searcher.n:
            raise DataValidationError(
                f"exclude_self needs query == reference row for row, got {query.shape[0]} "
                f"queries and {searcher.n} reference rows"
            )
        self_rows = np.arange(searcher.n, dtype=np.int64)
    return searcher.search(
        query, k, self_rows=self_rows, batch_size=batch_size, progress=progress
    )
