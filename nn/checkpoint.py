"""Checkpoints: ``nn.save`` writes a state dict as an .npz archive atomically, without
pickles; ``nn.load`` reads one back, refusing anything else."""
import math
import os
import secrets
import zipfile
from collections.abc import Mapping

import numpy as np

from .module import Module, _as_array

__all__ = ["save", "load"]

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")   # a zip with entries / an empty zip


def save(state_dict, path):
    """Write ``state_dict`` to exactly ``path`` as an ``.npz`` archive: one ``.npy`` entry
    per key, no pickle, so ``np.load(path, allow_pickle=False)`` reads it.

    The archive is written to a temporary file in the same folder, flushed to disk and
    renamed over ``path``, so an interrupted save leaves the previous file intact.
    """
    if isinstance(state_dict, Module):
        raise TypeError("nn.save: expected a state dict; pass model.state_dict() (a "
                        "checkpoint holds arrays only, never a pickled model)")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"nn.save: expected a dict of name -> array, got "
                        f"{type(state_dict).__name__}")
    arrays = {}
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"nn.save: keys must be strings, got {k!r}")
        arrays[k] = _as_array("nn.save", k, v)
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"nn.save: cannot write {path!r}: folder {folder!r} does "
                                "not exist")
    tmp, fd = _temp_file(folder, base)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
                for k, arr in arrays.items():
                    with zf.open(k + ".npy", "w", force_zip64=True) as entry:
                        np.lib.format.write_array(entry, arr, allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def _temp_file(folder, base):
    # os.open with mode 0o666 lets the umask decide the permissions, as for a plain
    # open(); tempfile.mkstemp would leave the checkpoint readable by its owner only.
    while True:
        # The base name is shortened so the temporary name stays within NAME_MAX.
        tmp = os.path.join(folder, f".{base[:100]}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL
                                | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue


def _sync_folder(folder):
    # Makes the rename itself durable on POSIX; folders cannot be opened on Windows.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path):
    """Read a checkpoint written by ``save`` (or ``np.savez``): a dict key -> np.ndarray,
    in the file's order.

    Never unpickles. A file that is not such an archive (truncated, corrupt, a pickle,
    a single ``.npy``, an entry holding objects) is a ValueError naming the path; a
    missing file is FileNotFoundError.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        try:
            magic = fh.read(4)
            if magic not in _ZIP_MAGIC:
                what = "a .npy array" if magic == b"\x93NUM" else \
                    "a pickle" if magic[:1] == b"\x80" else "not a zip archive"
                raise ValueError(f"it is {what} (starts with {magic!r})")
            fh.seek(0)
            return _read_npz(fh)
        except Exception as e:
            raise ValueError(f"nn.load: {path!r} is not a readable checkpoint (an .npz "
                             f"archive of numeric arrays, as nn.save writes): {e}") from e


def _read_npz(fh):
    out = {}
    with zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            name = info.filename
            if not name.endswith(".npy"):
                raise ValueError(f"entry {name!r} is not an .npy array")
            key = name[:-4]
            if key in out:
                raise ValueError(f"entry {name!r} appears twice")
            with zf.open(info) as entry:
                version = np.lib.format.read_magic(entry)
                if version == (1, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_1_0(entry)
                elif version == (2, 0):
                    shape, fortran, dtype = np.lib.format.read_array_header_2_0(entry)
                else:
                    raise ValueError(f"entry {name!r} has unsupported .npy version {version}")
                if dtype.hasobject or dtype.kind not in "biuf":
                    raise ValueError(f"entry {name!r} holds dtype {dtype}, not numbers")
                # Check the claimed size against the entry before allocating anything,
                # so a corrupt header cannot ask for terabytes.
                nbytes = math.prod(shape) * dtype.itemsize
                if entry.tell() + nbytes != info.file_size:
                    raise ValueError(f"entry {name!r} claims shape {shape} of {dtype} "
                                     f"({nbytes} bytes) but holds "
                                     f"{info.file_size - entry.tell()} bytes")
                entry.seek(0)
                arr = np.lib.format.read_array(entry, allow_pickle=False)
                entry.read()    # reach the end, where zipfile verifies the CRC
            out[key] = arr
    return out
