"""The archive services a build talks to, behind one small seam.

:class:`SdssService` is what the builder needs: SQL on SkyServer, corrected frames, and ALLWISE
candidates around positions. :class:`AstroqueryService` implements it with astroquery (imported
lazily: ``pip install 'galinfo[sdss]'``), politely: every request goes through one
:class:`Polite` gate (a shared rate limit and bounded retries with exponential back-off) and
results are kept in an on-disk cache. Tests inject their own service object instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

from astropy.table import Table

from galinfo.atomic import atomic_path
from galinfo.errors import GalinfoError

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Requests per second to the archives, over all download threads together.
DEFAULT_RATE_LIMIT = 2.0
#: Attempts per request (the first and its retries); waits 1, 2, 4 s between them.
DEFAULT_ATTEMPTS = 4
SKYSERVER_URL = "https://skyserver.sdss.org/dr{dr}/en/tools/search/x_results.aspx"
SAS_FRAMES_URL = "https://data.sdss.org/sas/dr{dr}/eboss/photoObj/frames/301/{{run}}/{{camcol}}/"
IRSA_TAP_URL = "https://irsa.ipac.caltech.edu/TAP"
SDSS_EXTRA_MESSAGE = "galinfo build sdss needs astroquery and reproject: pip install 'galinfo[sdss]'"


class ServiceError(GalinfoError):
    """An archive that refused or failed a request (after the retries)."""


def frame_name(band: str, run: int, camcol: int, field: int) -> str:
    """File name of an SDSS corrected frame, e.g. ``frame-r-000756-3-0123.fits``."""
    return f"frame-{band}-{int(run):06d}-{int(camcol)}-{int(field):04d}.fits"


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message`` (at most 200 characters of it)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


@runtime_checkable
class SdssService(Protocol):
    """What a build asks of the archives. ``describe()`` goes into the manifest."""

    def describe(self) -> dict: ...

    def query_sql(self, sql: str) -> Table:
        """Run SQL on SkyServer; the result table (empty when nothing matched)."""

    def get_frame(self, run: int, camcol: int, field: int, band: str) -> Path | None:
        """Local path of the corrected frame (nanomaggies, with WCS); None when it does not exist."""

    def allwise(self, positions: Table, radius_arcsec: float) -> Table:
        """ALLWISE sources within ``radius_arcsec`` of each row of ``positions`` (idx, ra, dec in
        deg): a table with ``idx`` and :data:`galinfo.build.queries.WISE_COLUMNS`."""


class Polite:
    """One gate for every request to an archive: at most ``rate`` requests per second in all
    threads, and up to ``attempts`` tries with waits ``backoff * 2**k`` seconds between them."""

    def __init__(self, rate: float = DEFAULT_RATE_LIMIT, attempts: int = DEFAULT_ATTEMPTS,
                 backoff: float = 1.0, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic):
        self.rate, self.attempts, self.backoff = rate, attempts, backoff
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._next = 0.0

    def _wait_turn(self) -> None:
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()`` under the rate limit, retried; the last failure becomes a :class:`ServiceError`."""
        for attempt in range(self.attempts):
            self._wait_turn()
            try:
                return fn()
            except Exception as exc:  # noqa: BLE001 - any client failure is retried, then reported
                last = exc
                if attempt + 1 < self.attempts:
                    wait = self.backoff * 2**attempt
                    log.info("%s failed (%s); retrying in %.0f s", what, one_line(exc), wait)
                    self._sleep(wait)
        raise ServiceError(f"{what} failed after {self.attempts} attempts: {one_line(last)}")


def find_local_frame(root: Path, run: int, camcol: int, field: int, band: str, rerun: int = 301) -> Path | None:
    """A frame in a local mirror: ``root/NAME(.bz2)`` or the SAS layout ``root/RERUN/RUN/CAMCOL/``."""
    name = frame_name(band, run, camcol, field)
    for folder in (root, root / str(rerun) / str(int(run)) / str(int(camcol))):
        for candidate in (folder / name, folder / f"{name}.bz2"):
            if candidate.exists():
                return candidate
    return None


