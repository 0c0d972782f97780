"""An MLSec model directory (model.json + weights.safetensors) as an ART 1.20.1 classifier in plain NumPy (no
PyTorch), for the robustness parity tests (interop/test_robustness_art.py) and Benchmarks/robustness/bench_art.py.

`MLSecNumpyClassifier` subclasses ART's `ClassifierNeuralNetwork` (= ClassGradientsMixin + ClassifierMixin +
LossGradientsMixin + NeuralNetworkMixin + BaseEstimator), which is what the attacks used here check for:
  - FastGradientMethod and ProjectedGradientDescent(Numpy): BaseEstimator + LossGradientsMixin -> `loss_gradient`.
    ProjectedGradientDescent only dispatches to its PyTorch / TensorFlow variants for those estimator classes;
    anything else (this class) runs ProjectedGradientDescentNumpy.
  - CarliniL2Method: BaseEstimator + ClassGradientsMixin -> `class_gradient(x, label=array)` and `predict` (it reads
    `predict` as logits).
  - HopSkipJump: BaseEstimator + ClassifierMixin -> `predict` only (decision based); `input_shape`, `clip_values`.
  - NumpyRandomizedSmoothing wraps any of these: `model`, `channels_first`, `clip_values`, `preprocessing*`,
    `input_shape`, `nb_classes`, `predict`.
`predict` returns the model's raw last-layer outputs (logits for `mlp:` models, as `mlsec predict` prints them), like
ART's PyTorchClassifier does for a model without a softmax. Every row passed to `predict` is counted in
`self.queries` (HopSkipJump's query count). Arithmetic is float64 by default (weights widened on load;
`dtype=np.float32` computes like MLSec's engine and PyTorch); inputs arrive as ART's float32.

ART's randomized smoothing, as ART 1.20.1 implements it (art/estimators/certification/randomized_smoothing/
randomized_smoothing.py, RandomizedSmoothingMixin.certify; NumpyRandomizedSmoothing only supplies
`_predict_classifier` = the wrapped classifier's `predict`):
  for each input x_i (one at a time):
    counts0 = counts of argmax(predict(x_i + noise)) over n0 = `sample_size` noisy copies   (selection)
    cA      = argmax(counts0)            (ties: the lowest class index, numpy argmax)
    countsN = the same with a fresh draw of n = `certify(..., n=N)` noisy copies               (estimation)
    pA      = proportion_confint(countsN[cA], N, alpha=2*alpha, method="beta")[0]   (one-sided Clopper-Pearson
              lower bound at level 1-alpha, statsmodels)
    if pA < 0.5: abstain (prediction -1, radius 0.0), else prediction cA, radius = scale * norm.ppf(pA)
  Noise: x + np.random.normal(scale=sigma, size=(n,) + x.shape).astype(float32), drawn from NumPy's *global* RNG
  (seed it with np.random.seed), one draw per call, NOT clipped to the input range. n0 is the constructor's
  `sample_size` (no built-in n0 = 100: pass sample_size=100 for Cohen et al.'s n0). Predictions are made in batches
  of certify's `batch_size` (default 32; only speed). pA == 0.5 exactly is not an abstention (radius 0).
  `art_certify` below runs exactly that and turns it into certified accuracy at given radii.
"""
from __future__ import annotations

import json
import pathlib

import numpy as np
from safetensors.numpy import load_file

from art.estimators.classification.classifier import ClassifierNeuralNetwork

SUPPORTED = {"dense", "relu", "tanh", "sigmoid", "softmax", "flatten"}


def load_mlsec_model(model_dir, dtype=np.float64):
    """(spec, weights as `dtype`) of an MLSec model directory."""
    model_dir = pathlib.Path(model_dir)
    spec = json.loads((model_dir / "model.json").read_text())
    weights = {k: v.astype(dtype) for k, v in load_file(str(model_dir / "weights.safetensors")).items()}
    for layer in spec["layers"]:
        if layer["type"] not in SUPPORTED:
            raise NotImplementedError(f"layer type {layer['type']!r} (supported: {sorted(SUPPORTED)})")
    return spec, weights


