"""Shared test fixtures: paths to real data here and small datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from tests.helpers.workflow import ROOT


def mnist_dir() -> Path:
    """Real MNIST raw files: $LOLIP_MNIST_DIR, else ../shared/data/mnist beside the repo."""
    return Path(os.environ.get("LOLIP_MNIST_DIR", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_raw_dir() -> Path:
    path = mnist_dir()
    if not (path / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST raw files not found at {path} (set LOLIP_MNIST_DIR)")
    return path


@pytest.fixture(scope="session")
def digits_data():
    """sklearn's digits as uint8 NCHW images (0..16) and labels (tests/helpers/brute_force.py)."""
    from tests.helpers.brute_force import digits_images

    return digits_images()


@pytest.fixture(scope="session")
def mnist_subset(mnist_raw_dir):
    """1500 training and 200 test images of real MNIST, uint8 NCHW."""
    from tests.helpers.brute_force import mnist_sample

    return mnist_sample(mnist_raw_dir)


@pytest.fixture(scope="session")
def digits():
    from lolip import datasets

    return datasets.load("digits", {"source": "digits", "eps": 0.1}, "unused")


@pytest.fixture(scope="session")
def digits_mlp() -> torch.nn.Module:
    """A small MLP with dropout, trained naturally for a few seconds on the first 1200 of
    sklearn's digits, in eval mode. Shared: tests that change its mode must restore it."""
    from tests.helpers.small import digits_tensors, train_mlp

    x, y = digits_tensors()
    return train_mlp(x[:1200], y[:1200], dropout=0.5, epochs=10)


@pytest.fixture(scope="module")
def one_thread():
    """Tiny tensors gain nothing from intra-op threads, and on a shared, busy CPU the
    threads' spinning slows these tests by an order of magnitude."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """The small default grid (tests/helpers/grid.py) run through its tables and figures, the
    sweep included. Shared: a test that changes it must put it back."""
    from tests.helpers.grid import small_grid
    from tests.helpers.workflow import snakemake

    wf = small_grid(tmp_path_factory.mktemp("report") / "wf")
    snakemake(wf, "--cores", "2", "tables", "figures")
    return wf


@pytest.fixture(scope="session")
def finished_report(finished_run):
    """The Snakemake report of :func:`finished_run`, written once."""
    from tests.helpers.workflow import snakemake

    snakemake(finished_run, "tables", "figures", "--report", "report.html")
    return finished_run / "report.html"
