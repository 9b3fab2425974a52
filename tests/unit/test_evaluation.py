"""The evaluation: metrics and per-example table, settings, checks that fail loudly, and
results that depend on no batching, chunking or sharding."""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lolip.evaluation.gather
from lolip.attacks import AttackResult
from lolip.attacks.pgd import PGD
from lolip.datasets.prepared import Split
from lolip.evaluation.checks import sample_checks
from lolip.evaluation.gather import gather
from lolip.evaluation.parts import attack_part, lipschitz_part
from lolip.evaluation.robustness import evaluate_robustness, select
from lolip.evaluation.settings import EvaluationSettings
from lolip.evaluation.verdict import EvaluationError
from tests.helpers.small import Quantised, Wrapper, digits_tensors

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def digits_xy():
    x, y = digits_tensors()
    return x[:1200], y[:1200], x[1200:], y[1200:]


@pytest.fixture(scope="module")
def model(digits_mlp) -> nn.Module:
    """A small MLP with dropout trained on the first 1200 digits (conftest's ``digits_mlp``)."""
    return digits_mlp


SMALL = {"batch_size": 128, "subsets": {"train": 200, "test": 200}, "checks": {"size": 100}}
EXTRA_ATTACKS = {
    "multitarget": {"type": "multitarget"},
    "pgd_strong": {"type": "pgd", "steps": 20, "step_size": 0.1, "restarts": 2},
}


def run(model, digits_xy, settings=None, eps=0.1):
    x_train, y_train, x, y = digits_xy
    return evaluate_robustness(
        model, x, y, eps, x_train=x_train, y_train=y_train, settings=settings or SMALL
    )


@pytest.fixture(scope="module")
def result(model, digits_xy):
    return run(model, digits_xy, {**SMALL, "attacks": EXTRA_ATTACKS})


def test_evaluation_returns_every_metric_key(result):
    metrics, _ = result
    expected = {"eps", "gap", "adv_gap", "multitarget_target_success", "settings", "checks"}
    expected |= {"seconds", "attacks"}
    for split in ("train", "test"):
        expected |= {f"n_{split}", f"{split}_acc", f"adv_{split}_acc", f"{split}_lipschitz"}
        expected |= {f"adv_{split}_acc_multitarget", f"adv_{split}_acc_pgd_strong"}
    assert set(metrics) == expected
    checks = metrics["checks"]
    assert checks["all_passed"] is True and checks["masking_suspected"] is False
    assert set(checks) == {
        "batch_size_invariance",
        "input_gradient_nonzero",
        "eps_zero",
        "more_steps",
        "square_vs_pgd",
        "large_eps",
        "in_ball",
        "adv_not_above_clean",
        "all_passed",
        "masking_suspected",
        "alarms",
    }
    assert metrics["settings"]["attacks"]["pgd"] == {"type": "pgd"}
    assert metrics["attacks"]["pgd"]["spec"] == {
        "type": "pgd",
        "norm": "linf",
        "steps": 10,
        "step_size": 0.2,
        "restarts": 1,
    }


def test_metrics_agree_with_the_per_example_table(result):
    metrics, frame = result
    assert len(frame) == metrics["n_train"] + metrics["n_test"] == 400
    for split in ("train", "test"):
        rows = frame[frame["split"] == split]
        assert list(rows["index"]) == list(range(200))
        assert metrics[f"{split}_acc"] == pytest.approx(100 * rows["clean_correct"].mean())
        robust = rows["clean_correct"] & ~rows["broken_pgd"]
        assert metrics[f"adv_{split}_acc"] == pytest.approx(100 * robust.mean())
        strong = rows["clean_correct"] & ~rows["broken_pgd_strong"]
        assert metrics[f"adv_{split}_acc_pgd_strong"] == pytest.approx(100 * strong.mean())
        assert metrics[f"{split}_lipschitz"] == pytest.approx(rows["lipschitz"].mean())
        counts = metrics["multitarget_target_success"][split]["success"]
        assert counts == [int(rows[f"multitarget_target_{t}"].sum()) for t in range(10)]
        assert (rows["clean_pred"] == rows["label"]).equals(rows["clean_correct"])
    assert metrics["gap"] == pytest.approx(metrics["train_acc"] - metrics["test_acc"])
    assert metrics["adv_gap"] == pytest.approx(metrics["adv_train_acc"] - metrics["adv_test_acc"])
    # A natural model at eps 0.1: the attack must matter, and robust <= clean.
    assert metrics["adv_test_acc"] < metrics["test_acc"] - 20
    assert (frame["lipschitz"] > 0).all()


def test_per_example_columns_are_documented(result):
    _, frame = result
    fixed = ["split", "index", "label", "clean_pred", "clean_correct"]
    attacks = ["broken_pgd", "broken_multitarget"]
    targets = [f"multitarget_target_{t}" for t in range(10)]
    assert list(frame.columns) == fixed + attacks + targets + ["broken_pgd_strong", "lipschitz"]
    doc = lolip.evaluation.gather.__doc__
    for column in ("split", "index", "label", "clean_pred", "clean_correct", "lipschitz"):
        assert column in doc
    assert "broken_{name}" in doc and "{name}_target_{t}" in doc


