"""Histograms with named, labelled axes (``hist``), written to ROOT with titles and axis labels.

Every histogram mcpgen writes goes through here: the scan grids and limits of ``scan.root``
(:func:`scan_histogram`, labels from the histogram's key) and the cut flows beside the events
(:func:`cutflow_histogram`: one TH1D per selection chain, one bin per cut, labelled with the cut's
name). uproot writes a ``hist.Hist`` as TH1D/TH2D with the histogram's ``title`` as the ROOT
title and each axis ``label`` as the axis title; labels use ROOT's TLatex (``#chi``, ``#varepsilon``)
and carry their units in brackets.
"""

from __future__ import annotations

import hist
import numpy as np

__all__ = [
    "MASS_LABEL",
    "EPSILON_LABEL",
    "histogram_1d",
    "histogram_2d",
    "cutflow_histogram",
    "scan_histogram",
]

MASS_LABEL = "m_{#chi} [GeV]"
EPSILON_LABEL = "#varepsilon (charge / e)"

#: Scan histogram keys (prefix) -> (title, label of the values); the axes are mass and, for 2D, eps
_SCAN_TITLES = {
    "expected_": ("expected detected pairs ({rest})", "events"),
    "eps_limit_": ("expected upper limit on #varepsilon ({rest})", "#varepsilon"),
    "signal_events_": ("expected signal events after the {rest} selection", "events"),
}


def _axis(edges, name: str, label: str):
    return hist.axis.Variable(np.asarray(edges, dtype=float), name=name, label=label)


def histogram_1d(values, edges, *, name: str, title: str, x_label: str, variances=None) -> hist.Hist:
    """A 1D histogram of ``values`` on ``edges`` (nan stored as 0), ``title`` as its ROOT title."""
    storage = hist.storage.Weight() if variances is not None else hist.storage.Double()
    h = hist.Hist(_axis(edges, name, x_label), storage=storage, name=name, label=title)
    v = np.nan_to_num(np.asarray(values, dtype=float))
    if variances is None:
        h[...] = v
    else:
        h[...] = np.stack([v, np.nan_to_num(np.asarray(variances, dtype=float))], axis=-1)
    h.title = title
    return h


def histogram_2d(values, x_edges, y_edges, *, name: str, title: str, x_label: str, y_label: str) -> hist.Hist:
    """A 2D histogram of ``values`` (x, y) on the given edges, axes labelled (values as given)."""
    h = hist.Hist(_axis(x_edges, "x", x_label), _axis(y_edges, "y", y_label), name=name, label=title)
    h[...] = np.asarray(values, dtype=float)
    h.title = title
    return h


def cutflow_histogram(rows, *, title: str, quantity: str = "sigma_fb", error: str | None = "sigma_err_fb") -> hist.Hist:
    """A cut flow as a TH1D with one labelled bin per cut: ``rows`` are the cut-flow rows of a
    chain (dicts with ``cut``, ``quantity`` and ``error``; analysis.cutflow), cumulative."""
    cuts = [str(r["cut"]) for r in rows]
    storage = hist.storage.Weight() if error else hist.storage.Double()
    h = hist.Hist(hist.axis.StrCategory(cuts, name="cut", label="cut (cumulative)"), storage=storage, label=title)
    values = np.array([float(r[quantity]) for r in rows])
    if error:
        errors = np.array([float(r[error]) for r in rows])
        h[...] = np.stack([values, errors**2], axis=-1)
    else:
        h[...] = values
    h.title = title
    return h


def scan_histogram(key: str, values, x_edges, y_edges=None) -> hist.Hist:
    """A scan.root histogram named ``key`` (``expected_<mode>_<point>``, ``eps_limit_<method>_<chain>``,
    ``signal_events_<chain>``) with its title and axis labels; other keys get the key as title."""
    title, value_label = key, ""
    for prefix, (text, unit) in _SCAN_TITLES.items():
        if key.startswith(prefix):
            rest = key.removeprefix(prefix)
            if prefix == "expected_":  # <mode>_<point>
                mode, _, point = rest.rpartition("_")
                rest = f"{mode.replace('_', ' ')}, collider point {point}"
            title, value_label = text.format(rest=rest.replace("_", " ")), unit
            break
    if y_edges is None:
        return histogram_1d(values, x_edges, name="m", title=f"{title} [{value_label}]", x_label=MASS_LABEL)
    return histogram_2d(
        values, x_edges, y_edges, name=key, title=f"{title} [{value_label}]", x_label=MASS_LABEL, y_label=EPSILON_LABEL
    )
