"""Every figure mcpgen draws. Plot functions take arrays or results and return a matplotlib
``Figure``; :func:`save` writes it (PNG and/or PDF) and closes it.

matplotlib is imported on first use (with the non-interactive Agg backend), so importing this
module costs nothing. Every figure uses a HEP style (mplhep's ROOT style, with the font sizes of
these small figures): colour bars wherever colour carries a value, legends outside the axes
(:func:`legend_outside`, never on the curves), and on the paper-figure plots the numbers the papers
quote as markers with their source (:func:`quoted_markers`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "bbg_plane",
    "tracker_reach",
    "monophoton_reach",
    "sagitta_map",
    "nunu_spectrum",
    "missing_mass_spectra",
    "missing_mass_stacked",
    "contour_panel",
    "limit_lines",
    "quoted_markers",
    "legend_outside",
    "new_figure",
    "finish",
    "save",
]


#: Sizes on top of mplhep's ROOT style (made for single large plots) for these small figures
_RC = {
    "font.size": 10,
    "axes.titlesize": 9,
    "axes.labelsize": 10,
    "legend.fontsize": 7,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.figsize": (7.0, 5.0),
    "savefig.bbox": "tight",
    # the style's TeX Gyre Heros lacks the Greek and sub/superscript glyphs of the labels (ε, σ₀, fb⁻¹)
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "mathtext.fontset": "dejavusans",
}
_STYLE = []


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not _STYLE:  # once per process
        import mplhep

        _STYLE.append([mplhep.style.ROOT, _RC])
        plt.style.use(_STYLE[0])
    return plt


def legend_outside(ax, **kwargs):
    """The legend of ``ax`` to the right of the axes, off the curves (saved with a tight box)."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    options = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "frameon": False}
    fig = ax.figure
    if not getattr(fig, "_mcpgen_widened", False):  # room for the legend beside the axes
        fig.set_figwidth(fig.get_figwidth() * 1.5)
        fig._mcpgen_widened = True
    return ax.legend(**(options | kwargs))


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs):
    """A new (figure, axes) pair (Agg backend)."""
    return _plt().subplots(nrows, ncols, **kwargs)