class MLSecNumpyClassifier(ClassifierNeuralNetwork):
    """An MLSec dense model (dense / relu / tanh / sigmoid / softmax / flatten layers) as an ART classifier."""

    estimator_params = ClassifierNeuralNetwork.estimator_params

    def __init__(self, model_dir, clip_values=None, preprocessing=None, dtype=np.float64):
        """`dtype`: the arithmetic. float64 (default) is the exact reference; float32 computes like MLSec's engine
        and PyTorch (softmax - onehot in float32: a confident row's true-class term rounds to 0)."""
        self.dtype = np.dtype(dtype)
        spec, weights = load_mlsec_model(model_dir, self.dtype)
        if clip_values is None:
            inp = spec.get("input", {})
            clip_values = (float(inp.get("min", 0.0)), float(inp.get("max", 1.0)))
        super().__init__(model=(spec, weights), clip_values=clip_values, channels_first=False,
                         preprocessing_defences=None, postprocessing_defences=None, preprocessing=preprocessing)
        self.spec, self.weights = spec, weights
        self.layers = spec["layers"]
        self._input_shape = tuple(int(d) for d in spec["input"]["shape"][1:])
        self.nb_classes = int(spec["output"]["shape"][-1])
        self._layer_names = [f"{i}:{layer['type']}" for i, layer in enumerate(self.layers)]
        self.queries = 0  # rows passed to predict()

    @property
    def input_shape(self):
        return self._input_shape

    # -- forward / backward -------------------------------------------------------------------------------------
    def _forward(self, x):
        """Returns the list of activations [input, after layer 0, after layer 1, ...]."""
        acts = [np.asarray(x, dtype=self.dtype).reshape(len(x), -1)]
        for layer in self.layers:
            h = acts[-1]
            t = layer["type"]
            if t == "dense":
                h = h @ self.weights[layer["weight"]].T
                if "bias" in layer:
                    h = h + self.weights[layer["bias"]]
            elif t == "relu":
                h = np.maximum(h, 0.0)
            elif t == "tanh":
                h = np.tanh(h)
            elif t == "sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
            elif t == "softmax":
                e = np.exp(h - h.max(axis=-1, keepdims=True))
                h = e / e.sum(axis=-1, keepdims=True)
            elif t == "flatten":
                h = h.reshape(len(h), -1)
            acts.append(h)
        return acts

    def _backward(self, acts, grad_out):
        """Back-propagates `grad_out` (n, k, outputs) (k upstream vectors per row) to the input: (n, k, inputs)."""
        g = grad_out
        for i in range(len(self.layers) - 1, -1, -1):
            layer, inp, out = self.layers[i], acts[i], acts[i + 1]
            t = layer["type"]
            if t == "dense":
                g = g @ self.weights[layer["weight"]]
            elif t == "relu":
                g = g * (inp > 0)[:, None, :]
            elif t == "tanh":
                g = g * (1.0 - out ** 2)[:, None, :]
            elif t == "sigmoid":
                g = g * (out * (1.0 - out))[:, None, :]
            elif t == "softmax":
                s = out[:, None, :]
                g = s * (g - np.sum(g * s, axis=-1, keepdims=True))
        return g

    # -- ART interface ------------------------------------------------------------------------------------------
    def predict(self, x, batch_size=128, training_mode=False, **kwargs):
        x = np.asarray(x)
        self.queries += len(x)
        x_p, _ = self._apply_preprocessing(x, y=None, fit=False)
        out = []
        for start in range(0, len(x_p), max(1, int(batch_size))):
            out.append(self._forward(x_p[start:start + batch_size])[-1])
        preds = np.concatenate(out) if out else np.zeros((0, self.nb_classes))
        return self._apply_postprocessing(preds=preds, fit=False)

    def _labels(self, y, n):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == self.nb_classes:
            return y.astype(self.dtype)
        onehot = np.zeros((n, self.nb_classes), dtype=self.dtype)
        onehot[np.arange(n), y.reshape(-1).astype(int)] = 1.0
        return onehot

    def compute_loss(self, x, y, reduction="none", **kwargs):
        """Softmax cross-entropy of the outputs (taken as logits) against `y` (one-hot or indices)."""
        x_p, _ = self._apply_preprocessing(np.asarray(x), None, fit=False)
        z = self._forward(x_p)[-1]
        y1 = self._labels(y, len(z))
        zmax = z.max(axis=1, keepdims=True)
        logsm = z - zmax - np.log(np.exp(z - zmax).sum(axis=1, keepdims=True))
        loss = -(y1 * logsm).sum(axis=1)
        return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]

    def loss_gradient(self, x, y, training_mode=False, reduction="mean", **kwargs):
        """Gradient w.r.t. x of the softmax cross-entropy of the outputs (as logits) with labels `y`, averaged over
        the batch (PyTorch's CrossEntropyLoss default, what ART's PyTorchClassifier differentiates). The attacks
        here only use its direction per row, so the 1/n scale does not matter."""
        x = np.asarray(x)
        x_p, _ = self._apply_preprocessing(x, None, fit=False)
        acts = self._forward(x_p)
        z = acts[-1]
        y1 = self._labels(y, len(z)).astype(self.dtype)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        # d/dz of -sum(y * log_softmax(z)) = softmax(z) * sum(y) - y  (= p - y for one-hot y)
        dz = p * y1.sum(axis=1, keepdims=True) - y1
        if reduction == "mean":
            dz = dz / self.dtype.type(len(z))
        grad = self._backward(acts, dz[:, None, :])[:, 0, :].reshape(x.shape)
        grad = self._apply_preprocessing_gradient(x, grad)
        return grad.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float64)

    def class_gradient(self, x, label=None, training_mode=False, **kwargs):
        """d output[label] / d x: (n, nb_classes, *input_shape) for label=None, else (n, 1, *input_shape)."""
        x = np.asarray(x)
        n = len(x)
        x_p, _ = self._apply_preprocessing(x, None, fit=False)
        acts = self._forward(x_p)
        k = self.nb_classes
        if label is None:
            upstream = np.broadcast_to(np.eye(k, dtype=self.dtype), (n, k, k)).copy()
        else:
            idx = np.full(n, int(label)) if np.isscalar(label) or np.ndim(label) == 0 else \
                np.asarray(label).reshape(-1).astype(int)
            if len(idx) != n:
                raise ValueError("label must be an int or have one entry per row of x")
            upstream = np.zeros((n, 1, k), dtype=self.dtype)
            upstream[np.arange(n), 0, idx] = 1.0
        grads = self._backward(acts, upstream)
        grads = grads.reshape((n, grads.shape[1]) + tuple(self._input_shape))
        if self.preprocessing_operations:
            grads = np.stack([self._apply_preprocessing_gradient(x, grads[:, c]) for c in range(grads.shape[1])],
                             axis=1)
        return grads.astype(x.dtype if x.dtype in (np.float32, np.float64) else np.float64)

    def get_activations(self, x, layer, batch_size=128, framework=False):
        i = layer if isinstance(layer, int) else self._layer_names.index(layer)
        x_p, _ = self._apply_preprocessing(np.asarray(x), None, fit=False)
        return self._forward(x_p)[i + 1]

    def fit(self, x, y, batch_size=128, nb_epochs=20, **kwargs):
        raise NotImplementedError("train with `mlsec train`; this wrapper is inference and gradients only")

    def save(self, filename, path=None):
        raise NotImplementedError("the model directory is the saved form")


def art_certify(classifier, x, y, sigma, n0, n, alpha, radii, seed=0, batch_size=1000):
    """Certified accuracy at each radius in `radii` and the abstain rate, by ART's NumpyRandomizedSmoothing
    (sample_size = n0 selection draws, n estimation draws). Returns (dict radius -> accuracy, abstain_rate,
    predictions, radii per row)."""
    from art.estimators.certification.randomized_smoothing import NumpyRandomizedSmoothing

    smoother = NumpyRandomizedSmoothing(classifier, sample_size=n0, scale=sigma, alpha=alpha)
    np.random.seed(seed)
    pred, radius = smoother.certify(np.asarray(x, dtype=np.float32), n=n, batch_size=batch_size)
    y = np.asarray(y)
    acc = {r: float(np.mean((pred == y) & (radius >= r))) for r in radii}
    return acc, float(np.mean(pred == -1)), pred, radius
