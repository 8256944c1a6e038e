import pytest

from galinfo.data.inputs import parse_inputs
from galinfo.data.schema import BANDS
from galinfo.errors import DataValidationError, InputSetError


@pytest.mark.parametrize(
    "spec, bands, mags, morph, zspec",
    [
        ("I_ugriz", BANDS, (), (), False),
        ("I_g", ("g",), (), (), False),
        ("I_ugriz-g", ("u", "r", "i", "z"), (), (), False),
        ("M_ugriz", (), BANDS, (), False),
        ("M_W123", (), ("w1", "w2", "w3"), (), False),
        ("M_zW1", (), ("z", "w1"), (), False),
        ("M_ugrizW123-g", (), ("u", "r", "i", "z", "w1", "w2", "w3"), (), False),
        ("Morph", (), (), BANDS, False),
        ("Morph_r|zspec", (), (), ("r",), True),
        ("I_ugriz|M_W123|zspec", BANDS, ("w1", "w2", "w3"), (), True),
    ],
)
def test_parse(spec, bands, mags, morph, zspec):
    iset = parse_inputs(spec)
    assert iset.image_bands == bands
    assert iset.mags == mags
    assert iset.morph_bands == morph
    assert iset.zspec is zspec
    assert parse_inputs(iset.name) == iset  # the canonical name parses back


def test_union_and_order():
    assert parse_inputs("M_W123|M_ugriz") == parse_inputs("M_ugriz") | parse_inputs("M_W123")
    assert parse_inputs("I_z|I_u").image_bands == ("u", "z")
    assert parse_inputs("M_ugriz|M_W123").name == "M_ugriz|M_W123"


def test_columns_follow_the_paper():
    iset = parse_inputs("M_ugriz|M_W123")
    assert iset.required_columns == ("mag_u", "mag_g", "mag_r", "mag_i", "mag_z", "w1", "w2", "w3")
    # the W3 error is not used, as in the paper; ebv is always appended
    assert "w3err" not in iset.companion_columns and "w2err" in iset.companion_columns
    assert iset.companion_columns[-1] == "ebv"
    assert parse_inputs("I_gr_norm").required_columns == ("mag_g", "mag_r")
    assert parse_inputs("I_ugriz").latent_dim == 16 and parse_inputs("M_ugriz").latent_dim == 8
    assert len(parse_inputs("Morph").morph_columns) == 20


@pytest.mark.parametrize(
    "bad", ["", "I_", "I_ugrizx", "M_W4", "M_uu", "Foo", "I_ugriz|", "I_g-g", "M_u-u", "I_ugriz|I_g_norm"]
)
def test_bad_names(bad):
    with pytest.raises(InputSetError):
        parse_inputs(bad)


def test_resolve_drops_missing_companions_but_not_required():
    iset = parse_inputs("M_ugriz|Morph")
    present = {f"mag_{b}" for b in BANDS} | {"sersic_n_r", "ab_r"}
    cols = iset.resolve_columns(lambda c: c in present)
    assert cols == ("mag_u", "mag_g", "mag_r", "mag_i", "mag_z", "sersic_n_r", "ab_r")
    with pytest.raises(DataValidationError, match="mag_u"):
        iset.resolve_columns(lambda c: c in present - {"mag_u"})
    with pytest.raises(DataValidationError, match="morphology"):
        parse_inputs("Morph").resolve_columns(lambda c: False)