def test_an_attack_on_the_test_split_only_has_no_train_column(model, digits_xy):
    settings = {**SMALL, "attacks": {"pgd_test": {"type": "pgd", "splits": ["test"]}}}
    metrics, frame = run(model, digits_xy, settings)
    assert "adv_test_acc_pgd_test" in metrics and "adv_train_acc_pgd_test" not in metrics
    assert frame.loc[frame["split"] == "train", "broken_pgd_test"].isna().all()
    assert metrics["attacks"]["pgd_test"]["splits"] == ["test"]


def test_evaluation_is_deterministic_and_restores_the_model(model, digits_xy, result):
    model.train()
    try:
        metrics, frame = run(model, digits_xy, {**SMALL, "attacks": EXTRA_ATTACKS})
        assert model.training
    finally:
        model.eval()
    pd.testing.assert_frame_equal(frame, result[1])
    assert {k: v for k, v in metrics.items() if k != "seconds"} == {
        k: v for k, v in result[0].items() if k != "seconds"
    }


def test_results_do_not_depend_on_batch_or_chunk_size(model, digits_xy, result):
    """Every random draw is per example: other batches and chunks give the same table."""
    other = {**SMALL, "batch_size": 37, "chunk_size": 53, "attacks": EXTRA_ATTACKS}
    metrics, frame = run(model, digits_xy, other)
    for column in frame.columns:
        if column != "lipschitz":
            assert frame[column].equals(result[1][column]), column
    # Only the rounding of batched kernels may differ (none here, on this CPU).
    pd.testing.assert_series_equal(frame["lipschitz"], result[1]["lipschitz"], rtol=1e-6)
    assert metrics["adv_test_acc_multitarget"] == result[0]["adv_test_acc_multitarget"]


def test_three_shards_gather_to_the_unsharded_result(model, digits_xy):
    x_train, y_train, x, y = digits_xy
    data = select(
        {"train": Split(x_train, y_train, 1.0), "test": Split(x, y, 1.0)},
        EvaluationSettings.from_dict(SMALL).subsets,
    )
    settings = EvaluationSettings.from_dict({**SMALL, "chunk_size": 60, "attacks": EXTRA_ATTACKS})
    checks = sample_checks(model, data, 0.1, settings)

    def evaluation(shards):
        lip = [
            lipschitz_part(model, data, 0.1, settings, shard=i, shards=shards)
            for i in range(shards)
        ]
        attacks = {
            name: [
                attack_part(model, data, 0.1, settings, name=name, shard=i, shards=shards)
                for i in range(shards)
            ]
            for name in settings.attacks
        }
        merged = {
            n: (pd.concat([f for f, _ in p], ignore_index=True), [r for _, r in p])
            for n, p in attacks.items()
        }
        lip_merged = (pd.concat([f for f, _ in lip], ignore_index=True), [r for _, r in lip])
        return gather(0.1, settings, copy.deepcopy(checks), lip_merged, merged)

    one, three = evaluation(1), evaluation(3)
    pd.testing.assert_frame_equal(one[1], three[1], check_exact=True)
    strip = ("seconds", "attacks")
    assert {k: v for k, v in one[0].items() if k not in strip} == {
        k: v for k, v in three[0].items() if k not in strip
    }


def test_finished_chunks_are_reused_and_stale_ones_redone(model, digits_xy, tmp_path):
    x_train, y_train, x, y = digits_xy
    data = {"test": Split(x[:120], y[:120], 1.0)}
    settings = EvaluationSettings.from_dict({"chunk_size": 50})
    resume = {"name": "pgd", "scratch": tmp_path, "fingerprint": "a"}
    full, _ = attack_part(model, data, 0.1, settings, **resume)
    chunks = sorted(tmp_path.iterdir())
    assert [p.name for p in chunks] == [
        "test-000000000-000000050.json",
        "test-000000050-000000100.json",
        "test-000000100-000000120.json",
    ]
    chunks[1].unlink()
    before = chunks[0].read_bytes()
    again, _ = attack_part(
        model, data, 0.1, settings, name="pgd", scratch=tmp_path, fingerprint="a"
    )
    pd.testing.assert_frame_equal(full, again, check_exact=True)
    assert chunks[0].read_bytes() == before and chunks[1].exists()
    # Chunks of other work (another model, settings or code) are not reused.
    stronger = EvaluationSettings.from_dict({"chunk_size": 50, "attacks": {"pgd": {"steps": 40}}})
    other, _ = attack_part(
        model, data, 0.1, stronger, name="pgd", scratch=tmp_path, fingerprint="b"
    )
    assert other["broken"].sum() >= full["broken"].sum()
    assert '"fingerprint": "b"' in chunks[0].read_text()


