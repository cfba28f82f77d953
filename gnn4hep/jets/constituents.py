"""The jet container: padded constituent four-momenta, mask, labels, and optional PDG id / charge.

Every loader and the generator return :class:`Jets`; everything downstream (features, graphs,
images, substructure, models) reads it. Units: GeV. Kinematic helpers are pure numpy functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from gnn4hep.errors import InputFileError
from gnn4hep.utils.angles import wrap_phi

#: Masses (GeV) of long-lived particles by |PDG id|, for loaders that give (pT, y, phi, pid).
PDG_MASSES = {
    11: 0.000511, 13: 0.10566, 22: 0.0, 211: 0.13957, 321: 0.49368, 130: 0.49761, 310: 0.49761,
    2212: 0.93827, 2112: 0.93957, 3122: 1.11568, 3112: 1.19745, 3222: 1.18937, 3312: 1.32171,
    3322: 1.31486, 3334: 1.67245, 12: 0.0, 14: 0.0, 16: 0.0,
}
#: Charges by |PDG id| for positive ids (a negative id flips the sign).
PDG_CHARGES = {11: -1, 13: -1, 22: 0, 211: 1, 321: 1, 130: 0, 310: 0, 2212: 1, 2112: 0, 3122: 0,
               3112: -1, 3222: 1, 3312: -1, 3322: 0, 3334: -1, 12: 0, 14: 0, 16: 0}


@dataclass
class Jets:
    """A set of jets, constituents zero-padded to a common length ``M``.

    Attributes:
        p4: (N, M, 4) float32 constituent (px, py, pz, E) in GeV, zero where padded,
            sorted by decreasing pT within each jet.
        mask: (N, M) bool, True for real constituents.
        labels: (N,) int64 class index (binary tasks: 1 = signal, e.g. top or quark).
        pid: optional (N, M) int32 PDG id (0 where padded or unknown).
        charge: optional (N, M) float32 electric charge in units of e.
        source: where the jets came from (file path or generator settings), for error messages.
    """

    p4: np.ndarray
    mask: np.ndarray
    labels: np.ndarray
    pid: Optional[np.ndarray] = None
    charge: Optional[np.ndarray] = None
    source: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.p4 = np.asarray(self.p4, dtype=np.float32)
        self.mask = np.asarray(self.mask, dtype=bool)
        self.labels = np.asarray(self.labels).astype(np.int64)
        where = self.source or "jets"
        if self.p4.ndim != 3 or self.p4.shape[2] != 4:
            raise InputFileError(where, f"constituents must be (N, M, 4) px,py,pz,E; got {self.p4.shape}")
        n, m, _ = self.p4.shape
        if self.mask.shape != (n, m):
            raise InputFileError(where, f"mask shape {self.mask.shape} != {(n, m)}", "mask")
        if self.labels.shape != (n,):
            raise InputFileError(where, f"labels shape {self.labels.shape} != ({n},)", "labels")
        if not np.isfinite(self.p4).all():
            raise InputFileError(where, "constituent four-momenta contain NaN or inf", "p4")
        for name in ("pid", "charge"):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.int32 if name == "pid" else np.float32)
                if value.shape != (n, m):
                    raise InputFileError(where, f"{name} shape {value.shape} != {(n, m)}", name)
                setattr(self, name, value)

    def __len__(self) -> int:
        return self.p4.shape[0]

    @property
    def max_constituents(self) -> int:
        return self.p4.shape[1]

    @property
    def multiplicity(self) -> np.ndarray:
        """(N,) number of real constituents."""
        return self.mask.sum(axis=1)

    def subset(self, index) -> "Jets":
        """The jets at ``index`` (slice, integer array or bool mask)."""
        pick = (lambda a: None if a is None else a[index])
        return Jets(self.p4[index], self.mask[index], self.labels[index], pick(self.pid), pick(self.charge),
                    self.source, {k: v[index] for k, v in self.extra.items()})

    def truncate(self, max_constituents: int) -> "Jets":
        """Keep the ``max_constituents`` hardest constituents (the arrays are pT-ordered)."""
        cut = slice(0, max_constituents)
        pick = (lambda a: None if a is None else a[:, cut])
        return Jets(self.p4[:, cut], self.mask[:, cut], self.labels, pick(self.pid), pick(self.charge),
                    self.source, dict(self.extra))


def concatenate(parts: list[Jets]) -> Jets:
    """Join jet sets, padding to the largest ``M``; pid/charge kept only when all have them."""
    if not parts:
        raise ValueError("nothing to concatenate")
    m = max(p.max_constituents for p in parts)

    def pad(a, fill=0):
        if a.shape[1] == m:
            return a
        width = [(0, 0), (0, m - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        return np.pad(a, width, constant_values=fill)

    keep = {name: all(getattr(p, name) is not None for p in parts) for name in ("pid", "charge")}
    return Jets(
        np.concatenate([pad(p.p4) for p in parts]),
        np.concatenate([pad(p.mask, False) for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([pad(p.pid) for p in parts]) if keep["pid"] else None,
        np.concatenate([pad(p.charge) for p in parts]) if keep["charge"] else None,
        "+".join(sorted({p.source for p in parts})),
    )


def pt_eta_phi(p4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transverse momentum, pseudorapidity and azimuth of (..., 4) px,py,pz,E arrays.

    η = asinh(pz / pT); where pT = 0 (padding) η and φ are 0.
    """
    px, py, pz = p4[..., 0].astype(np.float64), p4[..., 1].astype(np.float64), p4[..., 2].astype(np.float64)
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.where(pt > 0, np.arcsinh(pz / np.where(pt > 0, pt, 1.0)), 0.0)
    phi = np.arctan2(py, px)
    return pt, eta, phi


