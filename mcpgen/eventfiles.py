"""Event files for the experiments' own simulation: Les Houches (LHE 3.0) and HepMC writers.

Belle II's basf2 reads LHE (``LHEInput``) and HepMC; Geant4 and Delphes read HepMC. The writers
take the flat particle tables of :func:`generator.final_state.final_state` chunk by chunk:

    with open_event_file("out/events.lhe.gz", metadata={...}) as out:
        for chunk in chunks:
            out.write(final_state(chunk, process))
        out.set_cross_section(sigma_pb, sigma_err_pb)

Common behaviour:

* Streaming: ``write`` formats one chunk and hands it to the file; memory does not grow with the
  number of events. Events with weight 0 (failed trials, outside a generation region) are skipped;
  the weights of the others are written as given (pb).
* Atomic: the file is written under a temporary name in the target directory and renamed into
  place by a clean ``close`` (or leaving the ``with`` block); an exception removes the temporary
  file, so no truncated event file is ever left under the final name. The file mode honours the
  umask (0666 & ~umask, e.g. 0644 under umask 022).
* A name ending in ``.gz`` is gzip-compressed (deterministic: no time stamp in the gzip header).
* ``metadata``: a mapping, or a callable returning one (called when the header is written), with
  e.g. the resolved card, the seed and the package versions; strings are stored as they are,
  other values as JSON.

LHE (Alwall et al., "A standard format for Les Houches Event Files", Comput. Phys. Commun. 176
(2007) 300; version 3.0: Andersen et al., arXiv:1405.1067; the ``<init>`` and event records are
the HEPRUP/HEPEUP common blocks of the Les Houches accord, Boos et al., hep-ph/0109068). The
cross section is known only at the end of a run while ``<init>`` precedes the events, so the
events are streamed to a temporary body file and the file is assembled at ``close``: header,
``<init>`` with σ ± δσ, then the body copied over in blocks. Layout:

* ``<header>``: an ``<mcpgen>`` element with the process, χ (PDG id, mass, ε, charge -ε, spin),
  σ ± δσ, the weighting, a note on defining χ downstream, and one element per metadata key.
* ``<init>``: IDBMUP = (11, -11) (beam A, the e-, along +z), EBMUP = nominal beam energies [GeV],
  PDFGUP = PDFSUP = 0 (no parton densities), IDWTUP = 3 for unweighted events (all weights equal
  up to overweight events, σ from XSECUP) or 4 for weighted events (accord: weighted events in pb;
  here the weights sum to σ, i.e. they are the per-event contributions σ/N of the run, not σ
  itself; negative weights would give -3/-4), NPRUP = 1; then XSECUP XERRUP XMAXUP LPRUP with
  σ, δσ [pb] and the largest weight; a ``<generator>`` element (LHE 3.0).
* each ``<event>``: NUP IDPRUP XWGTUP SCALUP AQEDUP AQCDUP (SCALUP = invariant mass of the hard
  process [GeV], AQEDUP = α, AQCDUP = 0), then per particle IDUP ISTUP MOTHUP(1,2) ICOLUP(1,2)
  = 0 0, PUP(1..5) = px py pz E m [GeV], VTIMUP = 0, SPINUP = 9 (unpolarised). Beams have
  ISTUP = -1. Real numbers are written as the shortest decimal that reads back as the same double
  (Python ``repr``), so four-momentum is conserved in the file exactly as in memory.

HepMC (HepMC3 ASCII ``Asciiv3``, or HepMC2 ``IO_GenEvent`` with ``format="HepMC2"``), written
with ``pyhepmc``: units GeV and mm; run info with the tool name/version and the metadata and χ
constants as attributes (HepMC2 has no run-level record: it keeps only the events); one weight per
event ("nominal"); a ``GenCrossSection`` per event holding the running estimate, so the last event
carries the final σ ± δσ (the convention readers such as Rivet rely on; HepMC3 ASCII stores it
with 9 significant digits); beams with status 4; one
vertex for the hard process (at the event vertex, the origin unless given) with all outgoing
particles (status 1) as children of both beams. The collinear ISR photon of ``chi_pair`` is
radiated by one beam: that beam enters a vertex producing the photon and the off-shell lepton that
enters the hard vertex (status 21, Pythia 8's "incoming to the hardest subprocess"; generated mass
sign(p²) |p²|^½: for a photon exactly collinear with the massive beam p² ≈ m_e²(1 - E_γ/E_beam),
just below the electron mass shell).

Converting an existing ``events.root`` (:func:`convert_root`, ``mcpgen convert``) streams one
tree with ``uproot.iterate``. The tracker chain's tree ``events`` stores everything needed (√s, β,
the ISR photon, χ and χ̄); the monophoton trees store every outgoing four-momentum as
``<particle>_px/_py/_pz/_E`` (``gamma_``, ``chi_``/``chibar_`` for χχ̄γ, ``missing_`` for the νν̄
system, ``gamma1_``..``gamma3_`` for γγγ, ``positron_``/``electron_`` for e+e-γ); σ ± δσ come from
the run's summary (per dataset for monophoton trees). A tree without them is refused with a message
naming the missing branches. Converted νν̄γ events draw their flavours and angles from
:attr:`mcpgen.rng.Streams.final_state` (the run's own event files use the dataset's stream of
:meth:`mcpgen.rng.Streams.event_files`, so the two assign flavours differently; the photon and
the νν̄ system are the same).

During a run (``output.formats``), :class:`EventFileTee` hands each chunk's branches to the ROOT
writer and to the tree's :class:`EventFileSink`, which builds the final state from the same
branches (so the files hold exactly the four-momenta of events.root), unweights it against the
pilot maximum and writes every format.

Unweighting (:func:`unweight`): keep an event if u w_max < w (u uniform from the caller) and give it
the weight max(w, w_max), so that the kept weights still estimate σ without bias; events with
w > w_max are counted as overweight.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from generator.constants import ALPHA
from generator.final_state import (
    PDG_ELECTRON,
    PROCESSES,
    STATUS_BEAM,
    FinalState,
    final_state,
    final_state_uniforms,
    reconstruct_beams,
)

from .rng import Stream, Streams, uniforms

__all__ = [
    "EVENT_FORMATS",
    "FINAL_STATE_STREAM",
    "HEPMC_STATUS_BEAM",
    "HEPMC_STATUS_ISR_LEPTON",
    "LHEWriter",
    "HepMCWriter",
    "event_format",
    "open_event_file",
    "unweight",
    "convert_root",
    "events_from_branches",
    "event_file_names",
    "EventFileSink",
    "EventFileTee",
]

#: Formats and the file-name endings that select them (each also with ``.gz``)
EVENT_FORMATS = {"lhe": (".lhe",), "hepmc3": (".hepmc", ".hepmc3"), "hepmc2": (".hepmc2",)}

#: Random-stream key of the final-state uniforms (νν̄ flavour and angle) when converting files
#: (registered in :class:`mcpgen.rng.Streams` as ``final_state``)
FINAL_STATE_STREAM = Streams.final_state.key

#: File-name ending of each format written by ``mcpgen run`` (``output.formats``)
RUN_ENDINGS = {"lhe": ".lhe", "hepmc3": ".hepmc", "hepmc2": ".hepmc2"}

HEPMC_STATUS_BEAM = 4  #: HepMC status of the incoming beams
HEPMC_STATUS_ISR_LEPTON = 21  #: HepMC status of the lepton entering the hard process after ISR

_CHI_NOTE = (
    "chi carries charge -epsilon (units of e), chibar +epsilon; no standard PDG id carries a fractional "
    "charge, so define the particle in the simulation with this id, mass and charge (Geant4: a "
    "G4ParticleDefinition with this PDG encoding; basf2: pdg.add_particle(name, pdgCode, mass, width, "
    "charge, spin))."
)
_XML_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcpgen")
    except PackageNotFoundError:  # pragma: no cover - source tree without install
        return "unknown"


def event_format(path: str | Path, format: str | None = None) -> str:
    """The event-file format of ``path`` ('lhe', 'hepmc3' or 'hepmc2'), from ``format`` or the name."""
    if format is not None:
        key = format.lower()
        if key not in EVENT_FORMATS:
            raise ValueError(f"event file format must be one of {sorted(EVENT_FORMATS)}, got {format!r}")
        return key
    name = str(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for key, endings in EVENT_FORMATS.items():
        if name.endswith(endings):
            return key
    allowed = ", ".join(e for endings in EVENT_FORMATS.values() for e in endings)
    raise ValueError(f"cannot tell the event file format of {str(path)!r}: name it {allowed} (optionally .gz)")


# ------------------------------------------------------------------------------------------
# Atomic output
# ------------------------------------------------------------------------------------------
class _AtomicFile:
    """A binary temporary file next to ``path`` (mode 0666 & ~umask), renamed onto ``path`` by
    :meth:`commit` and removed by :meth:`discard`; gzip-compressed when ``path`` ends in .gz."""

    def __init__(self, path: Path, compresslevel: int = 6):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            tmp = self.path.parent / f".{self.path.name}.{secrets.token_hex(6)}.partial"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
                break
            except FileExistsError:  # pragma: no cover - 48-bit random name collision
                continue
        self.tmp = tmp
        self.raw = os.fdopen(fd, "wb")
        self.stream = self.raw
        if self.path.name.endswith(".gz"):
            self.stream = gzip.GzipFile(filename="", mode="wb", fileobj=self.raw, compresslevel=compresslevel, mtime=0)

    def _close(self) -> None:
        if self.stream is not self.raw and not self.stream.closed:
            self.stream.close()
        if not self.raw.closed:
            self.raw.close()

    def commit(self) -> None:
        self._close()
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        try:
            self._close()
        finally:
            self.tmp.unlink(missing_ok=True)


def _metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if callable(metadata):
        metadata = metadata()
    if not isinstance(metadata, Mapping):
        raise TypeError("metadata must be a mapping or a callable returning one")
    return dict(metadata)


def _text(value) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=_json_default, sort_keys=True)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _nonzero(table: FinalState) -> FinalState:
    keep = table.weight != 0.0
    return table if keep.all() else table[keep]


class _EventWriter:
    """Shared bookkeeping: atomic file, weight sums, σ, context manager."""

    def __init__(self, path, *, metadata=None, unweighted: bool = False, compresslevel: int = 6):
        self.path = Path(path)
        self.metadata = metadata
        self.unweighted = bool(unweighted)
        self.n_events = 0
        self.sum_w = 0.0
        self.sum_w2 = 0.0
        self.max_w = 0.0
        self.any_negative = False
        self.info: dict = {}
        self._sigma: tuple[float, float] | None = None
        self._compresslevel = compresslevel
        self._file: _AtomicFile | None = None
        self._closed = False

    def _account(self, table: FinalState) -> tuple[np.ndarray, np.ndarray]:
        """Add a chunk to the sums; returns the running Σw and Σw² after each of its events.

        The sums are sequential (event after event), so they do not depend on the chunking: same
        events, same bytes.
        """
        w = table.weight
        running = np.cumsum(np.concatenate([[self.sum_w], w]))[1:]
        running2 = np.cumsum(np.concatenate([[self.sum_w2], w * w]))[1:]
        self.n_events += len(w)
        if len(w):
            self.sum_w, self.sum_w2 = float(running[-1]), float(running2[-1])
            self.max_w = max(self.max_w, float(np.abs(w).max()))
            self.any_negative |= bool((w < 0).any())
        if not self.info:
            self.info = dict(table.info)
        return running, running2

    def set_cross_section(self, sigma_pb: float, sigma_err_pb: float) -> None:
        """σ ± δσ [pb] of the run, written at close (default: sum of the weights written and
        (Σ w²)^½)."""
        self._sigma = (float(sigma_pb), float(sigma_err_pb))

    @property
    def cross_section(self) -> tuple[float, float]:
        """σ ± δσ [pb]: as set, or the sum of the written weights and (Σ w²)^½."""
        if self._sigma is not None:
            return self._sigma
        return self.sum_w, math.sqrt(self.sum_w2)

    def _run_constants(self) -> tuple[dict, dict]:
        """(process constants, χ constants) of the events written, from the tables' ``info``."""
        process = {k: self.info[k] for k in ("process", "z_propagator") if self.info.get(k) is not None}
        keys = ("chi_pdg", "mass_gev", "epsilon", "chi_charge_e", "spin")
        return process, {k: self.info[k] for k in keys if self.info.get(k) is not None}

    def abort(self) -> None:
        """Drop the output: remove every temporary file."""
        self._closed = True
        if self._file is not None:
            self._file.discard()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


