"""`mlsec train --dp` (DP-SGD, issue 17): the summary's privacy keys, epsilon never above the target, the same
epsilon from `mlsec privacy epsilon` with the printed sigma, q, steps and delta, and from dp-accounting 0.6.0 where
its RDP is exact; training that stops before the target; usage errors.
"""
import json

import pytest
from dp_accounting import dp_event
from dp_accounting.rdp import rdp_privacy_accountant

from conftest import mlsec

BASE = ["train", "--data", "digits-train", "--label-column", "label", "--architecture", "mlp:64-128-10"]


def train_dp(tmp_path, *args, epochs=30, name="dp"):
    out = tmp_path / name
    proc = mlsec(*BASE, "--epochs", epochs, "--out", out, "--dp", *args, check=0)
    return out, json.loads(proc.stdout), proc


def privacy_epsilon(summary, steps=None):
    proc = mlsec("privacy", "epsilon", "--noise-multiplier", repr(summary["noise_multiplier"]),
                 "--sample-rate", repr(summary["sample_rate"]), "--steps", steps or summary["steps"],
                 "--delta", repr(summary["delta"]), check=0)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("target", [1.0, 3.0, 8.0])
def test_calibrated_run_spends_at_most_the_target(tmp_path, target):
    out, summary, _ = train_dp(tmp_path, "--target-epsilon", target, "--delta", "1e-5", "--clip-norm", "1.0",
                               "--sample-rate", "0.0435")
    for key in ("epsilon", "delta", "noise_multiplier", "steps"):
        assert key in summary, summary
    assert summary["steps"] == 30 * 23 and not summary["stopped_early"]
    assert summary["delta"] == 1e-5 and summary["clip_norm"] == 1.0 and summary["sample_rate"] == 0.0435
    assert summary["epsilon"] <= target and summary["epsilon"] > target * (1 - 1e-6)
    # Statistics of the private training data are not released.
    assert summary["final_loss"] is None and summary["training_accuracy"] is None
    # The accountant run separately, with the printed sigma, q, steps and delta, gives the same epsilon.
    separate = privacy_epsilon(summary)
    assert separate["epsilon"] == summary["epsilon"] and separate["order"] == summary["order"]
    # And dp-accounting's RDP accountant agrees (its series is exact at the integer orders; to 1e-6 otherwise,
    # never below ours: MLSec's exact fractional orders are never looser).
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_event.SelfComposedDpEvent(
        dp_event.PoissonSampledDpEvent(0.0435, dp_event.GaussianDpEvent(summary["noise_multiplier"])), summary["steps"]))
    theirs = accountant.get_epsilon(1e-5)
    assert summary["epsilon"] <= theirs * (1 + 1e-9) and abs(theirs - summary["epsilon"]) <= 1e-3 * target
    # The model is a usable model.
    accuracy = json.loads(mlsec("evaluate", "--model", out, "--data", "digits-test", "--label-column", "label",
                                check=0).stdout)["accuracy"]
    assert float(accuracy) > {1.0: 0.5, 3.0: 0.75, 8.0: 0.8}[target]


def test_given_noise_multiplier_stops_before_the_target(tmp_path):
    _, summary, proc = train_dp(tmp_path, "--target-epsilon", "2", "--delta", "1e-5", "--clip-norm", "1",
                                "--sample-rate", "0.05", "--noise-multiplier", "1.0", epochs=40)
    assert summary["noise_multiplier"] == 1.0 and summary["stopped_early"]
    assert 0 < summary["steps"] < summary["planned_steps"] == 800
    assert summary["epsilon"] <= 2
    assert privacy_epsilon(summary)["epsilon"] == summary["epsilon"]
    assert privacy_epsilon(summary, steps=summary["steps"] + 1)["epsilon"] > 2
    assert "stopped after" in proc.stderr


def test_larger_noise_multiplier_runs_every_step(tmp_path):
    _, summary, _ = train_dp(tmp_path, "--target-epsilon", "8", "--delta", "1e-5", "--clip-norm", "0.5",
                             "--sample-rate", "0.1", "--noise-multiplier", "3", "--learning-rate", "0.2",
                             "--momentum", "0.5", epochs=3)
    assert summary["steps"] == 30 and not summary["stopped_early"] and summary["epsilon"] < 8
    assert privacy_epsilon(summary)["epsilon"] == summary["epsilon"]


DP = ["--target-epsilon", "1", "--delta", "1e-5", "--clip-norm", "1", "--sample-rate", "0.05"]


@pytest.mark.parametrize("args,needle", [
    (["--dp"], "--dp requires --target-epsilon, --delta, --clip-norm, --sample-rate"),
    (["--dp", "--target-epsilon", "1", "--delta", "1e-5", "--clip-norm", "1"], "--dp requires --sample-rate"),
    (["--target-epsilon", "1"], "--target-epsilon applies only to --dp"),
    (["--noise-multiplier", "1"], "--noise-multiplier applies only to --dp"),
    (["--dp", *DP, "--batch-size", "64"], "--batch-size does not apply with --dp"),
    (["--dp", *DP[:1], "0", *DP[2:]], "--target-epsilon"),
    (["--dp", *DP[:3], "1", *DP[4:]], "--delta"),
    (["--dp", *DP[:5], "-1", *DP[6:]], "--clip-norm"),
    (["--dp", *DP[:7], "1.5"], "--sample-rate"),
    (["--dp", *DP, "--noise-multiplier", "0"], "--noise-multiplier"),
    (["--dp", *DP, "--momentum", "1"], "--momentum"),
])
def test_usage_errors_exit_2(tmp_path, args, needle):
    proc = mlsec(*BASE, "--epochs", 1, "--out", tmp_path / "m", *args, check=2)
    assert proc.stdout == "" and needle in proc.stderr, proc.stderr
    assert not (tmp_path / "m").exists()


def test_one_step_over_the_target_is_refused(tmp_path):
    proc = mlsec(*BASE, "--epochs", 1, "--out", tmp_path / "m", "--dp", "--target-epsilon", "0.01", "--delta", "1e-5",
                 "--clip-norm", "1", "--sample-rate", "0.5", "--noise-multiplier", "0.5", check=2)
    assert proc.stdout == "" and "already spends more than epsilon" in proc.stderr
    assert not (tmp_path / "m").exists()
