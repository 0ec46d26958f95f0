"""``mcpgen scan``: (m, eps) sensitivity of a card, with eps reweighting (analysis.scan)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis import scan as sc

from .card import Card
from .units import parse_quantity

__all__ = ["run_scan"]


def _tracker_points(card: Card):
    from generator.beams import Beams

    spec = card.data["scan"]
    points = spec.get("points")
    base = card.beams
    if not points:
        center = base.sqrt_s0_gev / 2
        return [(base, card.luminosity_pb, sc.ScanGrid.from_card(spec, center))]
    out = []
    for p in points:
        rs = parse_quantity(p["sqrt_s"], "energy")
        beams = Beams(
            rs / 2,
            rs / 2,
            base.spread_model,
            sigma_sqrt_s_gev=base.sigma_sqrt_s_gev,
            sigma_electron_gev=base.sigma_electron_gev,
            sigma_positron_gev=base.sigma_positron_gev,
        )
        out.append((beams, parse_quantity(p["luminosity"], "luminosity"), sc.ScanGrid.from_card(spec, rs / 2)))
    return out


def run_scan(card: Card, out_dir, n_events: int | None = None, seed: int = 1) -> dict:
    """Scan the card's ``scan`` grid; write scan.json, scan.root and scan.png/pdf to ``out_dir``."""
    if "scan" not in card.data:
        raise ValueError(f"card {card.source} has no 'scan' section (mass and epsilon grids)")
    spec = card.data["scan"]
    n = int(n_events or spec.get("events_per_mass", 20_000))
    if "monophoton" in card.extras:
        grid = sc.ScanGrid.from_card(spec)
        res = sc.monophoton_scan(
            card, grid.masses_gev, n_signal=n, n_background=int(spec.get("background_events", 200_000)), seed=seed
        )
        payload = {"card": card.source, "channel": "monophoton", **_provenance(card, seed), **res}
        edges = sc._edges(grid.masses_gev, log=spec["mass"].get("log", False))
        h1 = {f"eps_limit_{m}_{c}": (res["limits"][m][c], edges) for m in res["limits"] for c in res["chains"]}
        h1.update({f"eps_limit_{m}_best": (res["best"][m], edges) for m in res["best"]})
        eps_edges = sc._edges(grid.epsilons, log=True)
        h2 = {
            f"signal_events_{c}": (np.outer(res["signal_events_at_eps1"][c], grid.epsilons**2), edges, eps_edges)
            for c in res["chains"]
        }
        payload["epsilons"] = grid.epsilons
        files = sc.write_scan(
            out_dir,
            card.data.get("name", "scan"),
            payload,
            hist2d=h2,
            hist1d=h1,
            plot=lambda out, name: _plot_monophoton(out, name, res),
        )
        return {**payload, "files": files}
    if card.tracker is None:
        raise ValueError(f"card {card.source}: a chi_pair scan needs detector.tracker")
    points = _tracker_points(card)
    result = sc.tracker_scan(card, points=points, n_events=n, seed=seed)
    from analysis.limits import poisson_upper_limit

    # zero background: the three methods differ only in the required signal (G: N >= 3;
    # L's chi^2 with B = 0: S >= 2.71; CLs with n_obs = 0: S >= -ln 0.05 = 2.996)
    thresholds = {"zero_background": 3.0, "chi2": 2.71, "cls": float(poisson_upper_limit(0, method="cls"))}
    reach, methods = {}, {}
    for mode, grids in result.expected.items():
        pairs = list(zip(points, grids, strict=True))
        reach[mode] = [sc.eps_reach(g.masses_gev, g.epsilons, grid) for (_, _, g), grid in pairs]
        methods[mode] = {
            name: [sc.eps_reach(g.masses_gev, g.epsilons, grid, req) for (_, _, g), grid in pairs]
            for name, req in thresholds.items()
        }
    payload = {
        "card": card.source,
        "channel": "tracker",
        **_provenance(card, seed),
        "points": [
            {"sqrt_s_gev": b.sqrt_s0_gev, "luminosity_pb_inv": lumi, "masses_gev": g.masses_gev, "epsilons": g.epsilons}
            for b, lumi, g in points
        ],
        "expected_events": result.expected,
        "eps_reach_3_events": reach,
        "eps_reach_by_method": methods,
        "signal_required": thresholds,
        "events_per_mass": n,
        "seconds": result.seconds,
    }
    h2 = {}
    for mode, grids in result.expected.items():
        for k, ((_, _, g), grid) in enumerate(zip(points, grids, strict=True)):
            h2[f"expected_{mode}_{k}"] = (grid, sc._edges(g.masses_gev), sc._edges(g.epsilons, log=True))
    files = sc.write_scan(
        out_dir,
        card.data.get("name", "scan"),
        payload,
        hist2d=h2,
        plot=lambda out, name: _plot_tracker(out, name, points, result.expected),
    )
    return {**payload, "files": files}


def _provenance(card: Card, seed: int) -> dict:
    """Seed, resolved card and package versions for every output file."""
    from .pipeline import versions

    return {"seed": seed, "card_resolved": card.data, "versions": versions()}


def _save(fig, out: Path, name: str) -> dict:
    png, pdf = out / f"{name}.png", out / f"{name}.pdf"
    fig.savefig(png, dpi=120)
    fig.savefig(pdf)
    return {"png": str(png), "pdf": str(pdf)}


def _plot_tracker(out: Path, name: str, points, expected) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    styles = {
        "paper_ionization": ("tab:red", "-", "ionization (G §4 criteria)"),
        "paper_delta": ("tab:red", "--", "δ-electrons (G §4 criteria)"),
        "poisson": ("tab:blue", "-", "Poisson hits + road finder"),
    }
    single = len(points) == 1
    fig, ax = plt.subplots(figsize=(7, 5))
    for mode, (color, ls, label) in styles.items():
        for k, (beams, _, g) in enumerate(points):
            x = (g.masses_gev - beams.sqrt_s0_gev / 2) * 1e3 if single else g.masses_gev
            grid = expected[mode][k]
            if np.nanmax(grid) < 3:
                continue
            cs = ax.contour(x, g.epsilons, grid.T, levels=[3.0], colors=color, linestyles=ls)
            if k == 0:
                cs.collections[0].set_label(label) if hasattr(cs, "collections") else None
                ax.plot([], [], color=color, ls=ls, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("m_χ − √s₀/2 [MeV]" if single else "m_χ [GeV]")
    ax.set_ylabel("ε")
    title = f"{name}: N ≥ 3 expected events (95 % CL, zero background)"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    files = _save(fig, out, name)
    plt.close(fig)
    return files


def _plot_monophoton(out: Path, name: str, res: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    colors = {"chi2": "tab:red", "cls": "tab:blue", "zero_background": "tab:gray"}
    labels = {
        "chi2": "χ² = S²/(S+B), Δχ² = 2.71 (L)",
        "cls": "CLs expected (pyhf)",
        "zero_background": "N = 3, B ignored",
    }
    m = res["masses_gev"]
    for method, best in res["best"].items():
        ax.plot(m, best, color=colors.get(method, "k"), lw=2, label=labels.get(method, method))
        for chain in res["chains"]:
            ax.plot(m, res["limits"][method][chain], color=colors.get(method, "k"), lw=0.8, ls=":", alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("m_χ [GeV]")
    ax.set_ylabel("ε (95 % CL expected)")
    ax.set_title(f"{name}: monophoton reach (dotted: individual selections)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    files = _save(fig, out, name)
    plt.close(fig)
    return files
