"""The paper's qualitative claims checked against a results mapping."""

from __future__ import annotations

from galinfo.study.paper_claims import PAPER_CLAIMS, paper_section, paper_vs_run


def atoms(i1, i2, i12, width=0.05, group="all"):
    red = min(i1, i2)
    row = {"group": group, "n": 1000, "i1": i1, "i2": i2, "i12": i12, "red": red, "unq1": i1 - red,
           "unq2": i2 - red, "syn": i12 - max(i1, i2)}
    for a in list(row):
        if a not in ("group", "n"):
            row[a + "_lo"], row[a + "_hi"] = row[a] - width, row[a] + width
    return [row]


def results(**over):
    pid = {"<M_ugriz, Morph>": atoms(1.0, 0.3, 1.3), "<M_ugriz, M_W123>": atoms(1.0, 0.5, 1.4),
           "<I_ugriz, M_W123>": atoms(1.4, 0.5, 1.5)}
    for b, syn in zip("ugriz", (0.1, 0.4, 0.2, 0.15, 0.05), strict=True):
        rest = "".join(c for c in "ugriz" if c != b)
        pid[f"<I_{b}, I_{rest}>"] = atoms(0.3, 1.0, 1.0 + syn)
    base = {"pid": pid,
            "images_vs_photometry": [{"images": "I_ugriz", "photometry": "M_ugriz|M_W123", "n": 1000,
                                      "sigma_mad_a": 0.09, "sigma_mad_b": 0.12, "d_sigma_mad": -0.03,
                                      "d_sigma_mad_se": 0.004, "d_info": 0.2, "d_info_se": 0.02}],
            "causal": {"ab_r | S(I_ugriz)": {"calibrated": {"global_pvalue": 0.005, "mean_r": 0.1}},
                       "ab_r | S(I_ugriz), z": {"calibrated": {"global_pvalue": 0.2, "mean_r": 0.04}}}}
    base.update(over)
    return base


def test_every_claim_agrees_with_results_built_to_agree():
    rows = paper_vs_run(results())
    assert [r["claim"] for r in rows] == [c.key for c in PAPER_CLAIMS]
    assert all(r["agrees"] is True for r in rows), rows
    assert "largest: g" in rows[3]["this_run"]


def test_claims_that_differ_say_why_and_missing_numbers_drop_the_claim():
    r = results()
    r["pid"]["<M_ugriz, Morph>"] = atoms(1.0, 0.3, 0.9)  # negative synergy
    r["pid"]["<I_r, I_ugiz>"] = atoms(0.3, 1.0, 1.9)  # r, not g, leads
    r["images_vs_photometry"][0]["d_info"] = -0.1
    r["causal"]["ab_r | S(I_ugriz)"]["calibrated"]["global_pvalue"] = 0.6
    rows = {x["claim"]: x for x in paper_vs_run(r)}
    for key in ("photometry_morphology_synergy", "images_beat_optical_and_infrared_photometry",
                "band_synergy_involves_g", "image_morphology_outside_latent"):
        assert rows[key]["agrees"] is False and rows[key]["why"], key
    assert rows["infrared_adds_less_with_images"]["agrees"] is True
    assert paper_vs_run({"pid": {}}) == []
    section = paper_section(list(rows.values()))
    assert [row[2] for row in section.tables[0].rows].count("differs") == 4


def test_a_claim_on_a_latent_that_is_not_sufficient_is_undecided():
    r = results(sufficiency={"I_ugriz": {"sufficient": False, "gap_nats": 0.08}})
    row = next(x for x in paper_vs_run(r) if x["claim"] == "image_morphology_outside_latent")
    assert row["agrees"] is None and "0.080 nats short" in row["this_run"] and "Not interpretable" in row["why"]


def test_a_union_below_its_own_subset_is_named_as_the_model_s_doing():
    r = results()
    r["pid"]["<I_u, I_griz>"] = atoms(0.3, 1.2, 1.1)  # I_ugriz below I_griz: negative synergy for u
    row = next(x for x in paper_vs_run(r) if x["claim"] == "band_synergy_involves_g")
    assert row["agrees"] is False
    assert "less informative than 1 of its four-band subsets" in row["why"] and "I_griz" in row["why"]
