"""The MLP's gradients are proved by finite differences; training reduces loss on real candles."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.mlp import MLP, SGD, Adam


def _numeric_grads(model: MLP, X, y, seed: int, eps: float = 1e-6) -> list[np.ndarray]:
    out = []
    for p in model.params():
        g = np.zeros_like(p)
        it = np.nditer(p, flags=["multi_index"])
        for _ in it:
            i = it.multi_index
            old = p[i]
            p[i] = old + eps
            lp = model.loss_and_grads(X, y, True, np.random.default_rng(seed))
            p[i] = old - eps
            lm = model.loss_and_grads(X, y, True, np.random.default_rng(seed))
            p[i] = old
            g[i] = (lp - lm) / (2 * eps)
        out.append(g)
    return out


@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("head,n_out", [("sigmoid", 1), ("softmax", 3), ("linear", 1)])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_backprop_matches_finite_differences_for_every_layer_activation_and_head(
        activation, head, n_out, dropout):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(7, 5))
    y = {"sigmoid": (rng.random(7) > 0.5).astype(float), "softmax": rng.integers(0, 3, 7).astype(float),
         "linear": rng.normal(size=7)}[head]
    model = MLP(5, (6, 4), activation=activation, head=head, n_out=n_out, dropout=dropout,
                l2=0.05, seed=3)
    model.mean = rng.normal(size=5)
    model.std = rng.uniform(0.5, 2.0, size=5)
    # the same seed for every evaluation: the dropout masks are identical, the function smooth
    # (pre-activations at exactly 0, the ReLU kink, have probability zero with these inputs)
    model.loss_and_grads(X, y, True, np.random.default_rng(11))
    analytic = [g.copy() for g in model.grads()]
    numeric = _numeric_grads(model, X, y, seed=11)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-7)


def test_l2_penalty_enters_loss_and_gradient_of_weights_only():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 3)), np.array([0.0, 1.0, 1.0, 0.0])
    a = MLP(3, (4,), l2=0.0, seed=5)
    b = MLP(3, (4,), l2=0.5, seed=5)
    la = a.loss_and_grads(X, y)
    lb = b.loss_and_grads(X, y)
    w2 = sum((d.W ** 2).sum() for d in a.dense)
    assert lb - la == pytest.approx(0.25 * w2)
    for da, db in zip(a.dense, b.dense):
        np.testing.assert_allclose(db.dW - da.dW, 0.5 * da.W)
        np.testing.assert_allclose(db.db, da.db)


@pytest.mark.parametrize("opt", [lambda: SGD(0.05, 0.9), lambda: SGD(0.05, 0.9, nesterov=True),
                                 lambda: Adam(0.01)])
def test_training_reduces_loss_when_fitting_real_candle_features(btc_dataset, opt):
    ds = btc_dataset
    n = 6000
    X, y = ds.X[:n], ds.y[:n]
    model = MLP(X.shape[1], (16, 8), dropout=0.1, l2=1e-4, seed=0)
    model.fit_scaler(X)
    before = model.loss(X, y)
    hist = model.fit(X, y, epochs=8, batch_size=128, optimizer=opt())
    after = model.loss(X, y)
    assert after < before
    assert len(hist.epochs) == 8
    assert hist.epochs[-1]["train_loss"] < hist.epochs[0]["train_loss"]


def test_early_stopping_restores_best_validation_weights(btc_dataset):
    ds = btc_dataset
    X, y = ds.X[:3000], ds.y[:3000]
    Xv, yv = ds.X[3000:4000], ds.y[3000:4000]
    # a wide net with a large step overfits quickly: validation loss turns up
    model = MLP(X.shape[1], (128, 128), seed=0)
    hist = model.fit(X, y, Xv, yv, epochs=60, batch_size=32, patience=3, optimizer=Adam(0.01))
    assert hist.stopped_early
    assert model.loss(Xv, yv) == pytest.approx(hist.best_val_loss, rel=1e-9)
    assert len(hist.epochs) == hist.best_epoch + 3


def test_fit_refuses_nan_inputs_and_bad_class_labels():
    m = MLP(2, (3,))
    with pytest.raises(ValueError, match="finite"):
        m.fit(np.array([[np.nan, 1.0]]), np.array([1.0]))
    s = MLP(2, (3,), head="softmax", n_out=3)
    with pytest.raises(ValueError, match="class labels"):
        s.fit(np.ones((2, 2)), np.array([0.0, 3.0]))


def test_state_round_trip_gives_the_same_predictions():
    rng = np.random.default_rng(2)
    m = MLP(4, (5, 3), activation="tanh", seed=9)
    m.fit_scaler(rng.normal(size=(20, 4)))
    X = rng.normal(size=(6, 4))
    c = MLP.from_state(m.config(), m.state())
    np.testing.assert_array_equal(c.predict(X), m.predict(X))
