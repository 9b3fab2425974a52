"""Peak memory of the data path on Restricted-ImageNet-sized data: ours against the previous one.

A synthetic prepared file in the layout Restricted ImageNet's preparation writes (uint8
images 3 x 72 x 72 in gzip chunks of 64, labels, source paths, ``input_size`` 64): a
training split of 257,748 images (4.0 GB as uint8) and a test split of 10,150. The images
are blocky random patterns (8 x 8 pixel blocks), cheap to make and to compress; what they
show does not matter here, only their size. The file is written block by block, so this
process stays small.

Each case runs in its own subprocess, which reports its peak resident memory
(``getrusage(RUSAGE_SELF).ru_maxrss``, the kernel's high-water mark of the RSS) and its RSS
after the imports (the interpreter, torch, h5py: no data yet):

- ``train``: :func:`lolip.datasets.read_prepared`, then a slice of an epoch through
  :func:`lolip.training.loop.train`: ``--batches`` batches of the paper's 128 (``train_subset``),
  AT at eps 0.005 (10 PGD steps per batch), random crop 64 after padding 8 as the paper
  trains Restricted ImageNet, Adam, summed loss;
- ``evaluate``: the same read, then :func:`lolip.evaluation.parts.lipschitz_part` and
  :func:`~lolip.evaluation.parts.attack_part` with PGD (the default evaluation settings:
  chunks of 1,000, batches of 500) on the first and the last shard of a sharding that
  gives each shard ``--chunks`` chunks: chunks of the training split and of the test split.

The model is a small strided CNN (conv 3 -> 16, 8 x 8 stride 8; linear 1024 -> 9), not
ResNet50: its weights and activations take a few MB, so the peak is the data path's, and a
batch costs milliseconds on a CPU. (ResNet50's activations at batch 128 are GBs, the same
for both data paths: they belong to the model, not to how the data is held.)

Each case runs twice: ``ours`` keeps each split as stored (uint8, a 64 x 64 centre-crop view
for evaluation) and converts one batch at a time (:class:`lolip.datasets.prepared.Split`);
``previous`` converts each split to one float32 tensor first, as the previous
``Dataset.tensors`` did (``torch.from_numpy(np.ascontiguousarray(x)).float().div_(255)``,
the crop made contiguous first), then runs the same loop on it. Ratios are the peak over the
uint8 size of the training split (the test split and everything else count as overhead).

A third run, ``ours+mmap``, is ours with glibc's ``MALLOC_MMAP_THRESHOLD_`` fixed at 1 MiB.
By default glibc raises that threshold to the size of the largest block freed (up to
32 MiB), so after the first batch the batch-sized tensors (24.6 MB for 500 images of
3 x 64 x 64) come from the heap, and freed heap memory stays resident: the row shows how much
of the peak is that retention rather than live tensors.

The previous path needs about 5x the data (20 GB at full size): ``--reference-fraction``
runs it on a proportionally smaller file when that would not fit beside other jobs.

    python benchmarks/data_memory.py [--fraction 1] [--reference-fraction 0.5] [--dir DIR]
        [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

TRAIN, TEST, STORED, CROP, CHANNELS = 257_748, 10_150, 72, 64, 3
BLOCK = 8  # pixels per side of the synthetic images' constant blocks
EPS = 0.005
GB = 1e9
# Each data path's run: whether it is ours, and its extra environment.
PATHS = {
    "ours": (True, {}),
    "ours+mmap": (True, {"MALLOC_MMAP_THRESHOLD_": str(2**20)}),
    "previous": (False, {}),
}


def rss_now() -> int:
    """Resident set size of this process now, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def peak_rss() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_synthetic(path: Path, n_train: int, n_test: int) -> None:
    """A prepared file in Restricted ImageNet's layout, written 4,096 images at a time."""
    from lolip.datasets.prepared import write_attrs
    from lolip.datasets.resimagenet import CLASSES

    rng = np.random.default_rng(0)
    side = STORED // BLOCK
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        for split, n in (("train", n_train), ("test", n_test)):
            x = f.create_dataset(
                f"x_{split}",
                shape=(n, CHANNELS, STORED, STORED),
                dtype=np.uint8,
                chunks=(min(n, 64), CHANNELS, STORED, STORED),
                compression="gzip",
            )
            for start in range(0, n, 4096):
                m = min(4096, n - start)
                small = rng.integers(0, 256, (m, CHANNELS, side, side), dtype=np.uint8)
                x[start : start + m] = small.repeat(BLOCK, axis=2).repeat(BLOCK, axis=3)
            labels = rng.integers(0, len(CLASSES), n)
            f.create_dataset(f"y_{split}", data=labels.astype(np.int64))
            paths = [f"n{labels[i]:08d}/n{labels[i]:08d}_{i}.JPEG" for i in range(n)]
            f.create_dataset(f"path_{split}", data=paths, dtype=h5py.string_dtype())
        write_attrs(
            f,
            name="resimagenet",
            source="synthetic",
            pixel_max=255.0,
            classes=CLASSES,
            provenance={"benchmark": "data_memory", "seed": 0},
            input_size=CROP,
        )
    os.replace(tmp, path)


