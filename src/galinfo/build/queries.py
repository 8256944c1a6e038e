"""SQL for SDSS SkyServer and ADQL for IRSA, built from fixed templates.

User input never reaches a query as text. ``--where`` is tokenised and parsed against a small
grammar (known column names, comparison operators, numbers, AND/OR/NOT, parentheses) and the
query gets the expression *re-rendered* from the parse; objids are formatted as int64 and
coordinates as floats. Anything else is refused with one line naming the offending token.

Grammar::

    expr  := term (OR term)*
    term  := factor (AND factor)*
    factor:= NOT factor | '(' expr ')' | COLUMN OP NUMBER | COLUMN BETWEEN NUMBER AND NUMBER
    OP    := < <= > >= = != <>
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from galinfo.data.schema import BANDS
from galinfo.errors import ConfigError


class QueryError(ConfigError):
    """A selection (``--where``, objid or coordinate table) that cannot become a safe query."""


#: E(B-V) from PhotoObj's SFD r-band extinction: A_r = 2.751 E(B-V) (SDSS DR7+ coefficients).
EXTINCTION_R_PER_EBV = 2.751

#: Columns ``--where`` may name (case-insensitive) -> their qualified SQL name.
WHERE_COLUMNS: dict[str, str] = {
    "ra": "p.ra", "dec": "p.dec", "z": "s.z", "zerr": "s.zErr",
    "lgm_tot_p50": "g.lgm_tot_p50", "specsfr_tot_p50": "g.specsfr_tot_p50",
    "run": "p.run", "camcol": "p.camcol", "field": "p.field", "clean": "p.clean",
    **{f"{q}_{b}": f"p.{q}_{b}" for q in ("petroMag", "petroMagErr", "modelMag", "extinction",
                                           "expAB", "petroR50", "petroR90", "fracDeV") for b in BANDS},
}
_WHERE_LOOKUP = {k.lower(): v for k, v in WHERE_COLUMNS.items()}

#: What the catalogue query returns: (SQL expression, column name of the result).
CATALOGUE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("p.objID", "objid"), ("s.specObjID", "specobjid"), ("p.ra", "ra"), ("p.dec", "dec"),
    ("p.run", "run"), ("p.rerun", "rerun"), ("p.camcol", "camcol"), ("p.field", "field"),
    *((f"p.{q}_{b}", f"{q}_{b}") for q in ("petroMag", "petroMagErr", "expAB", "petroR50", "petroR90")
      for b in BANDS),
    ("p.extinction_r", "extinction_r"), ("s.z", "z"), ("s.zErr", "zerr"),
    ("g.lgm_tot_p50", "lgm_tot_p50"), ("g.specsfr_tot_p50", "specsfr_tot_p50"),
)

_FROM = ("FROM PhotoObj AS p JOIN SpecObj AS s ON s.bestObjID = p.objID "
         "JOIN galSpecExtra AS g ON g.specObjID = s.specObjID")
_BASE_WHERE = "s.class = 'GALAXY' AND s.zWarning = 0 AND s.sciencePrimary = 1"

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z_0-9.])
  | (?P<op><=|>=|<>|!=|=|<|>)
  | (?P<paren>[()])
  | (?P<word>[A-Za-z_][A-Za-z_0-9]*)(?![A-Za-z_0-9])
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "between"}


def tokenize(text: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens of a where expression; any other character is refused."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = text[pos:].split()[0] if text[pos:].split() else text[pos]
            raise QueryError(f"--where: unexpected {bad[:20]!r} at character {pos + 1} "
                             "(allowed: column names, numbers, < <= > >= = !=, AND OR NOT BETWEEN, parentheses)")
        kind = m.lastgroup
        if kind != "ws":
            word = m.group()
            if kind == "word" and word.lower() in _KEYWORDS:
                kind = word.lower()
            tokens.append((kind, word))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.tokens, self.i = tokens, 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "end of expression")

    def take(self, kind: str) -> str:
        got, text = self.peek()
        if got != kind:
            raise QueryError(f"--where: expected {kind} but found {text!r}")
        self.i += 1
        return text

    def expr(self) -> str:
        parts = [self.term()]
        while self.peek()[0] == "or":
            self.i += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def term(self) -> str:
        parts = [self.factor()]
        while self.peek()[0] == "and":
            self.i += 1
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def factor(self) -> str:
        kind, text = self.peek()
        if kind == "not":
            self.i += 1
            return f"(NOT {self.factor()})"
        if kind == "paren" and text == "(":
            self.i += 1
            inner = self.expr()
            if self.peek() != ("paren", ")"):
                raise QueryError(f"--where: expected ')' but found {self.peek()[1]!r}")
            self.i += 1
            return inner
        column = self.column()
        if self.peek()[0] == "between":
            self.i += 1
            low = self.number()
            self.take("and")
            return f"({column} BETWEEN {low} AND {self.number()})"
        op = self.take("op")
        return f"{column} {'<>' if op == '!=' else op} {self.number()}"

    def column(self) -> str:
        kind, text = self.peek()
        if kind != "word":
            raise QueryError(f"--where: expected a column name but found {text!r}")
        sql = _WHERE_LOOKUP.get(text.lower())
        if sql is None:
            raise QueryError(f"--where: unknown column {text!r} (known: z, ra, dec, petroMag_r, "
                             "lgm_tot_p50, expAB_r, petroR50_r, ...; see docs/sdss.md)")
        self.i += 1
        return sql

    def number(self) -> str:
        value = float(self.take("num"))
        if not np.isfinite(value):
            raise QueryError(f"--where: {value} is not a finite number")
        return repr(value)


def parse_where(text: str) -> str:
    """Validate a ``--where`` expression and return it re-rendered as SQL (qualified columns)."""
    tokens = tokenize(text)
    if not tokens:
        raise QueryError("--where: empty expression")
    parser = _Parser(tokens)
    sql = parser.expr()
    if parser.i != len(tokens):
        raise QueryError(f"--where: unexpected {parser.peek()[1]!r} after a complete expression")
    return sql


def _select_list() -> str:
    return ", ".join(f"{expr} AS {name}" for expr, name in CATALOGUE_COLUMNS)


def selection_sql(where: str | None = None, limit: int | None = None) -> str:
    """SQL of the objids a ``--where`` selection picks, ordered by frame (run, camcol, field)."""
    if limit is not None and (int(limit) != limit or limit < 1):
        raise QueryError(f"--limit must be a positive integer, got {limit}")
    cond = _BASE_WHERE + (f" AND {parse_where(where)}" if where else "")
    top = f"TOP {int(limit)} " if limit else ""
    return (f"SELECT {top}p.objID AS objid, p.run AS run, p.camcol AS camcol, p.field AS field "
            f"{_FROM} WHERE {cond} ORDER BY p.run, p.camcol, p.field, p.objID")


def as_objids(values) -> np.ndarray:
    """``values`` as int64 objids; floats (which would have lost digits) are refused."""
    arr = np.asarray(np.ma.getdata(values))
    if arr.dtype.kind not in "iu":
        raise QueryError(f"objids must be integers (got {arr.dtype}); an objid read as float has lost digits")
    if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
        raise QueryError("objids above the int64 range")
    return arr.astype(np.int64)


def catalogue_sql_objids(objids: Sequence[int] | np.ndarray) -> str:
    """SQL of the catalogue rows of the given objids (int64, formatted as integers)."""
    ids = as_objids(objids)
    if ids.size == 0:
        raise QueryError("no objid to query")
    in_list = ",".join(str(int(v)) for v in ids)
    return (f"SELECT {_select_list()} {_FROM} WHERE {_BASE_WHERE} AND p.objID IN ({in_list}) "
            "ORDER BY p.objID")


def as_labels(values) -> np.ndarray:
    """Integer labels (int64); anything else is refused."""
    arr = np.asarray(values)
    if arr.dtype.kind not in "iu":
        raise QueryError(f"row labels must be integers, got {arr.dtype}")
    return arr.astype(np.int64)


def catalogue_sql_coords(ra, dec, radius_arcsec: float = 2.0, idx=None) -> str:
    """SQL of the catalogue rows of the nearest primary object to each (ra, dec) [deg] within
    ``radius_arcsec``, via SkyServer's ``dbo.fGetNearestObjEq`` (radius in arcmin). ``idx``
    (default 0, 1, ...) labels each position's row in the result."""
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    idx = np.arange(ra.size) if idx is None else as_labels(idx)
    if ra.size == 0 or ra.shape != dec.shape:
        raise QueryError("coordinates: need equal, non-empty ra and dec columns")
    if not (np.isfinite(ra).all() and np.isfinite(dec).all()) or np.any(np.abs(dec) > 90):
        raise QueryError("coordinates: ra/dec must be finite degrees with |dec| <= 90")
    values = ",".join(f"({int(k)},{float(a)!r},{float(d)!r})" for k, a, d in zip(idx, ra, dec, strict=True))
    return (f"SELECT u.idx AS idx, {_select_list()} FROM (VALUES {values}) AS u(idx, ra, dec) "
            f"CROSS APPLY dbo.fGetNearestObjEq(u.ra, u.dec, {float(radius_arcsec) / 60.0!r}) AS n "
            "JOIN PhotoObj AS p ON p.objID = n.objID JOIN SpecObj AS s ON s.bestObjID = p.objID "
            f"JOIN galSpecExtra AS g ON g.specObjID = s.specObjID WHERE {_BASE_WHERE} ORDER BY u.idx")


#: ALLWISE source-catalogue columns the WISE match asks IRSA for.
WISE_COLUMNS: tuple[str, ...] = ("ra", "dec", *(f"w{k}{q}" for k in (1, 2, 3) for q in ("mpro", "sigmpro", "snr")))


def allwise_adql(radius_arcsec: float, table: str = "allwise_p3as_psd") -> str:
    """ADQL of every ALLWISE source within ``radius_arcsec`` of each uploaded (idx, ra, dec)."""
    cols = ", ".join(f"w.{c}" for c in WISE_COLUMNS)
    return (f"SELECT u.idx, {cols} FROM {table} AS w, TAP_UPLOAD.pos AS u WHERE 1 = CONTAINS("
            f"POINT('ICRS', w.ra, w.dec), CIRCLE('ICRS', u.ra, u.dec, {float(radius_arcsec) / 3600.0!r}))")