def save(fig, stem: str | Path, formats: Sequence[str] = ("png", "pdf"), dpi: int = 120) -> dict[str, str]:
    """Write ``fig`` to ``stem``.<format> for each format (directories created), close it;
    returns {format: path}."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    files = {}
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        fig.savefig(path, dpi=dpi)
        files[fmt] = str(path)
    _plt().close(fig)
    return files


def finish(fig, ax, xlabel: str, ylabel: str = "ε", log_x: bool = False, title: str = ""):
    """Common axes dressing of the reach figures (log ε axis, grid, legend, title)."""
    ax.set_yscale("log")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    legend_outside(ax)
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def bbg_plane(theta_cm, e_cm, weights, cut_theta, cut_e, cut_label: str, title: str, e_max: float):
    """(theta_gamma^CM, E_gamma^CM) of beam-escape events (weighted, log colour scale) with the
    bBG cut line (``cut_theta`` [rad], ``cut_e`` [GeV])."""
    from matplotlib.colors import LogNorm

    fig, ax = new_figure(figsize=(6.4, 4.6))
    *_, image = ax.hist2d(np.degrees(theta_cm), e_cm, bins=(90, 60), weights=weights, cmap="viridis", norm=LogNorm())
    fig.colorbar(image, ax=ax, label="σ per bin [pb]")
    ax.plot(np.degrees(cut_theta), cut_e, "r-", lw=2, label=f"bBG cut: {cut_label}")
    ax.set_xlabel("θ_γ (CM) [deg]")
    ax.set_ylabel("E_γ (CM) [GeV]")
    ax.set_title(title)
    ax.set_xlim(0, 180)
    ax.set_ylim(0, e_max)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.08), frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def contour_panel(ax, x, epsilons, grid, color, ls, label, level: float = 3.0) -> None:
    """The N = ``level`` contour of an expected-events grid (masses x eps) on ``ax``, with a legend entry."""
    grid = np.asarray(grid, dtype=float)
    if np.nanmax(grid) >= level:
        ax.contour(x, epsilons, grid.T, levels=[level], colors=color, linestyles=ls)
        ax.plot([], [], color=color, ls=ls, label=label)


def tracker_reach(
    points: Sequence[tuple[float, np.ndarray, np.ndarray]], expected: dict, name: str, cl: float = 0.95, level=3.0
):
    """N >= ``level`` contours of the tracker channel (3: G's 95 % CL), one set per collider point.

    ``points``: (sqrt(s0) [GeV], masses [GeV], epsilons) per point; ``expected[mode][k]``: the
    (mass x eps) grid of expected events of point k for modes ``paper_ionization``,
    ``paper_delta``, ``poisson``. With one point the x axis is m - sqrt(s0)/2 [MeV].
    """
    styles = {
        "paper_ionization": ("tab:red", "-", "ionization (G §4 criteria)"),
        "paper_delta": ("tab:red", "--", "δ-electrons (G §4 criteria)"),
        "poisson": ("tab:blue", "-", "Poisson hits + road finder"),
    }
    single = len(points) == 1
    fig, ax = new_figure(figsize=(7, 5))
    for mode, (color, ls, label) in styles.items():
        for k, (sqrt_s0, masses, epsilons) in enumerate(points):
            x = (masses - sqrt_s0 / 2) * 1e3 if single else masses
            grid = np.asarray(expected[mode][k], dtype=float)
            if np.nanmax(grid) < level:
                continue
            ax.contour(x, epsilons, grid.T, levels=[level], colors=color, linestyles=ls)
            if k == 0:
                ax.plot([], [], color=color, ls=ls, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("m_χ − √s₀/2 [MeV]" if single else "m_χ [GeV]")
    ax.set_ylabel("ε")
    ax.set_title(f"{name}: N ≥ {level:.3g} expected events ({100 * cl:.0f} % CL, zero background)", fontsize=10)
    legend_outside(ax, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def quoted_markers(ax, quoted) -> None:
    """Numbers a paper quotes in its text as markers: for each (mass range [GeV], eps, colour,
    label) a horizontal bar with end markers over the mass range at eps (label: the source)."""
    for (m_lo, m_hi), eps, color, label in quoted:
        ax.plot([m_lo, m_hi], [eps, eps], color=color, ls="none", marker="D", ms=5, alpha=0.8, label=label or None)
        ax.plot([m_lo, m_hi], [eps, eps], color=color, lw=0.8, alpha=0.5)


def limit_lines(ax, masses, limits: dict, chains: Sequence[str], color: str, label: str) -> None:
    """One line per selection chain (styles -, --, :, -.) of ``limits[chain]`` against ``masses``."""
    m = np.asarray(masses)
    for chain, ls in zip(chains, ("-", "--", ":", "-."), strict=False):
        if chain in limits:
            ax.plot(m, np.asarray(limits[chain], dtype=float), color=color, ls=ls, label=f"{label} {chain}")


def monophoton_reach(masses, best: dict, limits: dict, chains: Sequence[str], name: str, cl: float = 0.95):
    """Expected eps limits at confidence level ``cl`` of the monophoton channel: the best chain per
    method (thick) and every chain (dotted)."""
    fig, ax = new_figure(figsize=(7, 5))
    colors = {"chi2": "tab:red", "cls": "tab:blue", "zero_background": "tab:gray"}
    delta, n_zero = (2.71, 3) if cl == 0.95 else (1.64, 2.30)  # analysis.limits.delta_chi2_for / zero_background_events
    labels = {
        "chi2": f"χ² = S²/(S+B), Δχ² = {delta:g} (L)",
        "cls": "CLs expected (pyhf)",
        "zero_background": f"N = {n_zero:g}, B ignored",
    }
    m = np.asarray(masses)
    for method, line in best.items():
        color = colors.get(method, "k")
        ax.plot(m, np.asarray(line, dtype=float), color=color, lw=2, label=labels.get(method, method))
        for chain in chains:
            ax.plot(m, np.asarray(limits[method][chain], dtype=float), color=color, lw=0.8, ls=":", alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m_χ [GeV]")
    ax.set_ylabel(f"ε ({100 * cl:.0f} % CL expected)")
    ax.set_title(f"{name}: monophoton reach (dotted: individual selections)", fontsize=10)
    legend_outside(ax, fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def sagitta_map(x_mev, epsilons, ratio):
    """Sagitta over the point resolution on the (m - sqrt(s0)/2, eps) grid, with the 1 and 3 sigma
    contours ('almost unbent', G §2)."""
    from matplotlib.colors import LogNorm

    fig, ax = new_figure(figsize=(7, 5))
    r = np.ma.masked_invalid(np.asarray(ratio, dtype=float).T)
    mesh = ax.pcolormesh(x_mev, epsilons, r, norm=LogNorm(vmin=0.1, vmax=1e4), shading="nearest", cmap="magma")
    ax.contour(x_mev, epsilons, r, levels=[1, 3], colors=["w", "c"], linestyles=["--", "-"])
    fig.colorbar(mesh, ax=ax, label="sagitta / σ_rφ")
    ax.set_yscale("log")
    ax.set_xlabel("m_χ − √s₀/2 [MeV]")
    ax.set_ylabel("ε")
    ax.set_title(
        "'Almost unbent' (G §2): sagitta over the tracker / point resolution\n"
        "(cyan: 3σ, white dashed: 1σ; median β of the pairs)",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def missing_mass_spectra(edges, spectra: dict, title: str):
    """Recoil mass squared m²_χχ = s − 2√s E_γ of the events passing each chain: one panel per
    chain (``spectra[chain][process]``: expected events per bin), one line per process."""
    edges = np.asarray(edges, dtype=float)
    chains = list(spectra)
    fig, axes = new_figure(1, len(chains), figsize=(5.2 * len(chains), 4.2), squeeze=False)
    for ax, chain in zip(axes[0], chains, strict=True):
        total = 0.0
        for name, h in spectra[chain].items():
            h = np.asarray(h, dtype=float)
            ax.stairs(np.where(h > 0, h, np.nan), edges, label=name)
            if name != "chi_pair_gamma":
                total = total + h
        ax.stairs(np.where(np.asarray(total) > 0, total, np.nan), edges, color="k", ls="--", label="all backgrounds")
        ax.set_yscale("log")
        ax.set_xlabel("m²_χχ = s − 2√s E*_γ [GeV²]")
        ax.set_ylabel("expected events / GeV²")
        ax.set_title(f"{title}: {chain}", fontsize=9)
        if ax is axes[0][-1]:  # the same processes in every panel: one legend
            legend_outside(ax)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def missing_mass_stacked(edges, spectra: dict, title: str, signal_scale: float = 1.0, signal_label: str = "signal"):
    """m²_χχ spectra per chain (one panel each) with the backgrounds stacked (filled, largest on top)
    and the signal (``chi_pair_gamma`` times ``signal_scale``) as a line on top of the stack.
    ``spectra[chain][process]``: expected events per bin of ``edges`` [GeV²]."""
    edges = np.asarray(edges, dtype=float)
    chains = list(spectra)
    fig, axes = new_figure(1, len(chains), figsize=(5.2 * len(chains), 4.4), squeeze=False)
    colors = {"nunu_gamma": "tab:orange", "ggg": "tab:red", "eeg": "tab:purple", "gg": "tab:green"}
    labels = {"nunu_gamma": "νν̄γ", "ggg": "γγγ (2 γ lost)", "eeg": "e⁺e⁻γ (e⁺e⁻ lost)", "gg": "γγ (1 γ lost)"}
    for ax, chain in zip(axes[0], chains, strict=True):
        procs = {k: np.asarray(v, dtype=float) for k, v in spectra[chain].items()}
        bkg = sorted((k for k in procs if k != "chi_pair_gamma"), key=lambda k: procs[k].sum())
        base = np.zeros(len(edges) - 1)
        for name in bkg:
            top = base + procs[name]
            ax.stairs(
                top, edges, baseline=base, fill=True, alpha=0.8, color=colors.get(name), label=labels.get(name, name)
            )
            base = top
        if "chi_pair_gamma" in procs:
            sig = procs["chi_pair_gamma"] * signal_scale
            ax.stairs(np.where(sig > 0, sig, np.nan), edges, color="k", lw=1.5, label=signal_label)
        ax.set_yscale("log")
        positive = base[base > 0]
        if positive.size:
            ax.set_ylim(max(positive.min() * 0.3, 1e-3), positive.max() * 5)
        ax.set_xlabel("m²_χχ = s − 2√s E*_γ [GeV²]")
        ax.set_ylabel("expected events / bin")
        ax.set_title(f"{title}: {chain}", fontsize=9)
        if ax is axes[0][-1]:
            legend_outside(ax)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def nunu_spectrum(edges, mc_fb, mc_err_fb, analytic_fb, label: str):
    """Photon spectrum of nu nubar gamma inside the generation cuts: MC against the quadrature,
    with pulls."""
    edges = np.asarray(edges)
    mc, err, ana = (np.asarray(a, dtype=float) for a in (mc_fb, mc_err_fb, analytic_fb))
    centres = np.sqrt(edges[1:] * edges[:-1])
    width = np.diff(edges)
    fig, (ax, rx) = new_figure(2, 1, figsize=(6.4, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.stairs(ana / width, edges, color="tab:red", label="quadrature of W(x, θ) σ_νν̄(s′) (docs/physics.md §5)")
    ax.errorbar(centres, mc / width, err / width, fmt="k.", label="MC (generator)")
    ax.set_yscale("log")
    ax.set_ylabel("dσ/dE_γ [fb/GeV]")
    legend_outside(ax, fontsize=8)
    ax.set_title(f"{label}: photon spectrum inside the generation cuts", fontsize=9)
    pull = (mc - ana) / np.where(err > 0, err, 1)
    rx.bar(centres, pull, width=width * 0.8, color="tab:gray")
    rx.axhline(0, color="k", lw=0.8)
    rx.set_ylabel("pull")
    rx.set_xlabel("E_γ (CM) [GeV]")
    rx.set_xscale("log")
    fig.tight_layout()
    return fig


def collider_effects(steps: Sequence, hypotheses: Sequence[str], title: str):
    """Left: N(ε) of each finder hypothesis for each cumulative collider effect (N = 3 dotted);
    right: the ε reach per effect and hypothesis. ``steps``: :class:`mcpgen.reach.SimulatedReach`."""
    fig, (ax, bx) = new_figure(1, 2, figsize=(11, 4.6))
    colors = ("black", "tab:blue", "tab:orange", "tab:red", "tab:green", "tab:purple")
    styles = {"found_line": "-", "found_circle": "--", "found_boosted": ":", "paper_either": "-."}
    for step, color in zip(steps, colors, strict=False):
        for flag in hypotheses:
            n = np.asarray(step.expected[flag])
            ax.plot(step.epsilons, np.where(n > 0, n, np.nan), styles.get(flag, "-"), color=color, lw=1.2)
    ax.axhline(3.0, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("ε")
    ax.set_ylabel("expected pairs found, N (100 fb⁻¹)")
    ax.grid(alpha=0.3, which="both")
    for flag in hypotheses:
        ax.plot([], [], styles.get(flag, "-"), color="grey", label=flag.removeprefix("found_"))
    for step, color in zip(steps, colors, strict=False):
        ax.plot([], [], "s", color=color, label=step.label)
    legend_outside(ax, fontsize=6)
    x = np.arange(len(steps))
    markers = ("o", "s", "^", "D", "v")
    for k, flag in enumerate(hypotheses):
        reach = [s.reach()[flag] for s in steps]
        bx.plot(x + 0.06 * (k - 1.5), reach, marker=markers[k % len(markers)], ls="-", lw=0.8, label=flag)
    bx.set_yscale("log")
    bx.set_xticks(x, [s.label.replace(", ", ",\n").replace(" (", "\n(") for s in steps], fontsize=6)
    bx.set_ylabel("ε reach (N ≥ 3, zero background)")
    bx.grid(alpha=0.3, which="both", axis="y")
    legend_outside(bx, fontsize=7, title="signal flag", title_fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
