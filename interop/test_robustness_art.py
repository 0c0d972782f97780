"""`mlsec attack` and `mlsec certify` against IBM ART 1.20.1 on the same weights and rows.

The digits MLP 64-128-10 is trained once per module (`mlsec train --epochs 100 --seed 0`); ART sees the same model
through interop/art_numpy_model.py (NumPy, float64, no PyTorch), whose gradients are checked by finite differences
here first. Rows: MLSec's digits test split (360 rows, `mlsec bench export-digits --split test`) written to a CSV
with header pixel0..pixel63,label; CW and HopSkipJump use its first 30 rows.

Checks: FGSM L-inf eps 0.05 / 0.1 and L2 eps 0.5 (adversarial accuracy within 0.01 of ART's FastGradientMethod);
PGD L-inf eps 0.1, 40 steps of 0.01 and PGD L2 eps 0.5, 40 steps of 0.05 (within 0.03 of ART's
ProjectedGradientDescentNumpy); every written adversarial row within eps (+1e-5) of its original in the attack's
norm and inside [0, 1]; randomized smoothing (sigma 0.25, n0 100, N 1000, alpha 0.001): certified accuracy at each
radius `mlsec certify` reports within 0.03 of ART's NumpyRandomizedSmoothing; CW L2 and HopSkipJump sanity.

`python interop/test_robustness_art.py` runs the ART side alone and prints its numbers (needs only `mlsec train` and
`mlsec bench export-digits`).
"""
import csv
import json
import os
import pathlib
import sys
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from art_numpy_model import MLSecNumpyClassifier, art_certify  # noqa: E402
from conftest import mlsec  # noqa: E402

from art.attacks.evasion import (  # noqa: E402
    CarliniL2Method, FastGradientMethod, HopSkipJump, ProjectedGradientDescentNumpy)

HEADER = [f"pixel{i}" for i in range(64)] + ["label"]
FGSM_CASES = [("inf", 0.05), ("inf", 0.1), ("2", 0.5)]
PGD_CASES = [("inf", 0.1, 40, 0.01), ("2", 0.5, 40, 0.05)]
SMALL = 30  # rows for CW and HopSkipJump
CW = {"binary_search_steps": 5, "max_iter": 10, "eps": 1.0}
HSJ = {"max_iter": 10, "max_eval": 1000, "init_eval": 100, "max_queries": 5000, "eps": 1.0}
SIGMA, N0, N, ALPHA = 0.25, 100, 1000, 0.001
KEYS = {"clean_accuracy", "adversarial_accuracy", "mean_perturbation_linf", "mean_perturbation_l2",
        "examples_per_second", "queries"}


def art_norm(norm):
    return np.inf if norm == "inf" else 2


def write_csv(path, x, y):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for row, label in zip(x, y):
            w.writerow([repr(float(v)) for v in row] + [int(label)])
    return path


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    li = header.index("label")
    x = np.array([[float(v) for i, v in enumerate(r) if i != li] for r in body])
    y = np.array([int(float(r[li])) for r in body])
    return header, x, y


def accuracy(clf, x, y):
    return float(np.mean(np.argmax(clf.predict(np.asarray(x, dtype=np.float32)), axis=1) == y))


