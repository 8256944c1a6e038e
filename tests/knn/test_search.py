import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from galinfo.errors import ConfigError, DataValidationError
from galinfo.knn.search import knn_search


def _data(seed=0, n_ref=2000, n_query=300, d=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_ref, d)), rng.normal(size=(n_query, d))


def test_matches_sklearn_brute_force():
    ref, query = _data()
    d, i = knn_search(ref, query, 40)
    nn = NearestNeighbors(n_neighbors=40, algorithm="brute").fit(ref)
    dist, idx = nn.kneighbors(query)
    assert d.dtype == np.float32 and i.dtype == np.int64
    assert d.shape == i.shape == (300, 40)
    np.testing.assert_array_equal(i, idx)
    np.testing.assert_allclose(d, dist**2, rtol=1e-5, atol=1e-6)
    assert (np.diff(d, axis=1) >= 0).all()


def test_batched_equals_unbatched():
    ref, query = _data(1)
    d1, i1 = knn_search(ref, query, 25, batch_size=100_000)
    d2, i2 = knn_search(ref, query, 25, batch_size=7)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(d1, d2)


def test_exclude_self_matches_sklearn_without_self():
    ref, _ = _data(2, n_ref=1500)
    d, i = knn_search(ref, ref, 30, exclude_self=True)
    assert not (i == np.arange(len(ref))[:, None]).any()
    idx = NearestNeighbors(n_neighbors=31, algorithm="brute").fit(ref).kneighbors(ref)[1]
    np.testing.assert_array_equal(i, idx[:, 1:])
    assert (d > 0).all()


def test_ties_are_deterministic_and_by_index():
    # integer grid: many exactly equal distances
    ref = np.array([[x, y] for x in range(6) for y in range(6)], dtype=float)
    query = np.array([[2.5, 2.5], [0.0, 0.0]])
    d, i = knn_search(ref, query, 12)
    d2, i2 = knn_search(ref[::-1].copy(), query, 12)
    for row in range(2):
        for dist in np.unique(d[row]):
            group = i[row][d[row] == dist]
            assert (np.diff(group) > 0).all()
    # same neighbour sets (up to the boundary tie group) irrespective of reference order
    np.testing.assert_array_equal(d, d2)


def test_exclude_self_with_duplicates_drops_self():
    ref = np.zeros((10, 3))
    ref[5:] = 1.0
    d, i = knn_search(ref, ref, 3, exclude_self=True)
    assert not (i == np.arange(10)[:, None]).any()
    np.testing.assert_array_equal(d, 0.0)


@pytest.mark.parametrize(
    ("ref", "query", "k", "kw", "exc"),
    [
        (np.ones(5), np.ones((2, 1)), 1, {}, DataValidationError),
        (np.ones((5, 2)), np.ones((2, 3)), 1, {}, DataValidationError),
        (np.full((5, 2), np.nan), np.ones((2, 2)), 1, {}, DataValidationError),
        (np.ones((5, 2)), np.array([[1.0, np.inf]]), 1, {}, DataValidationError),
        (np.ones((5, 2)), np.ones((2, 2)), 6, {}, ConfigError),
        (np.ones((5, 2)), np.ones((5, 2)), 5, {"exclude_self": True}, ConfigError),
        (np.ones((5, 2)), np.ones((2, 2)), 1, {"exclude_self": True}, DataValidationError),
        (np.ones((5, 2)), np.ones((2, 2)), 0, {}, ConfigError),
        (np.ones((5, 2)), np.ones((2, 2)), 1, {"batch_size": 0}, ConfigError),
        (np.ones((5, 2)), np.ones((2, 2)), 1, {"use_gpu": "yes"}, ConfigError),
    ],
)
def test_validation(ref, query, k, kw, exc):
    with pytest.raises(exc) as info:
        knn_search(ref, query, k, **kw)
    assert "\n" not in str(info.value)


def test_use_gpu_true_without_gpu_raises():
    import faiss

    if faiss.get_num_gpus() > 0:
        pytest.skip("a GPU is present")
    with pytest.raises(ConfigError, match="GPU"):
        knn_search(np.ones((5, 2)), np.ones((2, 2)), 1, use_gpu=True)


def test_exactknn_self_rows_on_a_block_equals_exclude_self():
    ref, _ = _data(3, n_ref=800)
    d_all, i_all = knn_search(ref, ref, 15, exclude_self=True)
    from galinfo.knn.search import ExactKNN

    searcher = ExactKNN(ref)
    rows = np.arange(100, 260)
    d, i = searcher.search(ref[rows], 15, self_rows=rows, batch_size=33)
    np.testing.assert_array_equal(i, i_all[rows])
    np.testing.assert_array_equal(d, d_all[rows])
    # -1 excludes nothing
    d2, i2 = searcher.search(ref[rows], 15, self_rows=np.full(len(rows), -1))
    np.testing.assert_array_equal(i2[:, 0], rows)