def jet_p4(jets: Jets) -> np.ndarray:
    """(N, 4) jet four-momentum, the sum of its constituents (E-scheme)."""
    return (jets.p4.astype(np.float64) * jets.mask[..., None]).sum(axis=1)


def invariant_mass(p4: np.ndarray) -> np.ndarray:
    """m = sqrt(max(E² − |p|², 0)) of (..., 4) arrays."""
    m2 = p4[..., 3] ** 2 - (p4[..., :3] ** 2).sum(axis=-1)
    return np.sqrt(np.clip(m2, 0.0, None))


def relative_coordinates(jets: Jets) -> tuple[np.ndarray, np.ndarray]:
    """(Δη, Δφ) of every constituent to the jet axis, (N, M) each, zero where padded."""
    _, jet_eta, jet_phi = pt_eta_phi(jet_p4(jets))
    _, eta, phi = pt_eta_phi(jets.p4)
    deta = np.where(jets.mask, eta - jet_eta[:, None], 0.0)
    dphi = np.where(jets.mask, wrap_phi(phi - jet_phi[:, None]), 0.0)
    return deta, dphi


def from_pt_y_phi(pt: np.ndarray, y: np.ndarray, phi: np.ndarray, pid: np.ndarray | None = None) -> np.ndarray:
    """(…, 4) px,py,pz,E from pT, rapidity y and φ; masses from the PDG id when given (else 0).

    m_T = sqrt(pT² + m²), E = m_T cosh y, pz = m_T sinh y.
    """
    mass = np.zeros_like(pt, dtype=np.float64)
    if pid is not None:
        apid = np.abs(pid).astype(np.int64)
        for code, value in PDG_MASSES.items():
            mass[apid == code] = value
    mt = np.sqrt(pt.astype(np.float64) ** 2 + mass**2)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)], axis=-1)


def charge_from_pid(pid: np.ndarray) -> np.ndarray:
    """Electric charge of PDG ids (0 for unknown ids and padding)."""
    charge = np.zeros(pid.shape, dtype=np.float32)
    apid = np.abs(pid)
    for code, value in PDG_CHARGES.items():
        charge[apid == code] = value
    return charge * np.sign(pid)


def sort_by_pt(p4: np.ndarray, mask: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray, ...]:
    """Order constituents by decreasing pT (padding last); returns (p4, mask, *others)."""
    pt = np.hypot(p4[..., 0], p4[..., 1])
    order = np.argsort(np.where(mask, -pt, np.inf), axis=1, kind="stable")
    take = (lambda a: np.take_along_axis(a, order[..., None] if a.ndim == 3 else order, axis=1))
    return tuple(take(a) for a in (p4, mask, *others))
