"""Bad values stop the workflow before any job, once, with a message that names the key
or file, the value found and what was expected; a dataset nobody uses blocks nothing."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from lolip.datasets import npz
from tests.helpers.workflow import copy_workflow, edit_config, snakemake

TARGET = "results/separation/mine.json"


@pytest.fixture()
def wf(tmp_path):
    return copy_workflow(tmp_path / "wf")


def _fails_before_any_job(wf, message, *targets):
    proc = snakemake(wf, "-n", *targets, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert message in out, out
    assert not (wf / "results").exists()
    return out


def _images(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 6, 6, 3), dtype=np.uint8)


def _mine(wf, name="mine.npz", layout=None, **arrays):
    """An npz dataset 'mine' (uint8 6x6x3, 3 classes) with ``arrays`` replaced."""
    base = {
        "x_train": _images(40),
        "y_train": np.arange(40) % 3,
        "x_test": _images(20, 1),
        "y_test": np.arange(20) % 3,
    }
    np.savez(wf / name, **{**base, **arrays})
    entry = {"source": "npz", "path": name, "eps": 0.05, **({"layout": layout} if layout else {})}
    edit_config(wf / "config/config.yaml", lambda c: c["datasets"].update(mine=entry))


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (
            {"x_train": np.full((40, 6, 6, 3), np.nan, np.float32)},
            "dataset 'mine': x_train holds NaN (at 4320 values)",
        ),
        (
            {"x_test": _images(20).astype(np.float32)},
            "dataset 'mine': x_test has values in [0.0, 255.0]; float images must lie in "
            "[0, 1] (pixels 0..255 stored as float?",
        ),
        (
            {"x_test": np.zeros((0, 6, 6, 3), np.uint8), "y_test": np.zeros(0, int)},
            "dataset 'mine': the test split is empty",
        ),
        ({"y_test": np.arange(20) % 4}, "dataset 'mine': test labels [3] never occur in the"),
        ({"y_train": np.zeros(40, int)}, "dataset 'mine': y_train holds one class ([0])"),
        (
            {"x_train": _images(40)[:, :3, :3, :3], "x_test": _images(20)[:, :3, :3, :3]},
            "x_train has shape (40, 3, 3, 3), which reads as both NHWC and NCHW: say which "
            "with 'layout: nhwc' or 'layout: nchw'",
        ),
    ],
)
def test_bad_npz_content_stops_before_any_job(wf, arrays, message):
    _mine(wf, **arrays)
    _fails_before_any_job(wf, message, TARGET)


def test_an_ambiguous_layout_is_read_as_the_entry_says(wf):
    _mine(wf, layout="nhwc", x_train=_images(40)[:, :3, :3, :3], x_test=_images(20)[:, :3, :3])
    assert snakemake(wf, "-n", TARGET).returncode == 0


def test_a_text_file_is_not_taken_for_an_npz(wf):
    _mine(wf)
    (wf / "mine.npz").write_text("x_train,y_train\n1,2\n")
    _fails_before_any_job(wf, "'mine.npz' is not an .npz file (not a zip archive)", TARGET)


def test_an_npz_is_read_once_however_often_the_workflow_loads(tmp_path, monkeypatch):
    path = tmp_path / "mine.npz"
    np.savez(
        path, x_train=_images(4), y_train=np.arange(4) % 2, x_test=_images(2), y_test=np.arange(2)
    )
    spec = {"source": "npz", "path": str(path), "eps": 0.1}
    assert npz.check("mine", spec, tmp_path / "cache") == {"train": 4, "test": 2}

    def reads(*args):
        raise AssertionError("the npz was read again")

    monkeypatch.setattr(npz, "_validated", reads)
    assert npz.check("mine", spec, tmp_path / "cache") == {"train": 4, "test": 2}
    np.savez(
        path, x_train=_images(6), y_train=np.arange(6) % 2, x_test=_images(2), y_test=np.arange(2)
    )
    with pytest.raises(AssertionError, match="read again"):  # new content: checked again
        npz.check("mine", spec, tmp_path / "cache")


def test_a_dataset_no_target_uses_blocks_nothing(wf):
    edit_config(
        wf / "config/config.yaml",
        lambda c: c["datasets"].update(mine={"source": "npz", "path": "nope.npz", "eps": 0.1}),
    )
    assert snakemake(wf, "-n").returncode == 0
    _fails_before_any_job(wf, "npz file 'nope.npz' does not exist", TARGET)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["evaluation"].update(batchsize=500),
            "config error: evaluation: unknown key 'batchsize' (known: batch_size,",
        ),
        (
            lambda c: c["datasets"]["digits"].update(test_fracton=0.3),
            "config error: datasets.digits: unknown key 'test_fracton'",
        ),
        (
            lambda c: c["datasets"]["digits"]["training"].update(lr="1e-3"),
            "datasets.digits.training.lr: got '1e-3' (a string: YAML 1.1 reads 1e-3 as text; "
            "write 1.0e-3 or 0.001 for a number); expected a number > 0",
        ),
        (
            lambda c: c["evaluation"].update(subsets={"test": 5000}),
            "evaluation.subsets.test = 5000, but dataset 'digits' has only 450 test points",
        ),
        (
            lambda c: c["datasets"]["digits"]["training"].update(train_subset=2000),
            "training.train_subset = 2000, but dataset 'digits' has only 1347 train points",
        ),
        (
            lambda c: c["experiments"][0].update(method_overrides={"trades9": {"beta": 9.0}}),
            "method_overrides names method(s) 'trades9' that the group does not run",
        ),
        (
            lambda c: c["experiments"][0].update(training_by_method={"rst4": {"lr": 0.1}}),
            "training_by_method names method(s) 'rst4' that the group does not run",
        ),
        (lambda c: c.update(reported="nowhere.yaml"), "reported: 'nowhere.yaml' does not exist"),
    ],
)
def test_bad_config_values_stop_before_any_job(wf, edit, message):
    edit_config(wf / "config/config.yaml", edit)
    _fails_before_any_job(wf, message)


def test_a_data_error_inside_a_job_fails_once_naming_the_file(wf, mnist_raw_dir):
    """A corrupt file that only the job can see through fails it once: a retry cannot cure it."""
    mnist = wf / "mnist"
    shutil.copytree(mnist_raw_dir, mnist)
    labels = mnist / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])  # truncated: exists, so loads fine
    edit_config(
        wf / "config/config.yaml",
        lambda c: c["datasets"].update(mnist={"source": "mnist", "eps": 0.1, "dir": "mnist"}),
    )
    proc = snakemake(wf, "--cores", "1", "results/datasets/mnist.h5", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "not retrying" in out and "t10k-labels-idx1-ubyte.gz" in out
    assert "Trying to restart" not in out
    assert not (wf / "results/datasets/mnist.h5").exists()


def test_report_after_a_partial_run(wf):
    snakemake(wf, "--cores", "2", "results/separation/digits.json")
    snakemake(wf, "--report", "report.html")
    assert "digits" in (wf / "report.html").read_text(errors="replace")
