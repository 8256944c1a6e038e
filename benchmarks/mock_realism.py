"""How realistic is the mock? Compare it with the real Nair & Abraham (2010) catalogue (SDSS DR4).

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mock_realism.py [--n 1500] [--workers 2]

NA10 is g < 16 (extinction-corrected), 0.01 < z < 0.1. The mock is generated with the same population
but a flux limit r < 16.3 and 0.01 < z < 0.1 (every galaxy with g < 16 has r < 16.3, so this is the
default mock restricted to the NA10 selection, only cheaper), then cut at extinction-corrected g < 16.
Prints a table of two-sample KS distances (mock vs NA10) and medians, and writes
benchmarks/out/mock_realism.png. Needs ../shared/data/real/na10.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

ROOT = Path(__file__).resolve().parents[1]
NA10 = ROOT.parent / "shared" / "data" / "real" / "na10" / "Nair-Abraham-2010-edited-for-class-all.fits"
LCS = ROOT.parent / "shared" / "data" / "real" / "lcs" / "LCS_all_size.fits"
OUT = ROOT / "benchmarks" / "out"
SDSS_EXT = {"u": 5.155, "g": 3.793, "r": 2.751, "i": 2.086, "z": 1.479}
PASSIVE_LOG_SSFR = -11.0  # one sSFR cut for both catalogues


def load_na10() -> dict[str, np.ndarray]:
    from astropy.table import Table

    t = Table.read(NA10)
    f = {c: np.asarray(np.ma.filled(t[c], np.nan), dtype=float) for c in t.colnames if c not in ("SDSS", "SPID")}
    r = f["RMAG"]
    g = r + f["GR"]
    u = g + f["UG"]
    ok = (f["LGM"] > 5) & np.isfinite(r) & (np.abs(f["GR"]) < 5) & (np.abs(f["UG"]) < 8) & (r > 0)
    ok &= (g < 16) & (f["Z"] > 0.01) & (f["Z"] < 0.1) & (f["RP50"] > 0) & (f["RP90"] > 0) & (f["NR"] >= 0)
    ssfr = np.where(f["SFRM"] > -29, f["SFRM"], np.nan)
    return {"z": f["Z"][ok], "logm": f["LGM"][ok], "g_r": (g - r)[ok], "u_r": (u - r)[ok], "r50": f["RP50"][ok],
            "r90": f["RP90"][ok], "ab": f["B_A"][ok], "n": f["NR"][ok], "ssfr": ssfr[ok]}  # fmt: skip


def load_mock(path: Path) -> dict[str, np.ndarray]:
    from astropy.table import Table

    t = Table.read(path / "catalog.fits")
    c = {k: np.asarray(t[k], dtype=float) for k in t.colnames if k not in ("split", "cls")}
    ebv = c["ebv"]
    mag = {b: c[f"mag_{b}"] - SDSS_EXT[b] * ebv for b in "ugr"}
    ok = (mag["g"] < 16) & (c["z"] > 0.01) & (c["z"] < 0.1)
    return {"z": c["z"][ok], "logm": c["logmstar"][ok], "g_r": (mag["g"] - mag["r"])[ok], "u_r": (mag["u"] - mag["r"])[ok],
            "r50": c["r50_r"][ok], "r90": c["r90_r"][ok], "ab": c["ab_r"][ok], "n": c["sersic_n_r"][ok],
            "ssfr": (c["true_logsfr"] - c["logmstar"])[ok]}  # fmt: skip


def ks(a: np.ndarray, b: np.ndarray) -> tuple[float, int, int, float, float]:
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 5 or len(b) < 5:
        return np.nan, len(a), len(b), np.nan, np.nan
    return ks_2samp(a, b).statistic, len(a), len(b), float(np.median(a)), float(np.median(b))


def size_table(mock: dict, real: dict) -> None:
    """Median physical R50 (kpc) per mass bin: mock, NA10, and the LCS (NSA photometry) as a
    cross-check of the Shen et al. (2003) relations the mock uses."""
    from galinfo.mock.sed import angular_diameter_distance_kpc

    def kpc(d):
        return d["r50"] * angular_diameter_distance_kpc(d["z"]) / 206264.8

    lcs = None
    if LCS.exists():
        from astropy.table import Table

        t = Table.read(LCS)
        z = np.asarray(t["ZDIST"], float)
        lcs = {"logm": np.asarray(t["MSTAR_50"], float), "r50": np.asarray(t["PETROTH50"], float), "z": z,
               "n": np.asarray(t["SERSIC_N"], float)}  # fmt: skip
    print("median Petrosian R50_r in kpc (mock: true sSFR class; NA10: MPA sSFR; LCS: NSA Sersic n<2.5 as 'sf')")
    print(f"{'log M* bin':12s} {'mock sf':>8s} {'NA10 sf':>8s} {'LCS n<2.5':>10s} {'mock pas':>9s} {'NA10 pas':>9s} {'LCS n>2.5':>10s}")
    for lo, hi in ((9.5, 10.0), (10.0, 10.5), (10.5, 11.0), (11.0, 11.5)):
        vals = []
        for d in (mock, real):
            s = (d["logm"] > lo) & (d["logm"] < hi)
            vals.append((np.nanmedian(kpc(d)[s & (d["ssfr"] >= PASSIVE_LOG_SSFR)]), np.nanmedian(kpc(d)[s & (d["ssfr"] < PASSIVE_LOG_SSFR)])))
        if lcs is not None:
            s = (lcs["logm"] > lo) & (lcs["logm"] < hi)
            vals.append((np.nanmedian(kpc(lcs)[s & (lcs["n"] < 2.5)]), np.nanmedian(kpc(lcs)[s & (lcs["n"] >= 2.5)])))
        else:
            vals.append((np.nan, np.nan))
        (ms, mp), (rs, rp), (ls, lp) = vals
        print(f"{lo:4.1f}-{hi:4.1f}    {ms:8.2f} {rs:8.2f} {ls:10.2f} {mp:9.2f} {rp:9.2f} {lp:10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="regenerate the mock even if cached")
    args = ap.parse_args()
    if not NA10.exists():
        print(f"skipped: {NA10} is absent (real catalogues live in ../shared/data/real)")
        sys.exit(0)
    from galinfo.mock import MockConfig, generate

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"mock_na10_n{args.n}_s{args.seed}"
    if args.fresh or not (path / "catalog.fits").exists():
        cfg = MockConfig(r_limit=16.3, z_min=0.01, z_max=0.1, chunk_size=200)
        generate(args.n, args.seed, path, workers=args.workers, config=cfg, overwrite=True, progress=True)
    mock, real = load_mock(path), load_na10()
    rows = []

    def add(label, sel_m, sel_r, key):
        rows.append((label, *ks(mock[key][sel_m], real[key][sel_r])))

    all_m, all_r = np.ones(len(mock["z"]), bool), np.ones(len(real["z"]), bool)
    add("g-r (all)", all_m, all_r, "g_r")
    add("u-r (all)", all_m, all_r, "u_r")
    add("log M* (all)", all_m, all_r, "logm")
    add("z (all)", all_m, all_r, "z")
    for lo, hi in ((9.5, 10.0), (10.0, 10.5), (10.5, 11.0), (11.0, 11.5)):
        add(f"R50_r [arcsec], {lo}<logM<{hi}", (mock["logm"] > lo) & (mock["logm"] < hi), (real["logm"] > lo) & (real["logm"] < hi), "r50")
    mock["conc"], real["conc"] = mock["r90"] / mock["r50"], real["r90"] / real["r50"]
    add("R90/R50 concentration (all)", all_m, all_r, "conc")
    add("axis ratio b/a r (all)", all_m, all_r, "ab")
    pas_m, pas_r = mock["ssfr"] < PASSIVE_LOG_SSFR, real["ssfr"] < PASSIVE_LOG_SSFR
    sf_m, sf_r = mock["ssfr"] >= PASSIVE_LOG_SSFR, real["ssfr"] >= PASSIVE_LOG_SSFR
    add("Sersic n_r, passive (sSFR<1e-11)", pas_m, pas_r, "n")
    add("Sersic n_r, star-forming", sf_m, sf_r, "n")
    add("g-r, passive", pas_m, pas_r, "g_r")
    add("g-r, star-forming", sf_m, sf_r, "g_r")
    for lo, hi in ((0.01, 0.04), (0.04, 0.07), (0.07, 0.1)):
        add(f"log M*, {lo}<z<{hi}", (mock["z"] > lo) & (mock["z"] < hi), (real["z"] > lo) & (real["z"] < hi), "logm")
    red_m = np.mean(mock["u_r"] > 2.22)
    red_r = np.mean(real["u_r"] > 2.22)

    print(f"mock: {path.name} ({len(mock['z'])} galaxies after g<16, 0.01<z<0.1); NA10: {len(real['z'])} galaxies")
    print(f"{'quantity (selection)':44s} {'KS D':>6s} {'n_mock':>7s} {'n_NA10':>7s} {'med mock':>9s} {'med NA10':>9s}")
    for label, d, nm, nr, mm, mr in rows:
        print(f"{label:44s} {d:6.3f} {nm:7d} {nr:7d} {mm:9.3f} {mr:9.3f}")
    print(f"{'fraction u-r > 2.22 (Strateva+01 red)':44s} {'':6s} {'':7s} {'':7s} {red_m:9.3f} {red_r:9.3f}")
    print(f"{'passive fraction (sSFR < 1e-11)':44s} {'':6s} {'':7s} {'':7s} {np.mean(pas_m):9.3f} {np.nanmean(pas_r[np.isfinite(real['ssfr'])]):9.3f}")

    size_table(mock, real)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(2, 3, figsize=(13, 8))
    kw = {"density": True, "histtype": "step", "lw": 1.5}
    for a, key, rng_, lab in ((ax[0, 0], "g_r", (0.2, 1.2), "g - r"), (ax[0, 1], "u_r", (0.5, 3.5), "u - r")):
        a.hist(real[key], bins=40, range=rng_, label="NA10", **kw)
        a.hist(mock[key], bins=40, range=rng_, label="mock", **kw)
        a.set_xlabel(lab)
        a.legend()
    a = ax[0, 2]
    a.scatter(real["logm"], np.log10(real["r50"]), s=1, alpha=0.2, label="NA10")
    a.scatter(mock["logm"], np.log10(mock["r50"]), s=2, alpha=0.5, label="mock")
    a.set_xlabel("log M*")
    a.set_ylabel("log R50_r [arcsec]")
    a.legend()
    a = ax[1, 0]
    for sel_r, sel_m, name in ((pas_r, pas_m, "passive"), (sf_r, sf_m, "star-forming")):
        a.hist(real["n"][sel_r], bins=24, range=(0, 6), label=f"NA10 {name}", **kw)
        a.hist(mock["n"][sel_m], bins=24, range=(0, 6), label=f"mock {name}", ls="--", **kw)
    a.set_xlabel("Sersic n (r)")
    a.legend(fontsize=7)
    a = ax[1, 1]
    a.scatter(real["z"], real["logm"], s=1, alpha=0.2, label="NA10")
    a.scatter(mock["z"], mock["logm"], s=2, alpha=0.5, label="mock")
    a.set_xlabel("z")
    a.set_ylabel("log M*")
    a.legend()
    a = ax[1, 2]
    a.hist(real["ab"], bins=30, range=(0, 1), label="NA10", **kw)
    a.hist(mock["ab"], bins=30, range=(0, 1), label="mock", **kw)
    a.set_xlabel("b/a (r)")
    a.legend()
    fig.tight_layout()
    fig.savefig(OUT / "mock_realism.png", dpi=110)
    print(f"figure: {OUT / 'mock_realism.png'}")


if __name__ == "__main__":
    main()
