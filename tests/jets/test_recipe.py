"""The shared training recipe (gnn4hep/jets/recipe.py): schedules against their closed forms, Ranger against
RAdam and the Lookahead rule, early stopping restoring the best epoch, and seed reproducibility."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import torch

from gnn4hep.jets.inputs import InputSettings, make_inputs
from gnn4hep.jets.model_config import JetModelConfig
from gnn4hep.jets.ranger import Ranger
from gnn4hep.jets.recipe import RecipeConfig, lr_factor, make_optimizer, make_scheduler
from gnn4hep.jets.training import train_neural
from gnn4hep.training.trainer import TrainerConfig

from .conftest import make_jets


def _rates(recipe: RecipeConfig, epochs: int, val_losses=None) -> list[float]:
    """The learning rate of every epoch as torch applies the recipe's schedule (Lightning steps it per epoch)."""
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer([weight], recipe)
    entry = make_scheduler(optimizer, recipe, epochs)
    rates = []
    for epoch in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if entry is not None:
            entry["scheduler"].step(*([val_losses[epoch]] if "monitor" in entry else []))
    return rates


def test_epoch_schedules_match_their_closed_forms():
    lr, epochs = 2e-3, 30
    cosine = _rates(RecipeConfig(learning_rate=lr, lr_schedule="cosine"), epochs)
    np.testing.assert_allclose(cosine, [lr * (1 + math.cos(math.pi * e / epochs)) / 2 for e in range(epochs)],
                               rtol=1e-12)
    assert cosine[15] == pytest.approx(lr / 2)
    # weaver's flat+decay: 30 epochs, the last 9 decay geometrically to 1% of the rate
    flat = _rates(RecipeConfig(learning_rate=lr, lr_schedule="flat_decay"), epochs)
    expected = [lr] * 21 + [lr * 0.01 ** (k / 9) for k in range(1, 10)]
    np.testing.assert_allclose(flat, expected, rtol=1e-12)
    assert flat[-1] == pytest.approx(lr * 0.01)
    assert _rates(RecipeConfig(learning_rate=lr, lr_schedule="constant"), 5) == [lr] * 5
    assert lr_factor("flat_decay", 0, 1) == pytest.approx(0.01)  # one epoch: it is the decay
    with pytest.raises(ValueError, match="unknown epoch schedule"):
        lr_factor("plateau", 0, 10)


def test_plateau_schedule_reduces_after_patience_epochs_without_improvement():
    losses = [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.5, 0.6, 0.7, 0.8, 0.9]
    recipe = RecipeConfig(learning_rate=1.0, lr_schedule="plateau", plateau_factor=0.5, plateau_patience=3)
    rates = _rates(recipe, len(losses), losses)
    # brute force: the rate of epoch e+1 halves when the epochs since the best loss exceed the patience
    expected, rate, best, bad = [], 1.0, math.inf, 0
    for loss in losses:
        expected.append(rate)
        if loss < best * (1 - 1e-4):  # ReduceLROnPlateau's default relative threshold
            best, bad = loss, 0
        else:
            bad += 1
        if bad > 3:
            rate, bad = rate * 0.5, 0
    assert rates == pytest.approx(expected)
    assert rates[-1] < rates[0]