# ------------------------------------------------------------------------------------------
# LHE
# ------------------------------------------------------------------------------------------
_LHE_PARTICLE = "%d %d %d %d 0 0 %r %r %r %r %r 0. 9."


class LHEWriter(_EventWriter):
    """Les Houches Event File (version 3.0) writer, streamed and atomic (module docstring).

    ``path``: output file (``.lhe`` or ``.lhe.gz``); ``beam_energies_gev``: nominal (E-, E+) for
    ``<init>`` (pass them: the fallback is the first event's, spread included); ``unweighted``: IDWTUP 3
    instead of 4; ``metadata``: mapping or callable, written into ``<header>`` at close;
    ``process_id``: LPRUP/IDPRUP.
    """

    def __init__(
        self,
        path,
        *,
        beam_energies_gev: tuple[float, float] | None = None,
        unweighted: bool = False,
        metadata: Mapping | Callable[[], Mapping] | None = None,
        process_id: int = 1,
        compresslevel: int = 6,
    ):
        super().__init__(path, metadata=metadata, unweighted=unweighted, compresslevel=compresslevel)
        self.beam_energies_gev = None if beam_energies_gev is None else tuple(map(float, beam_energies_gev))
        self.process_id = int(process_id)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, body = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".body", dir=self.path.parent)
        self._body_path = Path(body)
        self._body = os.fdopen(fd, "w", encoding="ascii", newline="\n")

    def write(self, table: FinalState) -> None:
        """Append the events of one chunk (weight-0 events are skipped)."""
        if self._closed:
            raise ValueError("write to a closed LHEWriter")
        table = _nonzero(table)
        if len(table) == 0:
            return
        if self.beam_energies_gev is None:  # fallback: the first event's (independent of chunking)
            self.beam_energies_gev = (float(table.e[0, 0]), float(table.e[0, 1]))
        self._account(table)
        self._body.write(_lhe_events(table, self.process_id))

    def close(self, cross_section_pb: float | None = None, cross_section_err_pb: float | None = None) -> None:
        """Assemble and commit the file (σ ± δσ may be given here instead of set before)."""
        if self._closed:
            return
        if cross_section_pb is not None:
            self.set_cross_section(cross_section_pb, cross_section_err_pb or 0.0)
        try:
            self._body.close()
            self._file = _AtomicFile(self.path, self._compresslevel)
            out = self._file.stream
            out.write(self._head().encode("ascii", "xmlcharrefreplace"))
            with open(self._body_path, "rb") as body:
                shutil.copyfileobj(body, out, 1 << 20)
            out.write(b"</LesHouchesEvents>\n")
            self._file.commit()
            self._closed = True
        except BaseException:
            self.abort()
            raise
        finally:
            self._body_path.unlink(missing_ok=True)

    def abort(self) -> None:
        if not self._body.closed:
            self._body.close()
        self._body_path.unlink(missing_ok=True)
        super().abort()

    def _head(self) -> str:
        sigma, err = self.cross_section
        idwtup = 3 if self.unweighted else 4
        if self.any_negative:
            idwtup = -idwtup
        e1, e2 = self.beam_energies_gev or (0.0, 0.0)
        meta = _metadata(self.metadata)
        lines = ['<LesHouchesEvents version="3.0">', "<header>", f"<mcpgen version={quoteattr(_version())}>"]
        process, chi = self._run_constants()
        for key, value in process.items():
            lines.append(f"<{key}>{escape(str(value))}</{key}>")
        if chi:
            attrs = " ".join(f"{k}={quoteattr(str(v))}" for k, v in chi.items())
            lines.append(f"<mcp {attrs}>{escape(_CHI_NOTE) if 'chi_pdg' in chi else ''}</mcp>")
        lines.append(f'<cross_section unit="pb" value="{sigma:.16e}" error="{err:.16e}"/>')
        weighting = "unweighted" if self.unweighted else "weighted"
        lines.append(
            f'<weights strategy="{weighting}" idwtup="{idwtup}" n_events="{self.n_events}">'
            "event weights in pb; they sum to the cross section</weights>"
        )
        for key, value in meta.items():
            tag = _XML_NAME.sub("_", str(key))
            if not tag or not (tag[0].isalpha() or tag[0] == "_"):
                tag = f"_{tag}"
            lines.append(f"<{tag}>{escape(_text(value))}</{tag}>")
        lines += ["</mcpgen>", "</header>", "<init>"]
        lines.append(f"{PDG_ELECTRON} {-PDG_ELECTRON} {e1:.16e} {e2:.16e} 0 0 0 0 {idwtup} 1")
        lines.append(f"{sigma:.16e} {err:.16e} {self.max_w:.16e} {self.process_id}")
        lines.append(f'<generator name="mcpgen" version={quoteattr(_version())}>mcpgen</generator>')
        lines.append("</init>")
        return "\n".join(lines) + "\n"


