"""The polite gate (rate limit, bounded retries with back-off) and the on-disk cache, offline."""

import numpy as np
import pytest
from astropy.table import Table

from galinfo.build.service import Polite, ServiceError, find_local_frame, frame_name


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def sleep(self, s):
        self.sleeps.append(s)
        self.now += s

    def __call__(self):
        return self.now


def test_retries_back_off_exponentially_then_succeed():
    clock = FakeClock()
    polite = Polite(rate=1000.0, attempts=4, backoff=1.0, sleep=clock.sleep, clock=clock)
    calls = []

    def flaky():
        calls.append(clock.now)
        if len(calls) < 3:
            raise TimeoutError("read timed out")
        return "ok"

    assert polite.call("query", flaky) == "ok"
    assert len(calls) == 3
    waits = [s for s in clock.sleeps if s >= 0.5]
    assert waits == [1.0, 2.0]


def test_bounded_attempts_give_one_line_service_error():
    clock = FakeClock()
    polite = Polite(rate=1000.0, attempts=3, sleep=clock.sleep, clock=clock)
    n = []

    def down():
        n.append(1)
        raise ConnectionError("HTTP 503\nhtml page")

    with pytest.raises(ServiceError) as err:
        polite.call("SkyServer SQL query", down)
    assert len(n) == 3
    assert str(err.value) == "SkyServer SQL query failed after 3 attempts: ConnectionError: HTTP 503"


def test_rate_limit_spaces_requests():
    clock = FakeClock()
    polite = Polite(rate=2.0, sleep=clock.sleep, clock=clock)
    starts = []
    for _ in range(5):
        polite.call("x", lambda: starts.append(clock.now))
    assert np.allclose(np.diff(starts), 0.5)


def test_local_mirror_flat_or_sas_layout(tmp_path):
    name = frame_name("g", 756, 3, 123)
    assert name == "frame-g-000756-3-0123.fits"
    assert find_local_frame(tmp_path, 756, 3, 123, "g") is None
    sas = tmp_path / "301" / "756" / "3"
    sas.mkdir(parents=True)
    (sas / f"{name}.bz2").write_bytes(b"x")
    assert find_local_frame(tmp_path, 756, 3, 123, "g") == sas / f"{name}.bz2"
    (tmp_path / name).write_bytes(b"x")
    assert find_local_frame(tmp_path, 756, 3, 123, "g") == tmp_path / name


def test_astroquery_service_caches_query_results_on_disk(tmp_path):
    pytest.importorskip("astroquery")
    from galinfo.build.service import AstroqueryService

    class StubSDSS:
        calls = 0

        def query_sql(self, sql, **kwargs):
            StubSDSS.calls += 1
            assert kwargs["data_release"] == 17 and kwargs["cache"] is False
            return Table({"objid": np.array([1237650000000000001], dtype=np.uint64)})

    svc = AstroqueryService(tmp_path, polite=Polite(rate=1000.0))
    svc.sdss = StubSDSS()
    first = svc.query_sql("SELECT 1")
    again = svc.query_sql("SELECT 1")
    assert StubSDSS.calls == 1
    assert int(again["objid"][0]) == int(first["objid"][0]) == 1237650000000000001
    assert svc.describe()["sql_url"].startswith("https://skyserver.sdss.org/dr17/")