def _quadratic_steps(optimizer, weight, target, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        ((weight - target) ** 2).sum().backward()
        optimizer.step()


def test_ranger_is_radam_with_lookahead():
    torch.manual_seed(0)
    start, target = torch.randn(5), torch.randn(5)
    k, alpha = 4, 0.3

    def run(optimizer_class, steps, **kwargs):
        weight = torch.nn.Parameter(start.clone())
        _quadratic_steps(optimizer_class([weight], lr=0.1, **kwargs), weight, target, steps)
        return weight.detach()

    fast = run(torch.optim.RAdam, k)
    # after k steps the weights are the slow weights: start + alpha * (k RAdam steps - start)
    torch.testing.assert_close(run(Ranger, k, k=k, alpha=alpha), start + alpha * (fast - start), rtol=1e-6, atol=1e-7)
    # before the k-th step Lookahead has not acted
    torch.testing.assert_close(run(Ranger, k - 1, k=k, alpha=alpha), run(torch.optim.RAdam, k - 1))
    # alpha = 1 makes Lookahead a no-op
    torch.testing.assert_close(run(Ranger, 3 * k, k=k, alpha=1.0), run(torch.optim.RAdam, 3 * k))
    assert isinstance(make_optimizer([torch.nn.Parameter(start)], RecipeConfig(optimizer="ranger")), Ranger)


TINY = JetModelConfig(pfn_phi_sizes=(16, 16), pfn_f_sizes=(16,))


def _train(tmp_path, recipe, seed=0, name="run", noise=False):
    train_jets, val_jets = make_jets(48, 20, seed=1), make_jets(24, 20, seed=2)
    if noise:  # training labels shuffled: the network can only overfit, so the validation loss rises
        train_jets = dataclasses.replace(train_jets, labels=np.random.default_rng(0).permutation(train_jets.labels))
    settings = InputSettings(True, 8, 0.4)
    train = make_inputs(train_jets, {"features", "mask"}, settings)
    val = make_inputs(val_jets, {"features", "mask"}, settings)
    trainer = TrainerConfig(progress_bar=False, num_threads=1)
    model, _, epochs = train_neural("pfn", train, val, train["features"].shape[-1], trainer, TINY,
                                    tmp_path / name, seed=seed, recipe=recipe)
    return model, epochs, val


def test_early_stopping_restores_the_best_epoch(tmp_path):
    recipe = RecipeConfig(learning_rate=0.03, batch_size=8, max_epochs=12, early_stopping_patience=2)
    model, epochs, val = _train(tmp_path, recipe, noise=True)
    log = pd.read_csv(tmp_path / "run" / "logs" / "pfn" / "metrics.csv").dropna(subset=["val_loss"])
    val_loss = log.groupby("epoch")["val_loss"].mean()
    best = int(val_loss.idxmin())
    assert best < val_loss.index.max()  # the last epoch is not the best: restoring matters
    assert len(val_loss) == best + 1 + 2 < 12  # stopped after `patience` epochs without improvement
    # the returned weights give the best epoch's validation loss, recomputed from scratch
    with torch.no_grad():
        logits = model(**{n: val[n] for n in model.input_names})
        loss = torch.nn.functional.cross_entropy(logits, val["labels"]).item()
    assert loss == pytest.approx(val_loss[best], rel=1e-5)
    assert loss < val_loss.iloc[-1]


@pytest.mark.parametrize("optimizer,schedule", [("adam", "constant"), ("ranger", "flat_decay")])
def test_same_seed_same_weights(tmp_path, optimizer, schedule):
    recipe = RecipeConfig(optimizer=optimizer, lr_schedule=schedule, batch_size=16, max_epochs=2,
                          early_stopping_patience=None)
    first, _, _ = _train(tmp_path, recipe, seed=3, name="a")
    again, _, _ = _train(tmp_path, recipe, seed=3, name="b")
    other, _, _ = _train(tmp_path, recipe, seed=4, name="c")
    for (key, a), b, c in zip(first.state_dict().items(), again.state_dict().values(), other.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=key)
    assert any(not torch.equal(a, c) for a, c in zip(first.state_dict().values(), other.state_dict().values()))


def _mirrored_in_phi(jets):
    """The jets reflected about their axis in the transverse plane, built from the four-momenta: (px, py)
    mirrored on the jet's direction, pz and E kept (Δφ → −Δφ exactly; the jet axis does not move)."""
    from gnn4hep.jets.constituents import jet_p4

    axis = jet_p4(jets)[:, :2]
    axis = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    transverse = jets.p4[..., :2]
    along = (transverse * axis[:, None, :]).sum(-1, keepdims=True)
    p4 = jets.p4.copy()
    p4[..., :2] = np.where(jets.mask[..., None], 2 * along * axis[:, None, :] - transverse, 0.0)
    return dataclasses.replace(jets, p4=p4)


@pytest.mark.parametrize("scaling", ["fixed", "fitted"])
def test_mirror_in_phi_equals_the_inputs_of_the_mirrored_jets(scaling):
    from gnn4hep.jets.inputs import mirror_jets, mirror_offsets

    jets = make_jets(16, 20, seed=3)
    settings = InputSettings(True, 8, 0.4, scaling=scaling)
    names = {"features", "points", "mask"}
    original = make_inputs(jets, names, settings)  # fits the stats ("fitted") ...
    direct = make_inputs(_mirrored_in_phi(jets), names, settings)  # ... that the mirrored jets reuse
    flip_phi = torch.arange(16) % 2 == 0
    mirrored = mirror_jets(original, torch.zeros(16, dtype=torch.bool), flip_phi, mirror_offsets(settings))
    expected = {n: torch.where(flip_phi[:, None, None], direct[n], original[n]) for n in ("features", "points")}
    for name in ("features", "points"):
        torch.testing.assert_close(mirrored[name], expected[name], atol=2e-5, rtol=1e-5)
    assert (mirrored["features"][~original["mask"]] == 0).all()  # padding stays 0


def test_mirror_in_eta_undoes_the_fitted_scaling_and_is_an_involution():
    from gnn4hep.jets.inputs import mirror_jets, mirror_offsets

    jets = make_jets(12, 20, seed=4)
    settings = InputSettings(True, 8, 0.4, scaling="fitted")
    inputs = make_inputs(jets, {"features", "points", "mask"}, settings)
    mean, std = settings.stats
    flip_eta, no = torch.ones(12, dtype=torch.bool), torch.zeros(12, dtype=torch.bool)
    mirrored = mirror_jets(inputs, flip_eta, no, mirror_offsets(settings))
    mask = inputs["mask"]
    raw_eta = inputs["features"][..., 0] * float(std[0]) + float(mean[0])  # unscaled Δη
    torch.testing.assert_close(mirrored["features"][..., 0][mask], ((-raw_eta - float(mean[0])) / float(std[0]))[mask],
                               atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mirrored["points"][..., 0], -inputs["points"][..., 0])
    torch.testing.assert_close(mirrored["features"][..., 1:], inputs["features"][..., 1:])
    twice = mirror_jets(mirrored, flip_eta, no, mirror_offsets(settings))
    torch.testing.assert_close(twice["features"], inputs["features"], atol=1e-5, rtol=1e-5)


def test_mirror_augmentation_trains_reproducibly_and_changes_the_training(tmp_path):
    recipe = RecipeConfig(learning_rate=0.03, batch_size=8, max_epochs=2, early_stopping_patience=None, augment="none")
    mirrored = recipe.model_copy(update={"augment": "mirror"})
    first, _, _ = _train(tmp_path, mirrored, name="a")
    second, _, _ = _train(tmp_path, mirrored, name="b")
    plain, _, _ = _train(tmp_path, recipe, name="c")
    for a, b, c in zip(first.state_dict().values(), second.state_dict().values(), plain.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert any(not torch.equal(a, c) for a, c in zip(first.state_dict().values(), plain.state_dict().values())
               if a.is_floating_point())
