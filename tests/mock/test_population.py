import numpy as np
import pytest

from galinfo.mock import MockConfig
from galinfo.mock.population import (
    BLOCK,
    baldry12_phi,
    disc_template_weights,
    draw_block,
    render_cut,
    take,
)


@pytest.fixture(scope="module")
def pop():
    cfg = MockConfig()
    p = draw_block(5, 0, cfg)
    return take(p, render_cut(p, cfg))


def test_blocks_are_deterministic_and_distinct():
    cfg = MockConfig()
    a, b, c = draw_block(1, 2, cfg), draw_block(1, 2, cfg), draw_block(1, 3, cfg)
    assert np.array_equal(a["logmstar"], b["logmstar"])
    assert not np.array_equal(a["logmstar"], c["logmstar"])
    assert c["cand"][0] == 3 * BLOCK


def test_mass_function_shape():
    phi = baldry12_phi(np.array([9.0, 10.66, 11.5]))
    assert phi[0] > phi[1] > phi[2] > 0


def test_template_weights_sum_to_one():
    w = disc_template_weights(np.array([-13.0, -11.0, -10.0, -9.0]))
    assert np.allclose(w.sum(axis=1), 1.0)
    assert w[0, 0] == 1.0 and w[-1, -1] == 1.0


def test_more_massive_is_brighter_at_fixed_z(pop):
    sel = (pop["z"] > 0.08) & (pop["z"] < 0.12)
    slope = np.polyfit(pop["logmstar"][sel], pop["true_mag_r"][sel], 1)[0]
    assert slope < -1.5


def test_passive_redder_than_star_forming_at_fixed_mass(pop):
    gr = pop["true_mag_g"] - pop["true_mag_r"]
    m = (pop["logmstar"] > 10.3) & (pop["logmstar"] < 10.9) & (pop["z"] < 0.15)
    assert np.median(gr[m & (pop["cls"] == "passive")]) > np.median(gr[m & (pop["cls"] == "sf")]) + 0.1


def test_inclined_discs_are_redder(pop):
    gr = pop["true_mag_g"] - pop["true_mag_r"]
    disc = (pop["cls"] == "sf") & (pop["bt"] < 0.3)
    resid = gr - np.polyval(np.polyfit(pop["z"][disc], gr[disc], 2), pop["z"])
    edge = disc & (pop["q_disc"] < 0.4)
    face = disc & (pop["q_disc"] > 0.8)
    assert np.median(resid[edge]) > np.median(resid[face]) + 0.03


def test_w3_rises_with_sfr(pop):
    # Absolute W3 (Vega) from the true magnitude: brighter (more negative) with SFR.
    from galinfo.mock.sed import distance_modulus

    absw3 = pop["true_w3"] - distance_modulus(pop["z"])
    sf = pop["cls"] == "sf"
    assert np.corrcoef(pop["logsfr"][sf], absw3[sf])[0, 1] < -0.5


def test_render_cut_never_drops_a_possible_member():
    cfg = MockConfig()
    p = draw_block(2, 0, cfg)
    # the proposal truncation is exact: no candidate is brighter than its optimistic bound
    assert np.all(p["true_mag_r"] > 5)
    assert render_cut(p, cfg).mean() > 0.05


def test_grey_dust_dims_edge_on_discs_in_ugriz_only():
    grey, clear = draw_block(4, 1, MockConfig()), draw_block(4, 1, MockConfig(dust_grey_coeff=0.0))
    assert np.array_equal(grey["cos_i"], clear["cos_i"]) and np.all(clear["a_grey"] == 0)
    expected = 2.5 * grey["av_face"] * np.log10(1 / grey["q_disc"])
    np.testing.assert_allclose(grey["a_grey"], expected, rtol=1e-12)
    for b in "ugriz":  # the same factor in every optical band: dimmer, not redder
        # (flux_disc also holds the disc's dust emission, which is not attenuated; it is tiny in
        # ugriz for most candidates, so the typical deviation is small)
        ratio = grey[f"flux_disc_{b}"] / clear[f"flux_disc_{b}"] / 10 ** (-0.4 * grey["a_grey"])
        assert np.all(ratio >= 1 - 1e-12) and np.median(ratio - 1) < 1e-3
        np.testing.assert_array_equal(grey[f"flux_bulge_{b}"], clear[f"flux_bulge_{b}"])
    for w in ("w1", "w2", "w3"):
        np.testing.assert_array_equal(grey[f"flux_disc_{w}"], clear[f"flux_disc_{w}"])
    edge_on, face_on = grey["q_disc"] < 0.3, grey["q_disc"] > 0.9
    assert np.median(grey["a_grey"][edge_on]) > 5 * np.median(grey["a_grey"][face_on])