class AlwaysDropout(Wrapper):
    """Dropout that ignores eval(): the original code's kind of evaluation bug."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(F.dropout(x, 0.3, training=True))


@pytest.mark.parametrize(
    ("wrapper", "check"),
    [(AlwaysDropout, "batch_size_invariance"), (Quantised, "input_gradient_nonzero")],
)
def test_checks_fail_loudly_on_a_broken_model(model, digits_xy, wrapper, check):
    with pytest.raises(EvaluationError, match=check) as failure:
        run(wrapper(model), digits_xy)
    assert failure.value.checks["all_passed"] is False


def _leaves_ball(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return AttackResult((result.x_adv + 2 * eps).clamp(0, 1), result.broken)


def _never_breaks(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if eps == 0 else AttackResult(result.x_adv, torch.zeros_like(result.broken))


def _weaker_with_more_steps(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if steps <= 10 else AttackResult(result.x_adv, torch.zeros_like(result.broken))


def _breaks_at_eps_zero(result: AttackResult, eps: float, steps: int) -> AttackResult:
    return result if eps > 0 else AttackResult(result.x_adv, torch.ones_like(result.broken))


@pytest.mark.parametrize(
    ("sabotage", "check"),
    [
        (_leaves_ball, "in_ball"),
        (_never_breaks, "adv_not_above_clean"),
        (_weaker_with_more_steps, "more_steps"),
        (_breaks_at_eps_zero, "eps_zero"),
    ],
)
def test_checks_fail_loudly_on_a_broken_attack(model, digits_xy, monkeypatch, sabotage, check):
    original = PGD.__call__

    def sabotaged(self, model, x, y, eps, noise=None):
        if self.steps == 20 and self.step_size == 0.1:  # the large-radius alarm's PGD
            return original(self, model, x, y, eps, noise)
        return sabotage(original(self, model, x, y, eps, noise), eps, self.steps)

    monkeypatch.setattr(PGD, "__call__", sabotaged)
    with pytest.raises(EvaluationError, match=f"{check} on (train|test)") as failure:
        run(model, digits_xy)
    failed = [
        name
        for name, per_split in failure.value.checks.items()
        if isinstance(per_split, dict) and "'passed': False" in repr(per_split)
    ]
    assert check in failed


def test_settings_fill_the_paper_protocol():
    settings = EvaluationSettings.from_dict(None).to_dict()
    assert settings["attacks"] == {"pgd": {"type": "pgd"}}
    assert settings["lipschitz"] == {
        "steps": 10,
        "step_size": 0.003,
        "restarts": 1,
        "init_std": 0.001,
    }
    assert settings["checks"]["size"] == 200 and settings["checks"]["strict"] is False
    assert (settings["batch_size"], settings["shards"], settings["tf32"]) == (500, 1, False)


def test_settings_merge_partial_entries():
    settings = EvaluationSettings.from_dict(
        {"attacks": {"pgd": {"steps": 20}, "mt": {"type": "multitarget"}}, "subsets": {"test": 5}}
    )
    assert settings.attacks["pgd"] == {"type": "pgd", "steps": 20}
    assert settings.attacks["mt"] == {"type": "multitarget"}
    assert (settings.subsets.train, settings.subsets.test) == (None, 5)
    assert settings.splits_of("mt") == ("train", "test")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batchsize": 5}, "evaluation: unknown key 'batchsize'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"seed": "a"}, "seed must be an integer >= 0, got 'a'"),
        ({"subsets": {"test": -1}}, "subsets: test must be an integer >= 1 or null, got -1"),
        ({"subsets": [1]}, "subsets must be a mapping"),
        ({"attacks": {"pgd": {"type": "multitarget"}}}, "attacks.pgd must have type 'pgd'"),
        ({"attacks": {"pgd-2": {"type": "pgd"}}}, "bad attack name 'pgd-2'"),
        ({"attacks": {"strong": {"steps": 5}}}, "attacks.strong needs a type"),
        ({"attacks": {"aa": {"type": "autoattack", "splits": ["valid"]}}}, "splits must be"),
        ({"lipschitz": {"stepz": 1}}, "evaluation.lipschitz: unknown key 'stepz'"),
        ({"lipschitz": {"restarts": 0}}, "restarts must be an integer >= 1"),
        ({"checks": {"strict": "yes"}}, "strict must be a boolean"),
    ],
)
def test_settings_reject_bad_values_naming_them(settings, message):
    with pytest.raises(ValueError, match=message):
        EvaluationSettings.from_dict(copy.deepcopy(settings))


def test_subsets_must_fit_the_splits(model, digits_xy):
    x, y = digits_xy[2], digits_xy[3]
    with pytest.raises(ValueError, match="subsets.train = 10, but there is no split 'train'"):
        evaluate_robustness(model, x, y, 0.1, settings={"subsets": {"train": 10}})
    with pytest.raises(ValueError, match="subsets.test = 5000, but split 'test' has only 597"):
        evaluate_robustness(model, x, y, 0.1, settings={"subsets": {"test": 5000}})
