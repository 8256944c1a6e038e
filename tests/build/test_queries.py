"""The SQL/ADQL templates and the --where grammar: user text never reaches a query unparsed."""

import numpy as np
import pytest

from galinfo.build import queries as q
from galinfo.build.queries import QueryError


def test_where_is_rerendered_with_qualified_columns():
    sql = q.parse_where("z < 0.1 AND petroMag_r<17.77 or (NOT expab_r >= .5) AND z BETWEEN 0.02 AND 3e-1")
    assert sql == ("((s.z < 0.1 AND p.petroMag_r < 17.77) OR ((NOT p.expAB_r >= 0.5) AND "
                   "(s.z BETWEEN 0.02 AND 0.3)))")
    assert q.parse_where("lgm_tot_p50 != -1") == "g.lgm_tot_p50 <> -1.0"


@pytest.mark.parametrize("text, needle", [
    ("z<0.1; DROP TABLE", "unexpected ';' at character 6"),
    ("z < 0.1 -- comment", "unexpected '--'"),
    ("z < 0.1 AND objid = 1 UNION SELECT", "unknown column 'objid'"),
    ("foo < 3", "unknown column 'foo'"),
    ("z < 'a'", "unexpected \"'a'\""),
    ("p.ra > 3", "unexpected '.ra'"),
    ("z < 0.1 z", "unexpected 'z' after a complete expression"),
    ("(z < 0.1", "expected ')' but found 'end of expression'"),
    ("z <", "expected num but found 'end of expression'"),
    ("z < 0.1 OR", "expected a column name but found 'end of expression'"),
    ("", "empty expression"),
    ("z < 1e999", "is not a finite number"),
])
def test_where_refuses_anything_else_naming_the_token(text, needle):
    with pytest.raises(QueryError) as err:
        q.parse_where(text)
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


def test_selection_sql_wraps_the_parsed_where_in_the_template():
    sql = q.selection_sql("z < 0.1", limit=50)
    assert sql.startswith("SELECT TOP 50 p.objID AS objid")
    assert "s.class = 'GALAXY' AND s.zWarning = 0 AND s.sciencePrimary = 1 AND s.z < 0.1" in sql
    assert "JOIN galSpecExtra AS g ON g.specObjID = s.specObjID" in sql
    assert q.selection_sql(None).startswith("SELECT p.objID")
    with pytest.raises(QueryError, match="--limit"):
        q.selection_sql(None, limit=0)


def test_objids_are_formatted_as_int64_and_floats_refused():
    big = np.array([1237650000000000001, 1237650000000007920], dtype=np.int64)
    sql = q.catalogue_sql_objids(big)
    assert "p.objID IN (1237650000000000001,1237650000000007920)" in sql
    assert "AS lgm_tot_p50" in sql and "p.petroMagErr_z AS petroMagErr_z" in sql
    assert str(int(float(big[0]))) not in sql  # the float round trip would change the id
    with pytest.raises(QueryError, match="must be integers"):
        q.catalogue_sql_objids(big.astype(float))
    assert q.as_objids(np.array([2**63 - 1], dtype=np.uint64))[0] == 2**63 - 1
    with pytest.raises(QueryError, match="int64 range"):
        q.as_objids(np.array([2**63], dtype=np.uint64))


def test_coordinate_selection_uses_the_nearest_object_function():
    sql = q.catalogue_sql_coords([150.1, 151.25], [2.5, -1.0], radius_arcsec=3.0)
    assert "FROM (VALUES (0,150.1,2.5),(1,151.25,-1.0)) AS u(idx, ra, dec)" in sql
    assert "dbo.fGetNearestObjEq(u.ra, u.dec, 0.05)" in sql
    labelled = q.catalogue_sql_coords([150.1, 151.25], [2.5, -1.0], idx=np.array([40, 41]))
    assert "(VALUES (40,150.1,2.5),(41,151.25,-1.0))" in labelled
    with pytest.raises(QueryError, match="dec"):
        q.catalogue_sql_coords([1.0], [95.0])
    with pytest.raises(QueryError, match="labels must be integers"):
        q.catalogue_sql_coords([1.0], [5.0], idx=np.array([0.5]))


def test_allwise_adql_radius_in_degrees():
    adql = q.allwise_adql(3.0)
    assert "FROM allwise_p3as_psd AS w, TAP_UPLOAD.pos AS u" in adql
    assert "CIRCLE('ICRS', u.ra, u.dec, 0.0008333333333333334)" in adql
    for col in ("w1mpro", "w2sigmpro", "w3snr"):
        assert f"w.{col}" in adql


def test_the_docs_show_the_selection_the_template_builds():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "sdss.md").read_text()
    block = doc.split("```sql\n", 1)[1].split("```", 1)[0]
    assert " ".join(block.split()) == q.selection_sql("z < 0.1 AND petroMag_r < 17.77", limit=100000)
