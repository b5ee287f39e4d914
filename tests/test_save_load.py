"""nn.save / nn.load: exact .npz round trips, no pickle, atomic writes, clear errors
for files that are not checkpoints."""
import io
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import autograd as ag
import nn


def sample_state():
    rng = np.random.default_rng(0)
    return {
        "layer.weight": ag.Tensor(rng.normal(size=(3, 4)).astype(np.float32)),
        "layer.bias": rng.normal(size=3),                               # float64 array
        "bn.running_var": ag.Tensor(rng.random(4)),                     # float64 Tensor
        "bn.num_batches_tracked": ag.Tensor(np.array(12345678901, np.int64)),
        "mask": np.array([True, False, True]),
        "ints": np.arange(6, dtype=np.int32).reshape(2, 3),
        "fortran": np.asfortranarray(rng.normal(size=(2, 3))),
        "empty": np.zeros((0, 5), np.float32),
        "scalar": np.float64(np.pi),
        "tiny": np.array([5e-324, -0.0, np.inf, -np.inf, np.nan]),
    }


def test_round_trip_is_exact_and_ordered(tmp_path):
    path = tmp_path / "ckpt.npz"
    sd = sample_state()
    nn.save(sd, path)
    back = nn.load(path)
    assert list(back) == list(sd)
    for k, v in sd.items():
        expected = np.asarray(v.data if isinstance(v, ag.Tensor) else v)
        assert back[k].dtype == expected.dtype and back[k].shape == expected.shape, k
        np.testing.assert_array_equal(back[k], expected)
        assert back[k].flags.writeable
    assert back["bn.num_batches_tracked"].item() == 12345678901
    assert np.signbit(back["tiny"][1])


def test_file_is_a_plain_npz_without_pickles(tmp_path):
    path = tmp_path / "ckpt.npz"
    sd = sample_state()
    nn.save(sd, path)
    with np.load(path, allow_pickle=False) as f:
        assert f.files == list(sd)
        np.testing.assert_array_equal(f["layer.bias"], sd["layer.bias"])


def test_keys_that_clash_with_np_savez_arguments(tmp_path):
    # np.savez(file, *args, allow_pickle=..., **arrays) could not take these names.
    sd = {"file": np.ones(1), "allow_pickle": np.zeros(2), "arr_0": np.arange(3)}
    nn.save(sd, tmp_path / "c.npz")
    back = nn.load(tmp_path / "c.npz")
    assert list(back) == list(sd)
    np.testing.assert_array_equal(back["allow_pickle"], np.zeros(2))


def test_path_is_used_exactly_even_without_suffix(tmp_path):
    path = tmp_path / "weights.bin"
    nn.save({"a": np.ones(2)}, str(path))
    assert sorted(os.listdir(tmp_path)) == ["weights.bin"]
    np.testing.assert_array_equal(nn.load(str(path))["a"], np.ones(2))


def test_model_round_trip_through_a_file(tmp_path):
    ag.set_default_dtype(np.float64)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    twin = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    nn.save(model.state_dict(), tmp_path / "m")
    twin.load_state_dict(nn.load(tmp_path / "m"))
    x = ag.randn(5, 3)
    np.testing.assert_array_equal(model(x).data, twin(x).data)


def test_files_written_by_numpy_load(tmp_path):
    path = tmp_path / "np.npz"
    np.savez_compressed(path, w=np.arange(4.0), n=np.int64(3))
    back = nn.load(path)
    assert list(back) == ["w", "n"]
    np.testing.assert_array_equal(back["w"], np.arange(4.0))


def test_overwrite_replaces_and_respects_umask(tmp_path):
    path = tmp_path / "ckpt.npz"
    nn.save({"a": np.zeros(3)}, path)
    nn.save({"b": np.ones(2)}, path)
    assert list(nn.load(path)) == ["b"]
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, exc):
    path = tmp_path / "ckpt.npz"
    nn.save({"w": np.arange(10.0)}, path)
    before = path.read_bytes()
    real_write = np.lib.format.write_array
    calls = []

    def write_then_fail(fp, array, *args, **kwargs):
        # The first entry is written in full, the second half-way, then the "crash".
        calls.append(1)
        if len(calls) == 1:
            return real_write(fp, array, *args, **kwargs)
        fp.write(b"\x93NUMPY partial")
        raise exc

    monkeypatch.setattr(np.lib.format, "write_array", write_then_fail)
    with pytest.raises(type(exc)):
        nn.save({"w": np.zeros(1000), "v": np.zeros(1000)}, path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]         # no temporary file left behind
    monkeypatch.undo()
    np.testing.assert_array_equal(nn.load(path)["w"], np.arange(10.0))


