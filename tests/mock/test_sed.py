import numpy as np
import pytest

from galinfo.mock import sed


def test_calzetti_at_v_equals_rv():
    assert sed.calzetti_k(np.array([5500.0]))[0] == pytest.approx(4.05, abs=0.02)
    k = sed.calzetti_k(np.array([3000.0, 5500.0, 9000.0, 30000.0]))
    assert np.all(np.diff(k) < 0)  # attenuation falls with wavelength


def test_ccm_is_one_at_v_and_rises_to_blue():
    a = sed.ccm_odonnell(np.array([3500.0, 5495.0, 8000.0, 20000.0]))
    assert a[1] == pytest.approx(1.0, abs=0.01)
    assert np.all(np.diff(a) < 0)


def test_galactic_band_coefficients_close_to_sdss_values():
    tab = sed.photometry_tables()
    sdss = np.array([5.155, 3.793, 2.751, 2.086, 1.479])  # SDSS pipeline A_b/E(B-V) (SFD98)
    assert np.allclose(tab.galactic_r[:5], sdss, rtol=0.08)


def test_templates_order_in_colour_and_dust_reddens():
    tab = sed.photometry_tables()
    assert np.all(np.diff(tab.rest_gr) < 0)  # E redder than Sbc > Scd > Im
    z = np.array([0.1])
    for t in range(len(sed.STELLAR_TEMPLATES)):
        m0 = tab.stellar_mag(t, z, np.array([0.0]))[0]
        m1 = tab.stellar_mag(t, z, np.array([1.0]))[0]
        assert (m1[1] - m1[2]) > (m0[1] - m0[2])  # g - r redder with dust
        assert np.all(m1[:5] > m0[:5])


def test_kcorrection_makes_old_population_redder_with_redshift():
    tab = sed.photometry_tables()
    m = tab.stellar_mag(0, np.array([0.02, 0.15]), np.zeros(2))
    assert (m[1, 1] - m[1, 2]) > (m[0, 1] - m[0, 2]) + 0.1


def test_dust_emission_dominates_w3_not_w1():
    tab = sed.photometry_tables()
    d = tab.dust_mag(np.array([0.1]))[0]
    w1, w3 = sed.PHOT_BANDS.index("w1"), sed.PHOT_BANDS.index("w3")
    assert d[w3] < d[w1] - 1.5  # per unit L_W3 the dust is far brighter in W3


def test_bell03_mass_to_light_rises_with_colour():
    assert sed.bell03_log_ml_r(0.8) > sed.bell03_log_ml_r(0.3)
