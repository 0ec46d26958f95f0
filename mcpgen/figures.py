"""``mcpgen figure NAME``: regenerate a figure of the papers with one command.

Each figure runs the scans it needs (:mod:`mcpgen.scan_cmd`, results kept in sub-directories)
and overlays them:

==========  ====================================================================================
``g1``      G Fig. 1: sct_3gev with sigma_0 = 2.1 and 4 MeV; ionization and delta signatures
``g2``      G Fig. 2: sct_3gev with and without ISR (KF with kinematic x_max, and G's x_max)
``g3``      G Fig. 3: the SCT programme of G Table 1 (cards/sct_program.yaml), one panel per energy
``l3``      L Fig. 3: Belle II 50 ab^-1, low-mass / high-mass regions with gBG, and the bBG cut
``l5``      L Fig. 5: STCF at 2, 4, 7 GeV, 10 ab^-1
``l6``      L Fig. 6: BaBar Upsilon(3S), High-E and Low-E (expected, Asimov)
``l8``      L Fig. 8: summary of Belle II, BESIII, STCF and BaBar
==========  ====================================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .card import load_card
from .scan_cmd import run_scan

__all__ = ["FIGURES", "make_figure"]

CARDS = Path(__file__).resolve().parents[1] / "cards"


def _scan(card_name, out, tag, overrides=(), n=None):
    card = load_card(CARDS / card_name, list(overrides))
    return run_scan(card, Path(out) / tag, n)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _contours(ax, result, k, mode, color, ls, label):
    pts = result["points"][k]
    x = (np.asarray(pts["masses_gev"]) - pts["sqrt_s_gev"] / 2) * 1e3
    grid = np.asarray(result["expected_events"][mode][k], dtype=float)
    if np.nanmax(grid) >= 3:
        ax.contour(x, pts["epsilons"], grid.T, levels=[3.0], colors=color, linestyles=ls)
        ax.plot([], [], color=color, ls=ls, label=label)


def _finish(fig, ax, out, name, xlabel, ylabel="ε", log_x=False, title=""):
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / f"{name}.png", dpi=120)
    fig.savefig(out / f"{name}.pdf")
    return {"png": str(out / f"{name}.png"), "pdf": str(out / f"{name}.pdf")}


def fig_g1(out, n=None):
    plt = _plt()
    a = _scan("sct_3gev.yaml", out, "sct_3gev", n=n)
    b = _scan("sct_3gev_4mev.yaml", out, "sct_3gev_4mev", n=n)
    fig, ax = plt.subplots(figsize=(7, 5))
    for res, color, tag in ((a, "tab:red", "σ₀ = 2.1 MeV"), (b, "tab:blue", "σ₀ = 4 MeV")):
        _contours(ax, res, 0, "paper_ionization", color, "-", f"ionization, {tag}")
        _contours(ax, res, 0, "paper_delta", color, "--", f"δ-electrons, {tag}")
        _contours(ax, res, 0, "poisson", color, ":", f"Poisson hits, {tag}")
    return _finish(
        fig,
        ax,
        out,
        "g_fig1",
        "m_χ − √s₀/2 [MeV]",
        title="G Fig. 1: N ≥ 3 at √s₀ = 3 GeV, 100 fb⁻¹ (paper criteria; dotted: Poisson-hit model)",
    )


def fig_g2(out, n=None):
    plt = _plt()
    runs = [
        ("isr.kernel=off", "tab:gray", "no ISR"),
        ("isr.kernel=kuraev_fadin", "tab:red", "ISR (KF, kinematic x_max)"),
        ("isr.x_max=25 MeV", "tab:orange", "ISR (KF, G's x_max = (25 MeV)²/s)"),
    ]
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, (override, color, label) in enumerate(runs):
        res = _scan("sct_3gev.yaml", out, f"isr_{i}", [override], n=n)
        _contours(ax, res, 0, "paper_ionization", color, "-", f"ionization, {label}")
        _contours(ax, res, 0, "paper_delta", color, "--", f"δ-electrons, {label}")
    return _finish(
        fig, ax, out, "g_fig2", "m_χ − √s₀/2 [MeV]", title="G Fig. 2: effect of ISR (σ₀ = 2.1 MeV, 100 fb⁻¹)"
    )


def fig_g3(out, n=None):
    plt = _plt()
    res = _scan("sct_program.yaml", out, "sct_program", n=n)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), sharey=True)
    for k, ax in enumerate(axes.ravel()):
        pts = res["points"][k]
        _contours(ax, res, k, "paper_ionization", "tab:red", "-", "ionization")
        _contours(ax, res, k, "paper_delta", "tab:red", "--", "δ-electrons")
        _contours(ax, res, k, "poisson", "tab:blue", ":", "Poisson hits")
        ax.set_yscale("log")
        ax.set_title(f"√s₀ = {pts['sqrt_s_gev']:.3f} GeV, {pts['luminosity_pb_inv'] / 1e3:g} fb⁻¹", fontsize=9)
        ax.set_xlabel("m_χ − √s₀/2 [MeV]")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("ε")
    axes[1, 0].set_ylabel("ε")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("G Fig. 3: SCT one-year programme (G Table 1, 1000 fb⁻¹), N ≥ 3", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out / "g_fig3.png", dpi=120)
    fig.savefig(out / "g_fig3.pdf")
    return {"png": str(out / "g_fig3.png"), "pdf": str(out / "g_fig3.pdf")}


def _limit_lines(ax, res, chains, method, color, label, styles=("-", "--", ":", "-.")):
    m = np.asarray(res["masses_gev"])
    for chain, ls in zip(chains, styles, strict=False):
        if chain in res["limits"][method]:
            ax.plot(
                m, np.asarray(res["limits"][method][chain], dtype=float), color=color, ls=ls, label=f"{label} {chain}"
            )


def _chains_figure(out, n, card, chains, name, title, cls_label="CLs"):
    """Limits per selection chain of one monophoton card, chi^2 and CLs."""
    plt = _plt()
    res = _scan(card, out, card[:-5], n=n)
    fig, ax = plt.subplots(figsize=(7, 5))
    _limit_lines(ax, res, chains, "chi2", "tab:red", "χ²")
    _limit_lines(ax, res, chains, "cls", "tab:blue", cls_label)
    return _finish(fig, ax, out, name, "m_χ [GeV]", log_x=True, title=title)


def fig_l3(out, n=None):
    return _chains_figure(
        out,
        n,
        "belle2.yaml",
        ["low_mass", "high_mass", "bbg"],
        "l_fig3",
        "L Fig. 3: Belle II 50 ab⁻¹ (low/high-mass with gBG; bbg: bBG cut, no gBG)",
    )


def fig_l5(out, n=None):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    for card, color in (
        ("stcf_2gev.yaml", "tab:green"),
        ("stcf_4gev.yaml", "tab:blue"),
        ("stcf_7gev.yaml", "tab:purple"),
    ):
        res = _scan(card, out, card[:-5], n=n)
        m = np.asarray(res["masses_gev"])
        ax.plot(m, np.asarray(res["best"]["chi2"], dtype=float), color=color, label=f"{card[:-5]} χ²")
        ax.plot(m, np.asarray(res["best"]["cls"], dtype=float), color=color, ls="--", label=f"{card[:-5]} CLs")
    return _finish(fig, ax, out, "l_fig5", "m_χ [GeV]", log_x=True, title="L Fig. 5: STCF 10 ab⁻¹, bBG cut")


def fig_l6(out, n=None):
    return _chains_figure(
        out,
        n,
        "babar.yaml",
        ["high_e", "low_e"],
        "l_fig6",
        "L Fig. 6: BaBar Υ(3S) (background: νν̄γ only — see README)",
        "CLs (expected, Asimov)",
    )


def fig_l8(out, n=None):
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 5))
    for card, chains, color, label in (
        ("belle2.yaml", ["low_mass", "high_mass"], "tab:red", "Belle II 50 ab⁻¹ (gBG)"),
        ("bes3.yaml", ["bbg"], "tab:green", "BESIII 2 fb⁻¹"),
        ("stcf_4gev.yaml", ["bbg"], "tab:blue", "STCF 4 GeV 10 ab⁻¹"),
        ("babar.yaml", ["high_e", "low_e"], "k", "BaBar"),
    ):
        res = _scan(card, out, card[:-5], n=n)
        m = np.asarray(res["masses_gev"])
        lim = np.nanmin(np.vstack([np.asarray(res["limits"]["chi2"][c], dtype=float) for c in chains]), axis=0)
        ax.plot(m, lim, color=color, label=label)
    return _finish(fig, ax, out, "l_fig8", "m_χ [GeV]", log_x=True, title="L Fig. 8: expected 95 % CL (χ²)")


FIGURES = {"g1": fig_g1, "g2": fig_g2, "g3": fig_g3, "l3": fig_l3, "l5": fig_l5, "l6": fig_l6, "l8": fig_l8}


def make_figure(name: str, out_dir, n_events: int | None = None) -> dict:
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; allowed: {', '.join(FIGURES)}")
    return FIGURES[name](out_dir, n_events)