def test_failed_rename_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    nn.save({"w": np.ones(1)}, path)

    def refuse(src, dst):
        raise PermissionError("read-only destination")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        nn.save({"w": np.zeros(1)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert nn.load(path)["w"][0] == 1.0


def test_save_into_a_missing_folder_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="folder .*nowhere.* does not exist"):
        nn.save({"a": np.zeros(1)}, tmp_path / "nowhere" / "ckpt.npz")


def test_save_rejects_what_it_cannot_write_without_pickle(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.raises(TypeError, match="'obj' is not numeric"):
        nn.save({"obj": np.array([{"a": 1}], dtype=object)}, path)
    with pytest.raises(TypeError, match="'s' is not numeric"):
        nn.save({"s": np.array(["text"])}, path)
    with pytest.raises(TypeError, match="state_dict"):
        nn.save(nn.Linear(1, 1), path)
    with pytest.raises(TypeError, match="keys must be strings"):
        nn.save({1: np.zeros(1)}, path)
    assert not path.exists()


# ---------------------------------------------------------------- unreadable files
def checkpoint_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for k, v in {"w": np.arange(100.0), "b": np.ones(3)}.items():
            with zf.open(k + ".npy", "w") as entry:
                np.lib.format.write_array(entry, v)
    return buf.getvalue()


def assert_unreadable(path, *fragments):
    with pytest.raises(ValueError) as err:
        nn.load(path)
    msg = str(err.value)
    assert str(path) in msg and "nn.load" in msg
    for f in fragments:
        assert f in msg


@pytest.mark.parametrize("keep", [0, 3, 10, 0.5, -22, -1])
def test_truncated_files_give_a_clear_error(tmp_path, keep):
    data = checkpoint_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:n])
    assert_unreadable(path)


def test_corrupted_data_is_caught_by_the_checksum(tmp_path):
    data = bytearray(checkpoint_bytes())
    i = data.index(b"\x93NUMPY") + 200        # inside the first array's values
    data[i] ^= 0xFF
    path = tmp_path / "flip.npz"
    path.write_bytes(bytes(data))
    assert_unreadable(path, "CRC")


class _Trap:
    """Unpickling this would create a directory: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_pickle_disguised_as_npz_is_refused_without_running_it(tmp_path):
    trap = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"weight": _Trap(str(trap))}))
    assert_unreadable(path, "pickle")
    assert not trap.exists()


def test_npz_holding_a_pickled_object_array_is_refused(tmp_path):
    trap = tmp_path / "pwned"
    path = tmp_path / "obj.npz"
    np.savez(path, w=np.array([_Trap(str(trap))], dtype=object))
    assert_unreadable(path, "'w.npy'", "object")
    assert not trap.exists()


def test_single_npy_file_is_refused(tmp_path):
    path = tmp_path / "w.npz"
    with open(path, "wb") as f:
        np.save(f, np.arange(3.0))
    assert_unreadable(path, ".npy array")


def test_text_file_and_foreign_zip_member_are_refused(tmp_path):
    text = tmp_path / "notes.npz"
    text.write_text("weights: 1, 2, 3")
    assert_unreadable(text, "not a zip archive")
    foreign = tmp_path / "foreign.npz"
    with zipfile.ZipFile(foreign, "w") as zf:
        zf.writestr("readme.txt", "hello")
    assert_unreadable(foreign, "'readme.txt'")


def test_header_claiming_a_huge_array_is_refused_before_allocating(tmp_path):
    header = {"descr": "<f8", "fortran_order": False, "shape": (10**7, 10**7)}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("w.npy", buf.getvalue() + struct.pack("<d", 1.0))
    assert_unreadable(path, "claims shape (10000000, 10000000)")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nothing.npz")
