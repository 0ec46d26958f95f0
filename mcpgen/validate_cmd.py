"""``mcpgen validate``: the table of MC vs analytic approximations (terminal, JSON, plots)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.validation import format_table, validate_monophoton_card, validate_tracker_card

from .output import write_json_atomic

__all__ = ["run_validate"]


def run_validate(card, out_dir, n_events: int | None = None, seed: int = 1) -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if "monophoton" in card.extras:
        rows, extra = validate_monophoton_card(card, n_events or 400_000, seed)
    else:
        rows, extra = validate_tracker_card(card, n_events or 200_000, seed)
    table = format_table(rows)
    from .scan_cmd import _provenance

    payload = {"card": card.source, **_provenance(card, seed), "rows": [r.as_dict() for r in rows]}
    files = {"json": str(out / "validation.json")}
    if "sagitta" in extra:
        sag = extra["sagitta"]
        payload["almost_unbent"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in sag.items()}
        files.update(_plot_sagitta(out, card, sag))
    if "spectrum" in extra:
        spec = extra["spectrum"]
        payload["spectrum"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in spec.items()}
        files.update(_plot_spectrum(out, spec))
    write_json_atomic(out / "validation.json", payload)
    _write_text_atomic(out / "validation.txt", table + "\n")
    files["txt"] = str(out / "validation.txt")
    return {"table": table, "files": files, **payload}


def _write_text_atomic(path: Path, text: str) -> None:
    from .output import _temporary

    tmp = _temporary(path)
    try:
        tmp.write_text(text)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _plot_spectrum(out: Path, spec: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = spec["edges_gev"]
    centres = np.sqrt(edges[1:] * edges[:-1])
    width = np.diff(edges)
    fig, (ax, rx) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.stairs(
        spec["analytic_fb"] / width, edges, color="tab:red", label="quadrature of W(x, θ) σ_νν̄(s′) (physics.md §5)"
    )
    ax.errorbar(centres, spec["mc_fb"] / width, spec["mc_err_fb"] / width, fmt="k.", label="MC (generator)")
    ax.set_yscale("log")
    ax.set_ylabel("dσ/dE_γ [fb/GeV]")
    ax.legend(fontsize=8)
    ax.set_title(f"{spec['label']}: photon spectrum inside the generation cuts", fontsize=9)
    pull = (spec["mc_fb"] - spec["analytic_fb"]) / np.where(spec["mc_err_fb"] > 0, spec["mc_err_fb"], 1)
    rx.bar(centres, pull, width=width * 0.8, color="tab:gray")
    rx.axhline(0, color="k", lw=0.8)
    rx.set_ylabel("pull")
    rx.set_xlabel("E_γ (CM) [GeV]")
    rx.set_xscale("log")
    fig.tight_layout()
    fig.savefig(out / "spectrum.png", dpi=120)
    plt.close(fig)
    return {"spectrum_png": str(out / "spectrum.png")}


def _plot_sagitta(out: Path, card, sag: dict) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(7, 5))
    x = (sag["masses_gev"] - card.beams.sqrt_s0_gev / 2) * 1e3
    ratio = np.ma.masked_invalid(sag["sagitta_over_resolution"].T)
    mesh = ax.pcolormesh(x, sag["epsilons"], ratio, norm=LogNorm(vmin=0.1, vmax=1e4), shading="nearest", cmap="magma")
    ax.contour(x, sag["epsilons"], ratio, levels=[1, 3], colors=["w", "c"], linestyles=["--", "-"])
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
    files = {"sagitta_png": str(out / "sagitta.png")}
    fig.savefig(out / "sagitta.png", dpi=120)
    plt.close(fig)
    return files