def _lhe_events(table: FinalState, process_id: int) -> str:
    """LHE ``<event>`` blocks of a chunk, as one string (lines placed by index, no per-event join)."""
    n_part = table.n_particles
    mask = table.present
    cols = [getattr(table, name)[mask].tolist() for name in ("pdg", "status", "mother1", "mother2")]
    cols += [getattr(table, name)[mask].tolist() for name in ("px", "py", "pz", "e", "mass")]
    rows = [_LHE_PARTICLE % r for r in zip(*cols, strict=True)]
    info = [
        f"{k} {process_id} {w!r} {q!r} {ALPHA!r} 0.0"
        for k, w, q in zip(n_part.tolist(), table.weight.tolist(), table.scale_gev.tolist(), strict=True)
    ]
    per_event = n_part + 3
    start = np.concatenate([[0], np.cumsum(per_event)[:-1]])
    lines = np.empty(int(per_event.sum()), dtype=object)
    lines[start] = "<event>"
    lines[start + 1] = info
    lines[start + per_event - 1] = "</event>"
    body = np.ones(len(lines), dtype=bool)
    body[start] = body[start + 1] = body[start + per_event - 1] = False
    lines[body] = rows
    return "\n".join(lines.tolist()) + "\n"


# ------------------------------------------------------------------------------------------
# HepMC
# ------------------------------------------------------------------------------------------
class HepMCWriter(_EventWriter):
    """HepMC3 ASCII (``format="HepMC3"``) or HepMC2 IO_GenEvent (``"HepMC2"``) writer, streamed
    and atomic (module docstring). ``metadata`` (mapping or callable) is evaluated when the run
    info is written, i.e. at the first chunk."""

    def __init__(
        self,
        path,
        *,
        format: str = "HepMC3",
        metadata: Mapping | Callable[[], Mapping] | None = None,
        unweighted: bool = False,
        compresslevel: int = 6,
    ):
        super().__init__(path, metadata=metadata, unweighted=unweighted, compresslevel=compresslevel)
        key = format.lower()
        if key not in ("hepmc3", "hepmc2"):
            raise ValueError(f"format must be 'HepMC3' or 'HepMC2', got {format!r}")
        self.format = key
        self._writer = None
        self._ios = None

    def _open(self) -> None:
        import pyhepmc
        from pyhepmc.io import WriterAscii, WriterAsciiHepMC2, pyiostream

        run = pyhepmc.GenRunInfo()
        run.tools = [("mcpgen", _version(), "e+e- -> millicharged particles and monophoton backgrounds")]
        run.weight_names = ["nominal"]
        process, chi = self._run_constants()
        attributes = {**process, **{f"mcp_{k}": v for k, v in chi.items()}}
        if "mcp_chi_pdg" in attributes:
            attributes["mcp_note"] = _CHI_NOTE
        attributes["weighting"] = (
            "unweighted" if self.unweighted else "weighted"
        ) + "; event weights in pb sum to the cross section"
        attributes.update(_metadata(self.metadata))
        for key, value in attributes.items():
            run.attributes[str(key)] = _text(value)
        self._file = _AtomicFile(self.path, self._compresslevel)
        self._ios = pyiostream(self._file.stream)
        writer_class = WriterAscii if self.format == "hepmc3" else WriterAsciiHepMC2
        self._writer = writer_class(self._ios, run)
        self._run = run
        self._event = pyhepmc.GenEvent(pyhepmc.Units.GEV, pyhepmc.Units.MM)
        self._xs = pyhepmc.GenCrossSection()

    def write(
        self,
        table: FinalState,
        cross_section_pb: float | None = None,
        cross_section_err_pb: float | None = None,
    ) -> None:
        """Append the events of one chunk (weight-0 events are skipped). Each event carries the
        running σ ± δσ: the given values, or the sum of the weights written so far and (Σ w²)^½."""
        if self._closed:
            raise ValueError("write to a closed HepMCWriter")
        table = _nonzero(table)
        if len(table) == 0:
            return
        first = self.n_events
        running, running2 = self._account(table)
        if self._writer is None:
            self._open()
        w = table.weight
        if cross_section_pb is None:
            xs, xs_err = running, np.sqrt(running2)
        else:
            xs = np.full(len(w), float(cross_section_pb))
            xs_err = np.full(len(w), float(cross_section_err_pb or 0.0))
        rec = _hepevt(table)
        event, cross = self._event, self._xs
        vertex = rec["vertex"]
        for i in range(len(w)):
            a, b = rec["offsets"][i], rec["offsets"][i + 1]
            vx = vy = vz = vt = None
            if vertex is not None:
                vx, vy, vz, vt = (vertex[a:b, j] for j in range(4))
            event.from_hepevt(
                first + i,
                rec["px"][a:b],
                rec["py"][a:b],
                rec["pz"][a:b],
                rec["e"][a:b],
                rec["mass"][a:b],
                rec["pdg"][a:b],
                rec["status"][a:b],
                children=rec["children"][a:b],
                vx=vx,
                vy=vy,
                vz=vz,
                vt=vt,
            )
            event.run_info = self._run
            event.weights = [float(w[i])]
            cross.set_cross_section(float(xs[i]), float(xs_err[i]), first + i + 1, first + i + 1)
            event.cross_section = cross
            self._writer.write_event(event)
        if self._writer.failed():
            raise OSError(f"writing HepMC events to {self.path} failed")

    def abort(self) -> None:
        if self._writer is not None and not self._closed:
            try:
                self._writer.close()
            except Exception:  # the output is dropped anyway
                pass
        super().abort()

    def close(self) -> None:
        """Finish the listing and commit the file."""
        if self._closed:
            return
        try:
            if self._writer is None:
                self._open()
            self._writer.close()
            self._ios.flush()
            self._file.commit()
            self._closed = True
        except BaseException:
            self.abort()
            raise


