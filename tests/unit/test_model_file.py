"""The model file (lolip.model_file): exact round trip, damage detected, no code run."""

from __future__ import annotations

import pickle

import pytest
import torch

from lolip.archs import build_arch
from lolip.model_file import ModelFileError, load_model, read_metadata, save_model

KWARGS = {"in_channels": 1, "n_classes": 10, "image_size": 8}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    model = build_arch("DigitsCNN", **KWARGS).eval()
    path = tmp_path / "model.safetensors"
    save_model(path, model, arch="DigitsCNN", arch_kwargs=KWARGS, metadata={"method": "natural"})
    return path, model


def test_a_saved_model_loads_to_the_same_function(saved):
    path, model = saved
    back = load_model(path)
    x = torch.rand(5, 1, 8, 8)
    assert not back.training
    assert torch.equal(back(x), model(x))
    assert back.lolip_metadata == {"method": "natural"} == read_metadata(path)


def _zero_tensor_bytes(path, n=4096):
    """Zero ``n`` bytes of the tensor data: the header is left intact and parses."""
    data = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(data[:8], "little")
    assert len(data) - start > n
    data[start : start + n] = bytes(n)
    path.write_bytes(bytes(data))


DAMAGE = {
    "4 KB zeroed": (_zero_tensor_bytes, "is damaged: its checksum does not match"),
    "truncated": (lambda p: p.write_bytes(p.read_bytes()[:-100]), "is truncated or damaged"),
    "header cut": (lambda p: p.write_bytes(p.read_bytes()[:40]), "is truncated or damaged"),
    "empty": (lambda p: p.write_bytes(b""), "is truncated or damaged"),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_model_file_is_named_with_what_to_do(saved, damage):
    path, _ = saved
    spoil, problem = DAMAGE[damage]
    spoil(path)
    with pytest.raises(ModelFileError, match=problem) as err:
        load_model(path)
    assert str(path) in str(err.value) and "delete it" in str(err.value)


class _RunsCode:
    """Unpickling this object opens (creates) the marker file: code a pickle would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("pickled", ["torch.save", "pickle.dumps"])
def test_a_model_file_whose_pickle_would_run_code_is_refused_and_nothing_runs(tmp_path, pickled):
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.safetensors"
    payload = {"state_dict": {"w": torch.zeros(3)}, "evil": _RunsCode(marker)}
    if pickled == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    assert not marker.exists()  # pickling does not run the payload; unpickling would
    with pytest.raises(ModelFileError, match="not a safetensors file") as err:
        load_model(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_a_safetensors_file_of_another_tool_is_named(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "theirs.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="theirs.safetensors' is not a lolip model file"):
        load_model(path)