def _import_clients():
    try:
        from astroquery.ipac.irsa import Irsa
        from astroquery.sdss import SDSS
    except ImportError:
        raise GalinfoError(SDSS_EXTRA_MESSAGE) from None
    return SDSS, Irsa


class AstroqueryService:
    """SkyServer SQL and frames through ``astroquery.sdss.SDSS``, ALLWISE through IRSA's TAP
    (``astroquery.ipac.irsa.Irsa.tap``, positions uploaded). Results cached under ``cache_dir``;
    frames read from ``frames_dir`` (a local mirror) when given, never downloaded then."""

    def __init__(self, cache_dir: str | Path, *, data_release: int = 17, frames_dir: str | Path | None = None,
                 polite: Polite | None = None, timeout: float = 120.0):
        self.sdss, self.irsa = _import_clients()
        self.cache_dir = Path(cache_dir)
        self.data_release = int(data_release)
        self.frames_dir = Path(frames_dir) if frames_dir is not None else None
        self.polite = polite or Polite()
        self.timeout = timeout

    def describe(self) -> dict:
        import astroquery

        return {"name": f"astroquery {astroquery.__version__} (SDSS SkyServer, IRSA TAP)",
                "sql_url": SKYSERVER_URL.format(dr=self.data_release), "wise_url": IRSA_TAP_URL,
                "frames": str(self.frames_dir) if self.frames_dir else SAS_FRAMES_URL.format(dr=self.data_release),
                "rate_limit_per_s": self.polite.rate, "attempts": self.polite.attempts}

    def _cached_table(self, kind: str, key: str, fetch: Callable[[], Table | None]) -> Table:
        path = self.cache_dir / kind / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.ecsv"
        if path.exists():
            return Table.read(path, format="ascii.ecsv")
        table = fetch()
        table = Table() if table is None else Table(table)
        with atomic_path(path) as tmp:
            table.write(tmp, format="ascii.ecsv", overwrite=True)
        return table

    def query_sql(self, sql: str) -> Table:
        def fetch():
            return self.polite.call("SkyServer SQL query", lambda: self.sdss.query_sql(
                sql, data_release=self.data_release, timeout=self.timeout, cache=False))

        return self._cached_table("sql", f"dr{self.data_release}\n{sql}", fetch)

    def get_frame(self, run: int, camcol: int, field: int, band: str) -> Path | None:
        if self.frames_dir is not None:
            return find_local_frame(self.frames_dir, run, camcol, field, band)
        path = self.cache_dir / "frames" / f"{frame_name(band, run, camcol, field)}.bz2"
        if path.exists():
            return path
        matches = Table({"run": [int(run)], "rerun": [301], "camcol": [int(camcol)], "field": [int(field)]})

        def fetch() -> bool:
            files = self.sdss.get_images_async(matches=matches, band=band, data_release=self.data_release,
                                               timeout=self.timeout, cache=True, show_progress=False)
            if not files:
                return False
            with atomic_path(path) as tmp:  # the archive's own .bz2 bytes (hard link to astropy's cache)
                tmp.unlink()
                files[0].save_fits(str(tmp), link_cache="hard")
            return True

        return path if self.polite.call(f"download of {path.name}", fetch) else None

    def allwise(self, positions: Table, radius_arcsec: float) -> Table:
        from galinfo.build.queries import allwise_adql

        adql = allwise_adql(radius_arcsec)
        upload = Table({c: positions[c] for c in ("idx", "ra", "dec")})
        key = adql + "\n" + ",".join(f"{i}:{a!r}:{d!r}" for i, a, d in upload.iterrows())

        def fetch():
            return self.polite.call("IRSA ALLWISE query", lambda: self.irsa.tap.run_sync(
                adql, uploads={"pos": upload}).to_table())

        return self._cached_table("allwise", key, fetch)