def distances(x_adv, x):
    d = np.asarray(x_adv, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    return np.abs(d).max(axis=1), np.linalg.norm(d, axis=1)


# -- the ART side ------------------------------------------------------------------------------------------------
def art_fgsm(clf, x, y, norm, eps):
    attack = FastGradientMethod(clf, norm=art_norm(norm), eps=eps, eps_step=eps, batch_size=128)
    return attack.generate(x.astype(np.float32), y=y)


def art_pgd(clf, x, y, norm, eps, steps, step, random_start=False):
    attack = ProjectedGradientDescentNumpy(clf, norm=art_norm(norm), eps=eps, eps_step=step, max_iter=steps,
                                           num_random_init=1 if random_start else 0, batch_size=128, verbose=False)
    return attack.generate(x.astype(np.float32), y=y)


def art_cw(clf, x, y):
    attack = CarliniL2Method(clf, binary_search_steps=CW["binary_search_steps"], max_iter=CW["max_iter"],
                             batch_size=len(x), verbose=False)
    return attack.generate(x.astype(np.float32), y=y)


def art_hsj(clf, x):
    clf.queries = 0
    attack = HopSkipJump(clf, norm=2, max_iter=HSJ["max_iter"], max_eval=HSJ["max_eval"], init_eval=HSJ["init_eval"],
                         verbose=False)
    return attack.generate(x.astype(np.float32)), clf.queries


def budget_accuracy(clf, x_adv, x, y, eps):
    """Accuracy when an adversarial row only counts if it is within `eps` (L2) of its original (minimal-norm
    attacks: CW, HopSkipJump)."""
    pred = np.argmax(clf.predict(np.asarray(x_adv, dtype=np.float32)), axis=1)
    _, l2 = distances(x_adv, x)
    return float(np.mean((pred == y) | (l2 > eps + 1e-6)))


# -- fixtures ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """ART's NumPy attacks multiply tiny matrices (often one row: HopSkipJump): a second BLAS thread only spins, and
    next to another busy process it makes them 10-40x slower."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def train_model(out):
    mlsec("train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10",
          "--epochs", 100, "--seed", 0, "--out", out, check=0)
    return out


def export_test_split(path):
    digits = json.loads(mlsec("bench", "export-digits", "--split", "test", check=0).stdout)
    x, y = np.array(digits["x"], dtype=np.float64), np.array(digits["y"], dtype=int)
    return write_csv(path, x, y), x, y


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("robustness")


@pytest.fixture(scope="module")
def model_dir(workdir):
    return train_model(workdir / "mlp")


@pytest.fixture(scope="module")
def digits(workdir):
    return export_test_split(workdir / "test.csv")


@pytest.fixture(scope="module")
def small(workdir, digits):
    _, x, y = digits
    return write_csv(workdir / "small.csv", x[:SMALL], y[:SMALL]), x[:SMALL], y[:SMALL]


@pytest.fixture(scope="module")
def clf(model_dir):
    return MLSecNumpyClassifier(model_dir)


def mlsec_attack(model_dir, data, out, *args):
    proc = mlsec("attack", "--model", model_dir, "--data", data, "--label-column", "label", "--out", out, *args)
    assert proc.returncode == 0, f"mlsec attack {args} exited {proc.returncode}:\n{proc.stderr}"
    result = json.loads(proc.stdout)
    assert KEYS <= set(result), f"missing keys {KEYS - set(result)} in {result}"
    return result


def check_adversarial_csv(path, x, y, norm, eps):
    header, x_adv, y_adv = read_csv(path)
    assert header == HEADER
    assert x_adv.shape == x.shape and (y_adv == y).all()
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    linf, l2 = distances(x_adv, x)
    worst = (linf if norm == "inf" else l2).max()
    if eps is not None:
        assert worst <= eps + 1e-5, f"a row moved {worst} > eps {eps} in the {norm} norm"
    return x_adv, linf, l2


# -- the wrapper itself ------------------------------------------------------------------------------------------
def random_model(path, rng):
    """A small model through every layer type the wrapper supports (smooth, for finite differences)."""
    from safetensors.numpy import save_file
    path.mkdir()
    shapes = {"a.weight": (12, 64), "a.bias": (12,), "b.weight": (9, 12), "b.bias": (9,), "c.weight": (10, 9)}
    save_file({k: rng.standard_normal(s).astype(np.float32) * 0.7 for k, s in shapes.items()},
              str(path / "weights.safetensors"))
    layers = [{"type": "dense", "weight": "a.weight", "bias": "a.bias"}, {"type": "tanh"},
              {"type": "dense", "weight": "b.weight", "bias": "b.bias"}, {"type": "sigmoid"},
              {"type": "dense", "weight": "c.weight"}, {"type": "softmax"}]
    (path / "model.json").write_text(json.dumps({
        "format": "mlsec.model/1", "name": "smooth",
        "input": {"name": "input", "datatype": "FP32", "shape": [-1, 64], "min": 0, "max": 1},
        "output": {"name": "output", "datatype": "FP32", "shape": [-1, 10]}, "layers": layers}))
    return path


def finite_difference(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e.flat[i] = h
        g.flat[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


@pytest.mark.parametrize("which", ["digits-mlp", "smooth"])
def test_wrapper_gradients_match_finite_differences(tmp_path, which, request):
    rng = np.random.default_rng(3)
    if which == "smooth":
        c = MLSecNumpyClassifier(random_model(tmp_path / "smooth", rng))
        xs = rng.uniform(0.05, 0.95, (4, 64))
    else:
        c = request.getfixturevalue("clf")
        xs = request.getfixturevalue("digits")[1][:4] + rng.uniform(-0.02, 0.02, (4, 64))
    ys = np.array([3, 7, 0, 9])
    for x, y in zip(xs, ys):
        x = x[None, :].astype(np.float64)
        # loss_gradient: per-row loss (reduction none == mean for one row)
        fd = finite_difference(lambda v: float(c.compute_loss(v, [y])[0]), x)
        got = c.loss_gradient(x, np.array([y]))
        assert np.allclose(got, fd, rtol=1e-4, atol=1e-8 + 1e-5 * np.abs(fd).max()), np.abs(got - fd).max()
        # class_gradient for every class and for one label
        all_classes = c.class_gradient(x)
        assert all_classes.shape == (1, 10, 64)
        for k in (0, y):
            fd_k = finite_difference(lambda v: float(c._forward(v)[-1][0, k]), x)
            scale = 1e-8 + 1e-5 * np.abs(fd_k).max()
            assert np.allclose(all_classes[0, k], fd_k[0], rtol=1e-4, atol=scale)
            assert np.allclose(c.class_gradient(x, label=k)[0, 0], fd_k[0], rtol=1e-4, atol=scale)
    # a label per row
    per_row = c.class_gradient(xs, label=ys)
    assert per_row.shape == (4, 1, 64)
    assert np.allclose(per_row[:, 0], c.class_gradient(xs)[np.arange(4), ys])


def test_wrapper_matches_mlsec_predict(model_dir, digits, clf):
    data, x, _ = digits
    out = json.loads(mlsec("predict", "--model", model_dir, "--data", data, "--label-column", "label",
                           "--format", "json", check=0).stdout)["outputs"]
    assert np.max(np.abs(np.array(out) - clf.predict(x.astype(np.float32)))) < 1e-4


# -- parity ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("norm,eps", FGSM_CASES)
def test_fgsm_matches_art(model_dir, digits, clf, workdir, norm, eps):
    data, x, y = digits
    x_art = art_fgsm(clf, x, y, norm, eps)
    art_acc = accuracy(clf, x_art, y)
    out = workdir / f"fgsm-{norm}-{eps}.csv"
    got = mlsec_attack(model_dir, data, out, "--attack", "fgsm", "--norm", norm, "--eps", eps)
    x_adv, linf, l2 = check_adversarial_csv(out, x, y, norm, eps)
    print(f"FGSM {norm} eps {eps}: mlsec {got['adversarial_accuracy']:.4f}  ART {art_acc:.4f}  "
          f"(clean mlsec {got['clean_accuracy']:.4f} ART {accuracy(clf, x, y):.4f})")
    assert abs(got["clean_accuracy"] - accuracy(clf, x, y)) <= 1 / len(y) + 1e-9
    assert abs(got["adversarial_accuracy"] - art_acc) <= 0.01
    # the printed accuracy is the model's accuracy on the written rows
    assert abs(got["adversarial_accuracy"] - accuracy(clf, x_adv, y)) <= 1 / len(y) + 1e-9
    assert got["mean_perturbation_linf"] == pytest.approx(float(linf.mean()), abs=1e-4)
    assert got["mean_perturbation_l2"] == pytest.approx(float(l2.mean()), abs=1e-4)
    assert got["examples_per_second"] > 0


def test_bundled_digits_test_split_is_the_same_rows(model_dir, digits, workdir):
    data, x, y = digits
    args = ["--attack", "fgsm", "--norm", "inf", "--eps", 0.1]
    from_csv = mlsec_attack(model_dir, data, workdir / "a.csv", *args)
    bundled = mlsec_attack(model_dir, "digits-test", workdir / "b.csv", *args)
    for key in ("clean_accuracy", "adversarial_accuracy", "mean_perturbation_linf", "mean_perturbation_l2"):
        assert bundled[key] == pytest.approx(from_csv[key], abs=1e-6), key
    _, x_b, y_b = read_csv(workdir / "b.csv")
    assert (y_b == y).all() and np.abs(x_b - read_csv(workdir / "a.csv")[1]).max() < 1e-6


@pytest.mark.parametrize("norm,eps,steps,step", PGD_CASES)
def test_pgd_matches_art(model_dir, digits, clf, workdir, norm, eps, steps, step):
    data, x, y = digits
    x_art = art_pgd(clf, x, y, norm, eps, steps, step)
    art_acc = accuracy(clf, x_art, y)
    out = workdir / f"pgd-{norm}-{eps}.csv"
    got = mlsec_attack(model_dir, data, out, "--attack", "pgd", "--norm", norm, "--eps", eps, "--steps", steps,
                       "--step-size", step)
    x_adv, _, _ = check_adversarial_csv(out, x, y, norm, eps)
    print(f"PGD {norm} eps {eps} {steps}x{step}: mlsec {got['adversarial_accuracy']:.4f}  ART {art_acc:.4f}")
    assert abs(got["adversarial_accuracy"] - art_acc) <= 0.03
    assert abs(got["adversarial_accuracy"] - accuracy(clf, x_adv, y)) <= 1 / len(y) + 1e-9


@pytest.mark.parametrize("norm,eps", [("inf", 0.1), ("2", 0.5)])
def test_pgd_random_start_stays_in_budget(model_dir, digits, clf, workdir, norm, eps):
    data, x, y = digits
    step = eps / 10
    np.random.seed(1)
    art_acc = accuracy(clf, art_pgd(clf, x, y, norm, eps, 40, step, random_start=True), y)
    out = workdir / f"pgd-rs-{norm}.csv"
    got = mlsec_attack(model_dir, data, out, "--attack", "pgd", "--norm", norm, "--eps", eps, "--steps", 40,
                       "--step-size", step, "--random-start", "--seed", 7)
    check_adversarial_csv(out, x, y, norm, eps)
    print(f"PGD random start {norm} eps {eps}: mlsec {got['adversarial_accuracy']:.4f}  ART {art_acc:.4f}")
    assert abs(got["adversarial_accuracy"] - art_acc) <= 0.04
    again = mlsec_attack(model_dir, data, workdir / f"pgd-rs-{norm}-2.csv", "--attack", "pgd", "--norm", norm,
                         "--eps", eps, "--steps", 40, "--step-size", step, "--random-start", "--seed", 7)
    assert again["adversarial_accuracy"] == got["adversarial_accuracy"]  # seeded


def test_certify_matches_art(model_dir, digits, clf):
    data, x, y = digits
    proc = mlsec("certify", "--model", model_dir, "--data", data, "--label-column", "label", "--sigma", SIGMA,
                 "--samples", N, "--alpha", ALPHA, "--seed", 0)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    radii = {float(k): k for k in got["certified_accuracy"]}
    assert 0.0 in radii and len(radii) >= 2
    art_acc, art_abstain, _, _ = art_certify(clf, x, y, SIGMA, N0, N, ALPHA, list(radii), seed=0)
    print(f"certify sigma {SIGMA} N {N}: mlsec {got['certified_accuracy']} abstain {got['abstain_rate']:.4f}; "
          f"ART {art_acc} abstain {art_abstain:.4f}")
    for r, key in radii.items():
        assert abs(got["certified_accuracy"][key] - art_acc[r]) <= 0.03, (r, got["certified_accuracy"][key], art_acc[r])
    assert abs(got["abstain_rate"] - art_abstain) <= 0.03
    values = [got["certified_accuracy"][radii[r]] for r in sorted(radii)]
    assert values == sorted(values, reverse=True)


def test_cw_l2_sanity(model_dir, small, clf, workdir):
    data, x, y = small
    x_art = art_cw(clf, x, y)
    art_acc, art_budget = accuracy(clf, x_art, y), budget_accuracy(clf, x_art, x, y, CW["eps"])
    out = workdir / "cw.csv"
    got = mlsec_attack(model_dir, data, out, "--attack", "cw", "--norm", "2", "--eps", CW["eps"],
                       "--steps", CW["max_iter"] * 10)
    x_adv, _, _ = check_adversarial_csv(out, x, y, "2", None)
    print(f"CW L2: mlsec {got['adversarial_accuracy']:.4f} (mean L2 {got['mean_perturbation_l2']:.3f})  ART "
          f"{art_acc:.4f} unbounded, {art_budget:.4f} within eps {CW['eps']} (mean L2 "
          f"{distances(x_art, x)[1].mean():.3f})")
    assert got["adversarial_accuracy"] < got["clean_accuracy"]
    # an example counts as broken when the written row is misclassified within eps (printed to 6 places)
    assert abs(got["adversarial_accuracy"] - budget_accuracy(clf, x_adv, x, y, CW["eps"])) <= 1e-5


def test_hopskipjump_sanity(model_dir, small, clf, workdir):
    data, x, y = small
    np.random.seed(0)
    x_art, art_queries = art_hsj(clf, x)
    art_acc = accuracy(clf, x_art, y)
    out = workdir / "hsj.csv"
    got = mlsec_attack(model_dir, data, out, "--attack", "hopskipjump", "--norm", "2", "--eps", HSJ["eps"],
                       "--steps", HSJ["max_iter"], "--max-queries", HSJ["max_queries"], "--seed", 0)
    x_adv, _, _ = check_adversarial_csv(out, x, y, "2", None)
    print(f"HopSkipJump L2: mlsec {got['adversarial_accuracy']:.4f} ({got['queries']} queries, mean L2 "
          f"{got['mean_perturbation_l2']:.3f})  ART {art_acc:.4f} unbounded / "
          f"{budget_accuracy(clf, x_art, x, y, HSJ['eps']):.4f} within eps ({art_queries} queries, mean L2 "
          f"{distances(x_art, x)[1].mean():.3f})")
    assert got["adversarial_accuracy"] < got["clean_accuracy"]
    assert abs(got["adversarial_accuracy"] - budget_accuracy(clf, x_adv, x, y, HSJ["eps"])) <= 1e-5
    assert 0 < got["queries"] <= HSJ["max_queries"] * len(y)


# -- ART alone ---------------------------------------------------------------------------------------------------
def main():
    import tempfile
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1, user_api="blas"):
        tmp = pathlib.Path(tmp)
        model_dir = train_model(tmp / "mlp")
        _, x, y = export_test_split(tmp / "test.csv")
        clf = MLSecNumpyClassifier(model_dir)
        print(f"clean accuracy {accuracy(clf, x, y):.4f} on {len(y)} rows")
        for norm, eps in FGSM_CASES:
            t = time.perf_counter()
            xa = art_fgsm(clf, x, y, norm, eps)
            linf, l2 = distances(xa, x)
            print(f"FGSM {norm:>3} eps {eps}: accuracy {accuracy(clf, xa, y):.4f}  mean Linf {linf.mean():.4f} "
                  f"L2 {l2.mean():.4f}  {len(y) / (time.perf_counter() - t):,.0f} examples/s")
        for norm, eps, steps, step in PGD_CASES:
            t = time.perf_counter()
            xa = art_pgd(clf, x, y, norm, eps, steps, step)
            linf, l2 = distances(xa, x)
            print(f"PGD  {norm:>3} eps {eps} {steps}x{step}: accuracy {accuracy(clf, xa, y):.4f}  mean Linf "
                  f"{linf.mean():.4f} L2 {l2.mean():.4f}  {len(y) / (time.perf_counter() - t):,.0f} examples/s")
            np.random.seed(1)
            xa = art_pgd(clf, x, y, norm, eps, steps, eps / 10, random_start=True)
            print(f"PGD  {norm:>3} eps {eps} {steps}x{eps / 10} random start: accuracy {accuracy(clf, xa, y):.4f}")
        t = time.perf_counter()
        xa = art_cw(clf, x[:SMALL], y[:SMALL])
        print(f"CW L2 ({CW}) on {SMALL} rows: accuracy {accuracy(clf, xa, y[:SMALL]):.4f} unbounded, "
              f"{budget_accuracy(clf, xa, x[:SMALL], y[:SMALL], CW['eps']):.4f} within L2 {CW['eps']}; mean L2 "
              f"{distances(xa, x[:SMALL])[1].mean():.4f}  {SMALL / (time.perf_counter() - t):,.1f} examples/s")
        np.random.seed(0)
        t = time.perf_counter()
        xa, q = art_hsj(clf, x[:SMALL])
        print(f"HopSkipJump L2 ({HSJ}) on {SMALL} rows: accuracy {accuracy(clf, xa, y[:SMALL]):.4f} unbounded, "
              f"{budget_accuracy(clf, xa, x[:SMALL], y[:SMALL], HSJ['eps']):.4f} within L2 {HSJ['eps']}; mean L2 "
              f"{distances(xa, x[:SMALL])[1].mean():.4f}; {q} queries ({q / SMALL:.0f} per row)  "
              f"{SMALL / (time.perf_counter() - t):,.1f} examples/s")
        radii = [0.0, 0.25, 0.5, 0.75, 1.0]
        t = time.perf_counter()
        acc, abstain, _, _ = art_certify(clf, x, y, SIGMA, N0, N, ALPHA, radii, seed=0)
        print(f"certify sigma {SIGMA} n0 {N0} N {N} alpha {ALPHA}: certified accuracy "
              f"{ {r: round(a, 4) for r, a in acc.items()} } abstain {abstain:.4f}  "
              f"{len(y) / (time.perf_counter() - t):,.0f} examples/s")


if __name__ == "__main__":
    os.environ.setdefault("MLSEC_ROOT", str(pathlib.Path(__file__).resolve().parents[1]))
    main()
