"""The fitter's material model must match the detector's: the measured TrackML layer material."""

import numpy as np
import pandas as pd
import pytest

from gnn4hep.tracking.fitting import FitConfig, refit
from gnn4hep.tracking.fitting.perigee import particles_to_perigee, wrap_angle
from gnn4hep.tracking.io import read_detector
from gnn4hep.tracking.simulation import GunSource, SimulationConfig, simulate_event


@pytest.fixture(scope="module")
def heavy_event():
    """Pions of 0.5-5 GeV through layers that carry the measured TrackML material."""
    detector = read_detector()
    source = GunSource(n_particles=1500, pt_gev=(0.5, 5.0), eta=(-2.5, 2.5))
    config = SimulationConfig(digitisation="smear", hit_efficiency=1.0, trackml_material=True, energy_loss=True)
    return detector, simulate_event(source, detector, seed=31, config=config)


def _fit(detector, event, model):
    truth = event.truth
    candidates = pd.DataFrame({"hit_id": truth["hit_id"], "track_id": truth["particle_id"].astype(np.int64)})
    # the simulator's uniform 2 T field and pitch / sqrt(12) smearing
    config = FitConfig(mass_gev=0.13957, material_model=model, max_outliers=0, attach_orphans=False,
                       field="uniform", hit_errors="pitch",
                       split_bad=False, restore_chi2_ndf=None)
    _, params = refit(event, candidates, detector, config)
    params = params[params["fitted"] & (params["n_hits"] >= 6)]
    particles = event.particles.set_index(event.particles["particle_id"].astype(np.int64)).loc[params["track_id"]]
    true = particles_to_perigee(particles[["vx", "vy", "vz"]].to_numpy(float), particles[["px", "py", "pz"]].to_numpy(float),
                                particles["q"].to_numpy(float), detector.field_tesla)
    diff = params[["d0", "z0", "phi", "theta", "qop"]].to_numpy() - true
    diff[:, 2] = wrap_angle(diff[:, 2])
    pulls = diff / params[["sigma_d0", "sigma_z0", "sigma_phi", "sigma_theta", "sigma_qop"]].to_numpy()
    return (params["chi2"] / params["ndf"]).to_numpy(), pulls


def test_measured_material_gives_calibrated_fits(heavy_event):
    chi2_ndf, pulls = _fit(*heavy_event, "simulator")
    assert len(chi2_ndf) > 500
    assert abs(chi2_ndf.mean() - 1.0) < 0.1, chi2_ndf.mean()
    assert np.all(np.abs(pulls.std(axis=0) - 1.0) < 0.15), pulls.std(axis=0)


def test_sensor_only_material_underestimates_the_scattering(heavy_event):
    chi2_ndf, pulls = _fit(*heavy_event, "sensors")
    assert chi2_ndf.mean() > 1.3, chi2_ndf.mean()
    assert pulls[:, 4].std() > 1.3  # q/p pulls widen most


def test_unknown_material_model_is_named():
    with pytest.raises(ValueError, match="material_model"):
        FitConfig(material_model="lead")