def _hepevt(table: FinalState) -> dict:
    """HEPEVT-like flat arrays of a chunk for ``GenEvent.from_hepevt`` (1-based children ranges).

    Row order per event: e- beam, e+ beam, [off-shell lepton after ISR, ISR photon], the other
    outgoing particles -- parents always precede their children (the order HepMC ASCII readers
    need). Children: each beam -> the hard-process particles, except the radiating beam -> (lepton,
    photon); the off-shell lepton -> the hard-process particles (so it shares the hard vertex with
    the other beam).
    """
    n, k = table.pdg.shape
    last = k - 1
    # an ISR photon is a present outgoing particle whose only mother is one beam (chi_pair)
    has_isr = table.present[:, last] & (table.mother2[:, last] == 0) & (table.status[:, last] != STATUS_BEAM)
    side = np.where(has_isr, table.mother1[:, last], 0)  # 1: e- radiates, 2: e+ radiates
    isr_layout = bool(has_isr.any())
    # columns of the HEPEVT layout: table slot of each, -1 for the off-shell lepton
    order = [0, 1, -1, last, *range(2, last)] if isr_layout else [0, 1, -1, *range(2, k)]
    cols = np.array(order)
    src = np.where(cols >= 0, cols, 0)

    def take(a, fill):
        out = a[:, src].copy()
        out[:, cols < 0] = fill
        return out

    present = take(table.present, False)
    present[:, 2] = has_isr
    pdg = take(table.pdg, 0)
    pdg[:, 2] = np.where(side == 2, -PDG_ELECTRON, PDG_ELECTRON)
    status = take(table.status.astype(np.int32), HEPMC_STATUS_ISR_LEPTON)
    status[:, :2] = HEPMC_STATUS_BEAM
    mass = take(table.mass, 0.0)
    mom = np.stack([take(getattr(table, c), 0.0) for c in ("e", "px", "py", "pz")])
    children = np.zeros((n, len(order), 2), dtype=np.int64)
    row = np.cumsum(present, axis=1)  # 1-based compact row of each column
    hard_first = row[:, 4 if isr_layout else 3]  # first hard-process particle (always present)
    hard_last = row[:, -1]
    if isr_layout:
        # off-shell lepton = radiating beam - photon; p² = m_e² - 2 p_beam.k
        rows = np.arange(n)
        beam = np.where(side == 2, 1, 0)
        p_beam = mom[:, rows, beam]
        k_gamma = mom[:, :, 3]
        mom[:, :, 2] = np.where(has_isr, p_beam - k_gamma, 0.0)
        dot = p_beam[0] * k_gamma[0] - np.sum(p_beam[1:] * k_gamma[1:], axis=0)
        virt2 = mass[rows, beam] ** 2 - 2.0 * dot
        mass[:, 2] = np.where(has_isr, np.sign(virt2) * np.sqrt(np.abs(virt2)), 0.0)
    for beam_col, radiating in ((0, side == 1), (1, side == 2)):
        children[:, beam_col, 0] = np.where(radiating, row[:, 2], hard_first)
        children[:, beam_col, 1] = np.where(radiating, row[:, 3], hard_last)
    children[:, 2, 0] = np.where(has_isr, hard_first, 0)
    children[:, 2, 1] = np.where(has_isr, hard_last, 0)

    counts = present.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    vertex = None
    if np.any(table.vertex_mm != 0.0):
        vertex = np.repeat(table.vertex_mm, counts, axis=0)
    return {
        "pdg": np.ascontiguousarray(pdg[present], dtype=np.int32),
        "status": np.ascontiguousarray(status[present], dtype=np.int32),
        "e": np.ascontiguousarray(mom[0][present]),
        "px": np.ascontiguousarray(mom[1][present]),
        "py": np.ascontiguousarray(mom[2][present]),
        "pz": np.ascontiguousarray(mom[3][present]),
        "mass": np.ascontiguousarray(mass[present]),
        "children": np.ascontiguousarray(children[present]),
        "offsets": offsets,
        "vertex": vertex,
    }


