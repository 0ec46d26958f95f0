"""``mcpgen figure NAME``: regenerate a figure of the papers with one command.

Each figure scans the bundled cards it needs (:func:`mcpgen.scan.run_scan`, results kept in
sub-directories of the output directory) and overlays them; it works from any directory:

==========  ====================================================================================
``g1``      G Fig. 1: sct_3gev with sigma_0 = 2.1 and 4 MeV; ionization and delta signatures
``g2``      G Fig. 2: sct_3gev with and without ISR (KF with kinematic x_max, and G's x_max)
``g3``      G Fig. 3: the SCT programme of G Table 1 (card sct_program), one panel per energy
``l3``      L Fig. 3: Belle II 50 ab^-1, low-mass / high-mass regions with gBG, and the bBG cut
``l5``      L Fig. 5: STCF at 2, 4, 7 GeV, 10 ab^-1
``l6``      L Fig. 6: BaBar Upsilon(3S), High-E and Low-E (expected, Asimov); companion
            ``l_fig6_m2``: the m^2_chichi spectra of both data sets, backgrounds stacked
``l8``      L Fig. 8: Belle II (gBG, bBG-only, optimised), BESIII 17 fb^-1, STCF 4 GeV 20 ab^-1
            (bBG, optimised, pre-selection only) and BaBar, L's quoted numbers as markers
``collider``  the G benchmark from the paper's idealisation to the realistic SCT collider, one
            effect at a time (crossing angle, stopping, multiple scattering and readout window)
==========  ====================================================================================
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import plots
from .build import load_card
from .dask_executor import executor_scope
from .errors import UsageError
from .monophoton_run import M2_EDGES_GEV2, run_monophoton
from .output import write_json_atomic
from .reach import collider_effects
from .scan import run_scan

__all__ = ["FIGURES", "make_figure"]


def _scan(card: str, out, tag: str, overrides=(), n=None):
    """Scan of the bundled card ``card`` into ``out``/``tag``."""
    return run_scan(load_card(card, list(overrides)), Path(out) / tag, n)


def _contours(ax, result, k, mode, color, ls, label):
    pts = result["points"][k]
    x = (np.asarray(pts["masses_gev"]) - pts["sqrt_s_gev"] / 2) * 1e3
    plots.contour_panel(ax, x, pts["epsilons"], result["expected_events"][mode][k], color, ls, label)


#: Numbers quoted in G's text, drawn as markers on its figures (x: m - sqrt(s0)/2 [MeV]): the
#: abstract's and conclusion's reach, eps = 3e-3 "for the MCP masses in O(5) MeV vicinity" of the
#: beam energy at 100 fb^-1 (also section 3: "3 times larger" than the naive 1e-3).
G_QUOTED = [((-5.0, 5.0), 3e-3, "k", "G abstract, §5: ε ≈ 3×10⁻³ within O(5) MeV of √s₀/2 (100 fb⁻¹)")]


def _finish(fig, ax, out, name, xlabel, log_x=False, title=""):
    plots.finish(fig, ax, xlabel, log_x=log_x, title=title)
    return plots.save(fig, Path(out) / name)


def fig_g1(out, n=None):
    # G Fig. 1 has no ISR (its ISR comparison is Fig. 2): the cards' Kuraev-Fadin ISR is switched off
    a = _scan("sct_3gev", out, "sct_3gev", ["isr.kernel=off"], n=n)
    b = _scan("sct_3gev_4mev", out, "sct_3gev_4mev", ["isr.kernel=off"], n=n)
    fig, ax = plots.new_figure(figsize=(7, 5))
    for res, color, tag in ((a, "tab:red", "σ₀ = 2.1 MeV"), (b, "tab:blue", "σ₀ = 4 MeV")):
        _contours(ax, res, 0, "paper_ionization", color, "-", f"ionization, {tag}")
        _contours(ax, res, 0, "paper_delta", color, "--", f"δ-electrons, {tag}")
        _contours(ax, res, 0, "poisson", color, ":", f"Poisson hits, {tag}")
    plots.quoted_markers(ax, G_QUOTED)
    return _finish(
        fig,
        ax,
        out,
        "g_fig1",
        "m_χ − √s₀/2 [MeV]",
        title="G Fig. 1: N ≥ 3 at √s₀ = 3 GeV, 100 fb⁻¹, no ISR (paper criteria; dotted: Poisson-hit model)",
    )


def fig_g2(out, n=None):
    runs = [
        ("isr.kernel=off", "tab:gray", "no ISR"),
        ("isr.kernel=kuraev_fadin", "tab:red", "ISR (KF, kinematic x_max)"),
        ("isr.x_max=25 MeV", "tab:orange", "ISR (KF, G's x_max = (25 MeV)²/s)"),
    ]
    fig, ax = plots.new_figure(figsize=(7, 5))
    for i, (override, color, label) in enumerate(runs):
        res = _scan("sct_3gev", out, f"isr_{i}", [override], n=n)
        _contours(ax, res, 0, "paper_ionization", color, "-", f"ionization, {label}")
        _contours(ax, res, 0, "paper_delta", color, "--", f"δ-electrons, {label}")
    plots.quoted_markers(ax, G_QUOTED)
    return _finish(
        fig, ax, out, "g_fig2", "m_χ − √s₀/2 [MeV]", title="G Fig. 2: effect of ISR (σ₀ = 2.1 MeV, 100 fb⁻¹)"
    )


def fig_g3(out, n=None):
    res = _scan("sct_program", out, "sct_program", n=n)
    fig, axes = plots.new_figure(2, 3, figsize=(12, 7), sharey=True)
    for k, ax in enumerate(axes.ravel()):
        pts = res["points"][k]
        _contours(ax, res, k, "paper_ionization", "tab:red", "-", "ionization")
        _contours(ax, res, k, "paper_delta", "tab:red", "--", "δ-electrons")
        _contours(ax, res, k, "poisson", "tab:blue", ":", "Poisson hits")
        plots.quoted_markers(ax, G_QUOTED if k == 0 else [(*q[:3], "") for q in G_QUOTED])
        ax.set_yscale("log")
        ax.set_title(f"√s₀ = {pts['sqrt_s_gev']:.3f} GeV, {pts['luminosity_pb_inv'] / 1e3:g} fb⁻¹", fontsize=9)
        ax.set_xlabel("m_χ − √s₀/2 [MeV]")
        ax.grid(alpha=0.3, which="both")
    axes[0, 0].set_ylabel("ε")
    axes[1, 0].set_ylabel("ε")
    plots.legend_outside(axes[0, -1])
    fig.suptitle(
        "G Fig. 3: SCT one-year programme (G Table 1, 1000 fb⁻¹), N ≥ 3; with Kuraev–Fadin ISR (G does not say)",
        fontsize=10,
    )
    fig.tight_layout()
    return plots.save(fig, Path(out) / "g_fig3")


def _chains_figure(out, n, card, chains, name, title, cls_label="CLs", markers=()):
    """Limits per selection chain of one monophoton card, chi^2 and CLs; ``markers``: numbers
    quoted by the paper (:data:`L_QUOTED`)."""
    res = _scan(card, out, card, n=n)
    fig, ax = plots.new_figure(figsize=(7, 5))
    plots.limit_lines(ax, res["masses_gev"], res["limits"]["chi2"], chains, "tab:red", "χ²")
    plots.limit_lines(ax, res["masses_gev"], res["limits"]["cls"], chains, "tab:blue", cls_label)
    plots.quoted_markers(ax, markers)
    return _finish(fig, ax, out, name, "m_χ [GeV]", log_x=True, title=title)


#: Numbers quoted in L's text, drawn as markers: (mass range [GeV], eps, colour, where L says it).
L_QUOTED = {
    "belle2": [
        ((0.1, 4.0), 1e-2, "tab:red", "L Results: Belle II ε ~ 10⁻²–10⁻³, m ~ 0.1–4 GeV"),
        ((0.1, 4.0), 1e-3, "tab:red", ""),
    ],
    "stcf": [((0.003, 1.0), 1e-4, "tab:blue", "L Results: STCF 4 GeV 20 ab⁻¹ ε ≲ 10⁻⁴, m = 3 MeV–1 GeV")],
    "bes3": [((0.1, 1.5), 1e-3, "tab:purple", "L Fig. 8 (read off): BESIII ≈ 10⁻³ above 100 MeV")],
    "babar": [((1.0, 3.0), 1e-1, "k", "L Results: BaBar ε ~ 10⁻¹, m ~ 1–3 GeV")],
}


def fig_l3(out, n=None):
    return _chains_figure(
        out,
        n,
        "belle2",
        ["low_mass", "high_mass", "bbg", "optimised"],
        "l_fig3",
        "L Fig. 3: Belle II 50 ab⁻¹ (low/high-mass with gBG; bbg: bBG cut with a resolution margin, no gBG;\n"
        "optimised: L's window on top of it)",
        markers=L_QUOTED["belle2"],
    )


def fig_l5(out, n=None):
    fig, ax = plots.new_figure(figsize=(7, 5))
    for card, color in (("stcf_2gev", "tab:green"), ("stcf_4gev", "tab:blue"), ("stcf_7gev", "tab:purple")):
        res = _scan(card, out, card, n=n)
        m = np.asarray(res["masses_gev"])
        chi2 = res["limits"]["chi2"]
        ax.plot(m, np.asarray(chi2["bbg"], dtype=float), color=color, label=f"{card} bBG cut")
        ax.plot(m, np.asarray(chi2["optimised"], dtype=float), color=color, ls="--", label=f"{card} optimised")
    title = "L Fig. 5: STCF 10 ab⁻¹, expected 95 % CL (χ²); solid: bBG cut (1σ resolution margin), dashed: optimised"
    return _finish(fig, ax, out, "l_fig5", "m_χ [GeV]", log_x=True, title=title)


#: eps at which the signal of the m^2 spectra is drawn (the card's chi_pair_gamma is at its mcp.epsilon)
L6_SIGNAL_EPS = 0.1


def fig_l6(out, n=None):
    """L Fig. 6 (limits per data set) and its companion ``l_fig6_m2``: the m^2_chichi spectra of
    the High-E and Low-E data sets, backgrounds stacked, from a run of the babar card."""
    files = _chains_figure(
        out,
        n,
        "babar",
        ["high_e", "low_e"],
        "l_fig6",
        "L Fig. 6: BaBar Υ(3S), expected (backgrounds generated: νν̄γ, γγγ, e⁺e⁻γ, γγ with a lost γ;\n"
        "L fits the observed spectra)",
        "CLs (expected, Asimov)",
        markers=L_QUOTED["babar"],
    )
    card = load_card("babar")
    summary = run_monophoton(card, int(n or 200_000), Path(out) / "babar_run", progress=False)
    scale = (L6_SIGNAL_EPS / card.epsilon) ** 2
    title = "BaBar Υ(3S) (28 / 19 fb⁻¹)"
    label = f"χχ̄γ, m = {card.mass_gev:g} GeV, ε = {L6_SIGNAL_EPS:g}"
    figure = plots.missing_mass_stacked(M2_EDGES_GEV2, summary.m2_spectra, title, scale, label)
    return {**files, **{f"m2_{k}": v for k, v in plots.save(figure, Path(out) / "l_fig6_m2").items()}}


#: L Fig. 8's configurations: BESIII with L's 17 fb⁻¹ of 2011-2018 (the card's three data sets,
#: 2.03 fb⁻¹, scaled up in proportion; docs/physics.md §15), STCF 4 GeV with 20 ab⁻¹.
L8_OVERRIDES = {
    "bes3": [
        "beams.points=["
        + ", ".join(
            f"{{label: {label}, sqrt_s: {rs} GeV, luminosity: {lumi * 17 / 2.03:.6g} fb^-1}}"
            for label, rs, lumi in (("jpsi", 3.097, 1.4), ("e3554", 3.554, 0.13), ("psi2s", 3.686, 0.5))
        )
        + "]"
    ],
    "stcf_4gev": ["beams.points=[{label: stcf4, sqrt_s: 4.0 GeV, luminosity: 20 ab^-1}]"],
}


def _dashed_where_needed(m, lim, other):
    """``lim`` where ``other`` has no limit or a weaker one, plus the neighbouring masses (the STCF
    pre-selection curve takes over where the bBG cut leaves no window, L Fig. 8)."""
    lim = np.asarray(lim, dtype=float)
    take = ~np.isfinite(other) | (other > lim)
    grow = take | np.roll(take, 1) | np.roll(take, -1)
    return np.where(grow & np.isfinite(lim), lim, np.nan)


def fig_l8(out, n=None):
    fig, ax = plots.new_figure(figsize=(7.5, 5))
    curves = (
        ("belle2", ["low_mass", "high_mass"], "tab:red", "-", "Belle II 50 ab⁻¹ (bBG + gBG)"),
        ("belle2", ["bbg"], "tab:red", "-.", "Belle II 50 ab⁻¹ (bBG cut, no gBG)"),
        ("belle2", ["optimised"], "tab:red", "--", "Belle II 50 ab⁻¹ (optimised, no gBG)"),
        ("bes3", ["bbg"], "tab:purple", "-.", "BESIII 17 fb⁻¹ (bBG cut)"),
        ("stcf_4gev", ["bbg"], "tab:blue", "-.", "STCF 4 GeV 20 ab⁻¹ (bBG cut)"),
        ("stcf_4gev", ["optimised"], "tab:blue", "--", "STCF 4 GeV 20 ab⁻¹ (optimised)"),
        ("stcf_4gev", ["preselection"], "tab:blue", ":", "STCF 4 GeV 20 ab⁻¹ (pre-selection only)"),
        ("babar", ["high_e", "low_e"], "k", "-", "BaBar High-E + Low-E"),
    )
    results = {}
    table = {}
    for card, chains, color, ls, label in curves:
        if card not in results:
            results[card] = _scan(card, out, card, L8_OVERRIDES.get(card, ()), n=n)
        res = results[card]
        m = np.asarray(res["masses_gev"])
        chi2 = res["limits"]["chi2"]
        lim = np.nanmin(np.vstack([np.asarray(chi2[c], dtype=float) for c in chains]), axis=0)
        if chains == ["preselection"]:
            lim = _dashed_where_needed(m, lim, np.asarray(chi2["bbg"], dtype=float))
        ax.plot(m, lim, color=color, ls=ls, label=label)
        table[label] = {"masses_gev": m.tolist(), "eps_chi2": [None if not np.isfinite(v) else float(v) for v in lim]}
    plots.quoted_markers(ax, [q for key in ("belle2", "bes3", "stcf", "babar") for q in L_QUOTED[key]])
    title = (
        "L Fig. 8: expected 95 % CL (χ²). Ours: bBG cut with a 1σ resolution margin; Belle II regions\n"
        "approximated; BaBar from generated backgrounds (L: fits to the observed spectra)"
    )
    files = _finish(fig, ax, out, "l_fig8", "m_χ [GeV]", log_x=True, title=title)
    write_json_atomic(Path(out) / "l_fig8.json", table)
    return {**files, "json": str(Path(out) / "l_fig8.json")}


def fig_collider(out, n=None):
    """The reach at m = sqrt(s0)/2 of sct_3gev for each cumulative collider effect (mcpgen.reach)."""
    steps = collider_effects("sct_3gev", n_events=int(n or 20_000), random_trigger_events=1_000_000)
    flags = ("found_line", "found_circle", "found_boosted", "paper_either")
    fig = plots.collider_effects(
        steps, flags, "G benchmark (m = √s₀/2 = 1.5 GeV, 100 fb⁻¹): paper idealisation → realistic SCT collider"
    )
    files = plots.save(fig, Path(out) / "g_collider_effects")
    table = Path(out) / "g_collider_effects.json"
    write_json_atomic(table, {"steps": [s.to_dict() for s in steps]})
    return {**files, "json": str(table)}


FIGURES = {
    "g1": fig_g1,
    "g2": fig_g2,
    "g3": fig_g3,
    "l3": fig_l3,
    "l5": fig_l5,
    "l6": fig_l6,
    "l8": fig_l8,
    "collider": fig_collider,
}


def make_figure(
    name: str,
    out_dir,
    n_events: int | None = None,
    *,
    executor: str = "local",
    scheduler: str | None = None,
    workers: int = 1,
) -> dict:
    """Draw figure ``name`` (one of :data:`FIGURES`) into ``out_dir``; returns {format: path}.

    ``executor`` 'dask' runs the programme's scan points (every mass and energy point of every
    card it scans) as tasks on one dask cluster, started once for the figure (``workers``
    processes) or reached at ``scheduler``; the client draws and writes every file."""
    if name not in FIGURES:
        raise UsageError(f"unknown figure {name!r}; allowed: {', '.join(FIGURES)}")
    with executor_scope(executor, scheduler, workers):
        return FIGURES[name](out_dir, n_events)