def small_model():
    import torch
    from torch import nn

    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(CHANNELS, 16, 8, stride=8),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(16 * (CROP // 8) ** 2, 9),
    )


def previous_split(ds, split: str, crop: bool):
    """The split as the previous ``Dataset.tensors`` returned it: all of it as float32."""
    import torch

    from lolip.datasets.prepared import Split, center_crop

    x, y = ds.arrays(split)
    if crop:
        x = center_crop(x, ds.input_size)
    xt = torch.from_numpy(np.ascontiguousarray(x)).float().div_(ds.pixel_max)
    return Split(xt, torch.from_numpy(np.asarray(y, dtype=np.int64)), 1.0)


def run_case(case: str, path: str, path_kind: str, batches: int, chunks: int, threads: int) -> dict:
    """One case in this process; returns its measurements."""
    import torch

    torch.set_num_threads(threads)
    from lolip.datasets import read_prepared
    from lolip.evaluation.chunks import plan
    from lolip.evaluation.parts import attack_part, lipschitz_part
    from lolip.evaluation.settings import EvaluationSettings
    from lolip.methods import build_method
    from lolip.training.loop import train
    from lolip.training.settings import TrainSettings

    model = small_model()
    if case == "train":
        # Building an optimiser imports torch._dynamo (~0.2 GB): a cost of every training
        # process, not of its data, so it is in the baseline.
        torch.optim.Adam(model.parameters())
    baseline = rss_now()
    tic = time.perf_counter()
    ds = read_prepared(path)
    read_seconds = time.perf_counter() - tic
    after_read = peak_rss()
    tic = time.perf_counter()
    if case == "train":
        split = (
            ds.split("train", crop=False)
            if PATHS[path_kind][0]
            else previous_split(ds, "train", crop=False)
        )
        settings = TrainSettings.from_dict(
            {
                "epochs": 1,
                "batch_size": 128,
                "lr": 0.01,
                "optimizer": "adam",
                "reduction": "sum",
                "augment": {"crop": CROP, "padding": 8},
                "train_subset": batches * 128,
            }
        )
        train(model, build_method({"loss": "at"}), split, EPS, settings, seed=0)
        work = f"{batches} batches of 128"
    else:
        data = {
            s: ds.split(s) if PATHS[path_kind][0] else previous_split(ds, s, crop=True)
            for s in ("train", "test")
        }
        settings = EvaluationSettings()
        sizes = {s: len(v) for s, v in data.items()}
        shards = max(1, len(plan(sizes, settings.chunk_size)) // chunks)
        done = 0
        for shard in sorted({0, shards - 1}):
            frame, _ = lipschitz_part(model, data, EPS, settings, shard=shard, shards=shards)
            attack_part(model, data, EPS, settings, name="pgd", shard=shard, shards=shards)
            done += len(frame)
        work = f"{done} images (shards 0 and {shards - 1} of {shards})"
    model_seconds = time.perf_counter() - tic
    return {
        "case": case,
        "path": path_kind,
        "train_images": len(ds.y_train),
        "train_uint8_bytes": int(ds.x_train.nbytes),
        "data_uint8_bytes": int(ds.x_train.nbytes + ds.x_test.nbytes),
        "baseline_rss": baseline,
        "peak_after_read": after_read,
        "peak": peak_rss(),
        "read_seconds": read_seconds,
        "work_seconds": model_seconds,
        "work": work,
        "threads": torch.get_num_threads(),
    }


def subprocess_case(case: str, path: Path, path_kind: str, args) -> dict:
    command = [
        sys.executable,
        __file__,
        "--run-case",
        case,
        "--file",
        str(path),
        "--path-kind",
        path_kind,
        "--batches",
        str(args.batches),
        "--chunks",
        str(args.chunks),
        "--threads",
        str(args.threads),
    ]
    env = {**os.environ, **PATHS[path_kind][1]}
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def synthetic_file(directory: Path, fraction: float) -> Path:
    n_train, n_test = max(1, round(TRAIN * fraction)), max(1, round(TEST * fraction))
    path = directory / f"synthetic-resimagenet-{n_train}-{n_test}.h5"
    if not path.exists():
        tic = time.perf_counter()
        write_synthetic(path, n_train, n_test)
        print(
            f"wrote {path.name}: {n_train:,} + {n_test:,} images, "
            f"{path.stat().st_size / GB:.2f} GB on disk, in {time.perf_counter() - tic:.0f} s",
            flush=True,
        )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=1.0, help="of the full-size splits")
    parser.add_argument(
        "--reference-fraction",
        type=float,
        default=None,
        help="size of the previous path's run (default: --fraction; it needs ~5x the data)",
    )
    parser.add_argument("--batches", type=int, default=10, help="training batches of 128")
    parser.add_argument("--chunks", type=int, default=2, help="evaluation chunks per shard")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (nothing is timed here; one thread spins least on a shared CPU)",
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="for the files (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the files in --dir for reruns")
    parser.add_argument("--run-case", choices=["train", "evaluate"], help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    parser.add_argument("--path-kind", choices=list(PATHS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_case:
        result = run_case(
            args.run_case, args.file, args.path_kind, args.batches, args.chunks, args.threads
        )
        print(json.dumps(result))
        return

    reference_fraction = args.reference_fraction or args.fraction
    with tempfile.TemporaryDirectory(dir=args.dir) as scratch:
        directory = args.dir if args.keep and args.dir else Path(scratch)
        ours_file = synthetic_file(directory, args.fraction)
        reference_file = synthetic_file(directory, reference_fraction)
        rows = [
            subprocess_case(case, file, kind, args)
            for case in ("train", "evaluate")
            for kind in PATHS
            for file in [reference_file if kind == "previous" else ours_file]
        ]
    print(
        "\npeak RSS per case, each in its own process; ratios to the uint8 size of the "
        "training split: the peak, and the peak less the baseline (RSS after the imports, "
        "before the data is read: the interpreter and torch's libraries)"
    )
    print(
        f"{'case':<9} {'data path':<10} {'train images':>12} {'train uint8':>11} "
        f"{'baseline':>9} {'after read':>10} {'peak':>8} {'ratio':>6} {'less base':>9}  work"
    )
    ratios = {}
    for r in rows:
        size = r["train_uint8_bytes"]
        ratio, net = r["peak"] / size, (r["peak"] - r["baseline_rss"]) / size
        ratios[r["case"], r["path"]] = ratio, net
        print(
            f"{r['case']:<9} {r['path']:<10} {r['train_images']:>12,} {size / GB:>8.2f} GB "
            f"{r['baseline_rss'] / GB:>6.2f} GB {r['peak_after_read'] / GB:>7.2f} GB "
            f"{r['peak'] / GB:>5.2f} GB {ratio:>5.2f}x {net:>8.2f}x  {r['work']} "
            f"(read {r['read_seconds']:.0f} s, work {r['work_seconds']:.0f} s)"
        )
    print("(GB = 1e9 bytes)")
    for case in ("train", "evaluate"):
        (ours, net), (mmap, mmap_net), (previous, previous_net) = (
            ratios[case, kind] for kind in PATHS
        )
        print(
            f"{case}: peak ours {ours:.2f}x the training split's uint8 size ({net:.2f}x less "
            f"the baseline; {mmap:.2f}x and {mmap_net:.2f}x with the fixed mmap threshold), "
            f"the previous path {previous:.2f}x ({previous_net:.2f}x)"
        )


if __name__ == "__main__":
    main()