# ------------------------------------------------------------------------------------------
# Entry points
# ------------------------------------------------------------------------------------------
def open_event_file(
    path,
    format: str | None = None,
    *,
    metadata: Mapping | Callable[[], Mapping] | None = None,
    unweighted: bool = False,
    beam_energies_gev: tuple[float, float] | None = None,
    compresslevel: int = 6,
) -> LHEWriter | HepMCWriter:
    """A writer for ``path``, its format from ``format`` or the file name (:func:`event_format`)."""
    key = event_format(path, format)
    if key == "lhe":
        return LHEWriter(
            path,
            beam_energies_gev=beam_energies_gev,
            unweighted=unweighted,
            metadata=metadata,
            compresslevel=compresslevel,
        )
    return HepMCWriter(
        path,
        format="HepMC3" if key == "hepmc3" else "HepMC2",
        metadata=metadata,
        unweighted=unweighted,
        compresslevel=compresslevel,
    )


def unweight(events, u, w_max: float):
    """Unweight a chunk against the pilot maximum ``w_max`` with uniforms ``u`` (n,) from the caller.

    ``events``: a :class:`FinalState` or an awkward event array with a ``weight`` field. Event i is
    kept if u_i w_max < w_i and then carries the weight max(w_i, w_max) (the mean of the kept
    weights over all trials equals the mean of w: unbiased). Returns (kept events, number of
    overweight events w_i > w_max in the chunk).
    """
    if not w_max > 0.0:
        raise ValueError(f"w_max must be > 0, got {w_max!r}")
    w = np.asarray(events.weight if isinstance(events, FinalState) else events["weight"], dtype=float)
    u = np.asarray(u, dtype=float)
    if u.shape != w.shape:
        raise ValueError(f"u must have shape {w.shape}, got {u.shape}")
    keep = np.flatnonzero(u * w_max < w)
    n_over = int(np.count_nonzero(w > w_max))
    kept_w = np.maximum(w[keep], w_max)
    if isinstance(events, FinalState):
        return events[keep].with_weight(kept_w), n_over
    import awkward as ak

    return ak.with_field(events[keep], kept_w, "weight"), n_over


def _tobjstring(file, key):
    if key not in file:
        return None
    return str(file[key])


def convert_root(
    source,
    destination,
    *,
    format: str | None = None,
    tree: str | None = None,
    chi_pdg: int | None = None,
    step_size: int = 100_000,
    metadata: Mapping | None = None,
    compresslevel: int = 6,
) -> dict:
    """Convert a tree of an mcpgen ``events.root`` into an LHE or HepMC file, streaming.

    ``tree``: the tree (default ``events``, or the only tree); ``format``: as :func:`event_format`.
    The run's resolved card, seed, versions and σ ± δσ are taken from the file's ``mcpgen_card``
    and ``mcpgen_summary`` and written into the header. νν̄γ flavours and angles use the stream
    :data:`FINAL_STATE_STREAM` of the run's seed, keyed by entry number (reproducible, independent
    of ``step_size``). Returns a small summary (path, format, process, events, σ).
    """
    import uproot

    source = Path(source)
    with uproot.open(source) as file:
        summary_text = _tobjstring(file, "mcpgen_summary")
        card_text = _tobjstring(file, "mcpgen_card")
        trees = sorted({key.split(";")[0] for key, cls in file.classnames().items() if cls == "TTree"})
    summary = json.loads(summary_text) if summary_text else {}
    if tree is None:
        if "events" in trees:
            tree = "events"
        elif len(trees) == 1:
            tree = trees[0]
        else:
            raise ValueError(f"{source} holds several trees {trees}; choose one with tree=")
    if tree not in trees:
        raise ValueError(f"{source} has no tree {tree!r}; trees: {trees}")

    with uproot.open(source) as file:
        branches = set(file[tree].keys())
    name = _process_from_branches(branches, tree)
    records = PROCESSES[name]
    wanted = [f"{r}_{c}" for r in records for c in ("px", "py", "pz", "E")] + ["weight"]
    if name in ("chi_pair", "chi_pair_gamma") and "chi_charge" in branches:
        wanted.append("chi_charge")

    physics = summary.get("physics", {}) if isinstance(summary.get("physics"), dict) else {}
    seed = int(summary.get("seed", 0) or 0)
    unweighted = bool(summary.get("unweighted", False))
    meta = {
        "source": str(source),
        "tree": tree,
        "card": card_text if card_text is not None else summary.get("card"),
        "seed": summary.get("seed"),
        "versions": summary.get("versions"),
    }
    meta = {k: v for k, v in meta.items() if v is not None}
    if metadata:
        meta.update(metadata)
    sigma = summary.get("cross_section_pb") if tree == "events" else None
    sigma_err = summary.get("cross_section_err_pb") if tree == "events" else None
    for dataset in summary.get("datasets", ()):  # monophoton run: one tree per dataset
        if isinstance(dataset, dict) and dataset.get("dataset") == tree:
            sigma, sigma_err = dataset.get("cross_section_pb"), dataset.get("cross_section_err_pb")
            physics = {**physics, **_dataset_physics(summary, dataset)}

    writer = open_event_file(
        destination,
        format,
        metadata=meta,
        unweighted=unweighted,
        beam_energies_gev=_nominal_beam_energies(physics),
        compresslevel=compresslevel,
    )
    start = 0
    with writer:
        for chunk in uproot.iterate(f"{source}:{tree}", wanted, step_size=step_size, library="ak"):
            events = events_from_branches(chunk, name)
            n = len(events)
            u = None
            if final_state_uniforms(name):
                u = uniforms(seed, FINAL_STATE_STREAM, start, start + n, final_state_uniforms(name))
            epsilon = physics.get("epsilon")
            if epsilon is None and "chi_charge" in chunk.fields and n:
                epsilon = -float(chunk["chi_charge"][0])
            table = final_state(
                events,
                u=u,
                chi_pdg=chi_pdg,
                mass_gev=physics.get("mass_gev"),
                epsilon=epsilon,
                spin=physics.get("spin"),
                z_propagator=physics.get("z_propagator"),
            )
            writer.write(table)
            start += n
        if sigma is not None:
            writer.set_cross_section(float(sigma), float(sigma_err or 0.0))
        result = {
            "path": str(destination),
            "format": event_format(destination, format),
            "process": name,
            "tree": tree,
            "n_events": writer.n_events,
            "cross_section_pb": writer.cross_section[0],
            "cross_section_err_pb": writer.cross_section[1],
        }
    return result


def _nominal_beam_energies(physics: dict) -> tuple[float, float] | None:
    """Nominal (E-, E+) [GeV] from the run's √s0 and CM velocity (reconstructed like the beams of
    every event, generator.final_state.reconstruct_beams); None if the summary lacks them."""
    if "sqrt_s0_gev" not in physics:
        return None
    beta = np.array([physics.get("beta_x0", 0.0) or 0.0, 0.0, physics.get("beta_z0", 0.0) or 0.0])
    gamma = 1.0 / math.sqrt(1.0 - float(beta @ beta))
    total = gamma * float(physics["sqrt_s0_gev"]) * np.concatenate([[1.0], beta])
    p_electron, p_positron, _ = reconstruct_beams(total[:, None])
    return float(p_electron[0, 0]), float(p_positron[0, 0])


def _process_from_branches(branches: set, tree: str) -> str:
    def has(record):
        return all(f"{record}_{c}" in branches for c in ("px", "py", "pz", "E"))

    for name in ("chi_pair", "chi_pair_gamma", "eeg", "ggg", "nunu_gamma", "gg"):
        if all(has(r) for r in PROCESSES[name]) and "weight" in branches:
            return name
    stored = sorted(b for b in branches if b.startswith("gamma"))
    raise ValueError(
        f"tree {tree!r} does not store a full final state (it has {len(branches)} branches"
        + (f", photon only: {', '.join(stored[:6])}" if stored else "")
        + "); converting needs the four-momenta of every outgoing particle as <particle>_px/_py/_pz/_E "
        "branches (" + "; ".join(f"{n}: {', '.join(PROCESSES[n])}" for n in PROCESSES) + ") and weight"
    )


def _dataset_physics(summary: dict, dataset: dict) -> dict:
    """χ constants and nominal beams of a monophoton dataset from a run summary (may be partial)."""
    card = summary.get("card") if isinstance(summary.get("card"), dict) else {}
    mcp = card.get("mcp", {}) if isinstance(card.get("mcp"), dict) else {}
    out = {}
    for key, name in (("mass_gev", "mass"), ("epsilon", "epsilon"), ("spin", "spin")):
        value = mcp.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) or key == "spin" and value:
            out[key] = value
    beams = dataset.get("beams")
    if isinstance(beams, dict):
        out.update(beams)
    return out


# ------------------------------------------------------------------------------------------
# Event files written by a run, beside events.root
# ------------------------------------------------------------------------------------------
def events_from_branches(branches, name: str):
    """The awkward events of process ``name`` (:data:`generator.final_state.PROCESSES`) from flat
    branches ``<particle>_px/_py/_pz/_E`` and ``weight`` (a dict of arrays or an awkward record
    array, e.g. a chunk of ``events.root`` or of the ROOT writer)."""
    import awkward as ak

    fields = {
        r: ak.zip(
            {c: ak.Array(np.asarray(branches[f"{r}_{c}"])) for c in ("px", "py", "pz", "E")}, with_name="Momentum4D"
        )
        for r in PROCESSES[name]
    }
    fields["weight"] = ak.Array(np.asarray(branches["weight"], dtype=float))
    return ak.zip(fields, depth_limit=1)


def event_file_names(out_dir, stem: str, formats) -> list[Path]:
    """Paths of the event files of ``formats`` ('lhe', 'hepmc3', 'hepmc2', each optionally with
    '.gz'): ``out_dir/stem.lhe``, ``stem.hepmc`` (HepMC3), ``stem.hepmc2`` (+ '.gz')."""
    paths = []
    for spec in formats:
        key, _, gz = spec.partition(".")
        if key not in RUN_ENDINGS or gz not in ("", "gz"):
            raise ValueError(f"event file format must be one of {sorted(RUN_ENDINGS)} (optionally .gz), got {spec!r}")
        paths.append(Path(out_dir) / f"{stem}{RUN_ENDINGS[key]}{'.gz' if gz else ''}")
    return paths


class EventFileSink:
    """The event files of one tree of a run, fed with the tree's branch chunks in entry order.

    ``paths``: the files (format from the name); ``name``: the process (:data:`PROCESSES`);
    ``process``: the process object (χ mass, ε, spin, Z propagator for :func:`final_state`);
    ``seed``, ``final_state_stream``, ``unweighting_stream``: the streams of the final-state and
    unweighting uniforms, keyed by entry number (:class:`mcpgen.rng.Streams`); ``w_max``: the
    pilot maximum in the units of the ``weight`` branch (pb per entry) -- given, the events are
    unweighted by :func:`unweight` (kept weight max(w, w_max)) and the overweight events counted;
    None writes the weights as they are; ``already_unweighted``: the tree holds unweighted events
    (``run.unweighted``), marked so in the files. ``metadata``: header content (mapping or
    callable). Use :meth:`finish` with the run's σ ± δσ, or :meth:`abort`.
    """

    def __init__(
        self,
        paths,
        name: str,
        process=None,
        *,
        seed: int = 0,
        final_state_stream: Stream = Streams.final_state,
        unweighting_stream: Stream = Streams.event_unweighting,
        w_max: float | None = None,
        already_unweighted: bool = False,
        chi_pdg: int | None = None,
        metadata: Mapping | Callable[[], Mapping] | None = None,
        beam_energies_gev: tuple[float, float] | None = None,
        compresslevel: int = 6,
    ):
        self.name = name
        self.process = process
        self.seed = int(seed)
        self.final_state_stream = final_state_stream
        self.unweighting_stream = unweighting_stream
        self.w_max = None if w_max is None else float(w_max)
        self.chi_pdg = chi_pdg
        self.entries = 0
        self.n_overweight = 0
        unweighted = already_unweighted or self.w_max is not None
        self.writers = []
        try:
            for path in paths:
                self.writers.append(
                    open_event_file(
                        path,
                        metadata=metadata,
                        unweighted=unweighted,
                        beam_energies_gev=beam_energies_gev,
                        compresslevel=compresslevel,
                    )
                )
        except BaseException:
            self.abort()
            raise
        self.unweighted = unweighted

    def add(self, branches) -> None:
        """Append one chunk of the tree's branches (entries ``self.entries`` onwards)."""
        n = len(branches["weight"])
        if n == 0:
            return
        start, stop = self.entries, self.entries + n
        events = events_from_branches(branches, self.name)
        rows = final_state_uniforms(self.name)
        u = self.final_state_stream.uniforms(self.seed, start, stop, rows) if rows else None
        table = final_state(events, self.process, u=u, chi_pdg=self.chi_pdg)
        if self.w_max is not None:
            u_acc = self.unweighting_stream.uniforms(self.seed, start, stop, 1)[0]
            table, n_over = unweight(table, u_acc, self.w_max)
            self.n_overweight += n_over
        for writer in self.writers:
            writer.write(table)
        self.entries = stop

    def finish(self, sigma_pb: float, sigma_err_pb: float) -> dict:
        """Commit the files with the run's σ ± δσ [pb]; returns what the summary records."""
        try:
            for writer in self.writers:
                writer.set_cross_section(sigma_pb, sigma_err_pb)
                writer.close()
        except BaseException:
            self.abort()
            raise
        n_written = self.writers[0].n_events if self.writers else 0
        return {
            "files": [str(w.path) for w in self.writers],
            "weighting": "unweighted" if self.unweighted else "weighted",
            "n_events": n_written,
            "max_weight_pb": self.w_max,
            "n_overweight": self.n_overweight if self.w_max is not None else None,
            "overweight_fraction": (self.n_overweight / n_written if n_written else 0.0)
            if self.w_max is not None
            else None,
            "chi_pdg": self.writers[0].info.get("chi_pdg") if self.writers else None,
        }

    def abort(self) -> None:
        """Drop every file of the sink."""
        for writer in self.writers:
            writer.abort()


class EventFileTee:
    """A ROOT event writer that also feeds the event-file sinks of its trees (``sinks``: tree
    name -> :class:`EventFileSink`; the writer's default tree under None). Hands to the chunk
    loop in place of the ROOT writer: ``extend(branches, tree)`` writes the ROOT tree, then the
    tree's event files."""

    def __init__(self, root_writer, sinks: dict):
        self.root = root_writer
        self.sinks = sinks

    def extend(self, branches: dict, tree: str | None = None) -> None:
        self.root.extend(branches, tree=tree)
        sink = self.sinks.get(tree if tree is not None else self.root.tree_name)
        if sink is not None:
            sink.add(branches)

    def abort(self) -> None:
        for sink in self.sinks.values():
            sink.abort()
