"""Tests of vaecourse.data: the real files, checksums, the compact cache, and downloads from a local server."""

import gzip
import hashlib
import os
import socket
import time
import traceback
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import Server, idx_files, published_text, random_bits

from vaecourse import data
from vaecourse.data import (
    IMAGE_SIZE,
    DataError,
    download,
    load_binarized_mnist,
    load_mnist,
)

# The environment as the test session found it (conftest.py has set the cache folder by now).
SESSION_ENV = {
    name: os.environ.get(name) for name in ("VAECOURSE_DATA", "VAECOURSE_CACHE")
}

# From the data README: the md5 of the published (uncompressed) binarized MNIST files.
PUBLISHED_MD5 = {
    "train": "db28b1a6ae0fe70cbd3da91acf46e477",
    "valid": "bf37822a04e94123630de6a7dfd9c9ef",
    "test": "14e41ae11040adba6ab8cb291eda0dd8",
}
MNIST_TEST_DIGIT_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Each test gets an empty cache, no data folder unless it names one, and the default URLs."""
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path / "cache"))
    for name in (
        "VAECOURSE_DATA",
        "VAECOURSE_BINARIZED_URL",
        "VAECOURSE_MNIST_URL",
        "VAECOURSE_DOWNLOAD_DEADLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(download, "TIMEOUT", 5.0)


def files_in(folder: Path) -> list[str]:
    return (
        sorted(p.name for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


# --- the real files, from whatever source the package uses ------------------------------------------


def load_as_in_the_session(load, *args):
    """``load(*args)`` as a user's session runs it: from VAECOURSE_DATA, the cache or a download."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in SESSION_ENV.items():
            mp.setenv(name, value) if value else mp.delenv(name, raising=False)
        try:
            return load(*args)
        except DataError as error:
            pytest.skip(
                f"no source of the data (VAECOURSE_DATA unset, not in the cache, no download): {error}"
            )


@pytest.fixture(scope="module")
def binarized():
    """The three real binarized splits."""
    return {
        split: load_as_in_the_session(load_binarized_mnist, split)
        for split in data.BINARIZED_SPLITS
    }


@pytest.fixture(scope="module")
def mnist_test():
    """The real MNIST test set (images, labels)."""
    return load_as_in_the_session(load_mnist, "test")


@pytest.mark.parametrize("split", list(PUBLISHED_MD5))
def test_loaded_splits_are_the_published_files(binarized, split):
    x = binarized[split]
    assert (
        hashlib.md5(published_text(x.numpy().astype(np.uint8))).hexdigest()
        == PUBLISHED_MD5[split]
    )


@pytest.mark.parametrize(
    "split, size", [("train", 50_000), ("valid", 10_000), ("test", 10_000)]
)
def test_binarized_splits_are_binary_images(binarized, split, size):
    x = binarized[split]
    assert x.shape == (size, IMAGE_SIZE) and x.dtype == torch.float32
    assert ((x == 0) | (x == 1)).all() and (x == 0).any() and (x == 1).any()
    # about 13% of MNIST pixels are ink; every image has some
    assert 0.10 < x.mean().item() < 0.16
    assert (x.sum(dim=1) > 0).all()


def test_splits_are_distinct(binarized):
    train, valid, test = (binarized[s] for s in ("train", "valid", "test"))
    assert not torch.equal(train[:100], valid[:100]) and not torch.equal(
        valid[:100], test[:100]
    )


def test_second_load_comes_from_the_compact_copy(binarized, monkeypatch):
    for name, value in SESSION_ENV.items():
        monkeypatch.setenv(name, value) if value else monkeypatch.delenv(
            name, raising=False
        )
    (packed,) = (data.cache_dir() / "binarized_mnist").glob(
        "binarized_mnist_train-*.npz"
    )
    assert packed.stat().st_size < 50_000 * IMAGE_SIZE / 8  # packed bits, not the text
    monkeypatch.setattr(
        data, "parse_amat", lambda *args: pytest.fail("the text was parsed again")
    )
    assert torch.equal(load_binarized_mnist("train"), binarized["train"])


def test_mnist_test_set(binarized, mnist_test):
    x, y = mnist_test
    assert x.shape == (10_000, IMAGE_SIZE) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TEST_DIGIT_COUNTS
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    # the static binarization samples pixel ~ Bernoulli(intensity) from these very images, so the mean
    # binarized image matches the mean grayscale one (per pixel std error <= 0.5 / sqrt(10000) = 0.005)
    assert (binarized["test"].mean(dim=0) - x.mean(dim=0)).abs().max().item() < 0.025


# --- arguments and local files ---------------------------------------------------------------------


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'train', 'valid', 'test'"):
        load_binarized_mnist("validation")
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_mnist("valid")


@pytest.fixture
def small_splits(monkeypatch):
    """Shrink the binarized splits so that generated 20-line files stand in for the real ones."""
    for split in data.BINARIZED_SPLITS:
        monkeypatch.setitem(data.BINARIZED_SPLITS, split, 20)


@pytest.fixture
def publish(monkeypatch):
    """``publish(split, bits)`` makes ``bits`` the published content of ``split`` (its md5 is registered)."""

    def register(split: str, bits: np.ndarray) -> np.ndarray:
        monkeypatch.setitem(
            data.BINARIZED_MD5, split, hashlib.md5(published_text(bits)).hexdigest()
        )
        return bits

    return register


def write_root(tmp_path: Path, name: str, content: bytes, root: str = "root") -> Path:
    root = tmp_path / root
    (root / "binarized_mnist").mkdir(parents=True, exist_ok=True)
    (root / "binarized_mnist" / name).write_bytes(content)
    return root


def compact_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cache" / "binarized_mnist").glob("*.npz"))


@pytest.mark.parametrize("compress", [False, True])
def test_reads_amat_and_amat_gz(tmp_path, small_splits, publish, compress):
    bits = publish("valid", random_bits(20))
    text = published_text(bits)
    name = "binarized_mnist_valid.amat" + (".gz" if compress else "")
    root = write_root(tmp_path, name, gzip.compress(text) if compress else text)
    assert torch.equal(
        load_binarized_mnist("valid", root=root), torch.from_numpy(bits).float()
    )
    assert len(compact_files(tmp_path)) == 1


def test_reads_other_spacing_of_the_same_pixels(tmp_path, small_splits, publish):
    bits = publish("test", random_bits(20))
    text = published_text(bits).replace(b"\n", b" \r\n").replace(b" 1", b"\t1") + b"\n"
    root = write_root(tmp_path, "binarized_mnist_test.amat", text)
    assert torch.equal(
        load_binarized_mnist("test", root=root), torch.from_numpy(bits).float()
    )


@pytest.mark.parametrize("compress", [False, True])
def test_local_file_with_flipped_pixels_is_rejected(
    tmp_path, small_splits, publish, compress
):
    bits = publish("test", random_bits(20))
    flipped = bits.copy()
    flipped[4, 100:110] ^= 1  # the right shape and format, other pixels
    text = published_text(flipped)
    name = "binarized_mnist_test.amat" + (".gz" if compress else "")
    root = write_root(tmp_path, name, gzip.compress(text) if compress else text)
    with pytest.raises(
        DataError, match="not the published binarized MNIST test split"
    ) as error:
        load_binarized_mnist("test", root=root)
    assert str(root / "binarized_mnist" / name) in str(
        error.value
    ) and data.BINARIZED_MD5["test"] in str(error.value)
    assert files_in(tmp_path / "cache") == []


@pytest.mark.parametrize(
    "corrupt, expected",
    [
        (lambda text: gzip.compress(text)[:-200], "truncated"),  # a cut gzip stream
        (lambda text: gzip.compress(text[: len(text) // 2]), "lines"),  # half the lines
        (
            lambda text: gzip.compress(text.replace(b"1", b"2", 1)),
            "unexpected character '2'",
        ),
        (
            lambda text: gzip.compress(text.replace(b"1 ", b"10 ", 1)),
            "other than 0 or 1",
        ),
        (
            lambda text: gzip.compress(text.replace(b" 0\n", b"\n", 1)),
            f"has {IMAGE_SIZE - 1} values",
        ),
    ],
)
def test_corrupt_local_file_is_named(tmp_path, small_splits, corrupt, expected):
    root = write_root(
        tmp_path,
        "binarized_mnist_test.amat.gz",
        corrupt(published_text(random_bits(20))),
    )
    with pytest.raises(DataError, match=expected) as error:
        load_binarized_mnist("test", root=root)
    assert str(root / "binarized_mnist" / "binarized_mnist_test.amat.gz") in str(
        error.value
    )
    assert files_in(tmp_path / "cache") == []


def test_named_source_wins_over_the_cache(tmp_path, small_splits, publish, monkeypatch):
    bits = publish("test", random_bits(20))
    first = write_root(
        tmp_path,
        "binarized_mnist_test.amat.gz",
        gzip.compress(published_text(bits)),
        "first",
    )
    assert torch.equal(
        load_binarized_mnist("test", root=first), torch.from_numpy(bits).float()
    )
    # another folder is read, even with a compact copy in the cache: a copy with other pixels is refused ...
    other_bits = bits.copy()
    other_bits[0] ^= 1
    other = write_root(
        tmp_path, "binarized_mnist_test.amat", published_text(other_bits), "other"
    )
    with pytest.raises(DataError, match="not the published") as error:
        load_binarized_mnist("test", root=other)
    assert str(other) in str(error.value)
    monkeypatch.setenv(
        "VAECOURSE_DATA", str(other)
    )  # ... also when named by the variable
    with pytest.raises(DataError, match="not the published"):
        load_binarized_mnist("test")
    # ... and a copy with the same pixels is read (parsed) rather than taken from the cache
    same = write_root(
        tmp_path,
        "binarized_mnist_test.amat",
        published_text(bits).replace(b"\n", b"\r\n"),
        "same",
    )
    parsed = []
    parse = data.parse_amat
    monkeypatch.setattr(
        data,
        "parse_amat",
        lambda raw, *args: parsed.append(len(raw)) or parse(raw, *args),
    )
    assert torch.equal(
        load_binarized_mnist("test", root=same), torch.from_numpy(bits).float()
    )
    assert parsed == [len(published_text(bits)) + 20]
    assert (
        len(compact_files(tmp_path)) == 1
    )  # one compact copy per split, now made from `same`
    # a source rewritten in place is read again
    time.sleep(0.01)
    (same / "binarized_mnist" / "binarized_mnist_test.amat").write_bytes(
        published_text(other_bits)
    )
    with pytest.raises(DataError, match="not the published"):
        load_binarized_mnist("test", root=same)


def test_tampered_compact_copy_is_rejected_and_rebuilt(
    tmp_path, small_splits, publish, closed_port_url, monkeypatch
):
    bits = publish("test", random_bits(20))
    root = write_root(tmp_path, "binarized_mnist_test.amat", published_text(bits))
    expected = torch.from_numpy(bits).float()
    assert torch.equal(load_binarized_mnist("test", root=root), expected)
    (packed,) = compact_files(tmp_path)
    good = packed.read_bytes()
    with np.load(packed) as archive:
        good_bits, source = archive["bits"].copy(), archive["source"]
    flipped = good_bits.copy()
    flipped[3, 5] ^= (
        1  # one pixel changed in a well-formed file that names the right source
    )
    tampered = tmp_path / "tampered.npz"
    np.savez_compressed(tampered, bits=flipped, source=source)
    wrong_shape = tmp_path / "wrong_shape.npz"
    np.savez_compressed(wrong_shape, bits=flipped[:10], source=source)
    damages = [
        good[: len(good) // 2],
        b"not an npz file",
        tampered.read_bytes(),
        wrong_shape.read_bytes(),
    ]
    for damage, reason in zip(
        damages, ["corrupt", "corrupt", "not the published ones", "shape"]
    ):
        packed.write_bytes(damage)
        with pytest.warns(UserWarning, match=reason):
            assert torch.equal(load_binarized_mnist("test", root=root), expected)
        with np.load(packed) as archive:
            assert np.array_equal(archive["bits"], good_bits)  # rebuilt from the source
    # without a source folder, a tampered copy is not returned either: it is deleted and downloaded again
    packed.write_bytes(tampered.read_bytes())
    monkeypatch.setenv("VAECOURSE_BINARIZED_URL", closed_port_url)
    with (
        pytest.warns(UserWarning, match="not the published ones"),
        pytest.raises(DataError, match="download"),
    ):
        load_binarized_mnist("test")
    assert compact_files(tmp_path) == []


def test_wrong_root_folder(tmp_path, monkeypatch):
    with pytest.raises(DataError, match="does not exist") as error:
        load_binarized_mnist("test", root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(error.value)
    inner = tmp_path / "data" / "binarized_mnist"
    inner.mkdir(parents=True)
    with pytest.raises(DataError, match="pass its parent"):
        load_binarized_mnist("test", root=inner)
    monkeypatch.setenv("VAECOURSE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataError, match="VAECOURSE_DATA"):
        load_mnist("test")


def test_local_mnist_file_with_wrong_md5_is_named(tmp_path):
    folder = tmp_path / "root" / "mnist"
    folder.mkdir(parents=True)
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (folder / name).write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(DataError, match="md5") as error:
        load_mnist("test", root=tmp_path / "root")
    assert str(folder / "t10k-images-idx3-ubyte.gz") in str(error.value)


# --- downloads from a local server -------------------------------------------------------------------


@pytest.fixture
def server(monkeypatch):
    server = Server()
    monkeypatch.setenv("VAECOURSE_BINARIZED_URL", server.url)
    monkeypatch.setenv("VAECOURSE_MNIST_URL", server.url)
    yield server
    server.close()


@pytest.fixture
def closed_port_url():
    with (
        socket.socket() as s
    ):  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_download_binarized_keeps_only_the_compact_copy(
    server, tmp_path, small_splits, publish
):
    bits = publish("train", random_bits(20))
    server.routes["/binarized_mnist_train.amat"] = (200, published_text(bits), None)
    x = load_binarized_mnist("train")
    assert torch.equal(x, torch.from_numpy(bits).float())
    folder = tmp_path / "cache" / "binarized_mnist"
    assert files_in(folder) == [
        f"binarized_mnist_train-{data.BINARIZED_MD5['train'][:12]}.npz"
    ]
    server.routes.clear()  # the second load needs no network
    assert torch.equal(load_binarized_mnist("train"), x)


def test_damaged_download_in_the_cache_is_fetched_again(
    server, tmp_path, small_splits, publish
):
    bits = publish("train", random_bits(20))
    folder = tmp_path / "cache" / "binarized_mnist"
    folder.mkdir(parents=True)
    (folder / "binarized_mnist_train.amat").write_bytes(
        published_text(bits)[:-1000]
    )  # e.g. an older, cut file
    server.routes["/binarized_mnist_train.amat"] = (200, published_text(bits), None)
    assert torch.equal(load_binarized_mnist("train"), torch.from_numpy(bits).float())
    assert [p.suffix for p in folder.iterdir()] == [".npz"]


def test_download_mnist(server, tmp_path, monkeypatch):
    files, images, labels = idx_files(20)
    monkeypatch.setitem(data.MNIST_SPLITS, "train", 20)
    for name, content in files.items():
        monkeypatch.setitem(data.MNIST_MD5, name, hashlib.md5(content).hexdigest())
        server.routes["/" + name] = (200, content, None)
    x, y = load_mnist("train")
    assert torch.equal(
        x, torch.from_numpy(images).reshape(20, IMAGE_SIZE).float() / 255
    )
    assert torch.equal(y, torch.from_numpy(labels).long())
    folder = tmp_path / "cache" / "mnist"
    assert files_in(folder) == sorted(files)
    assert all(
        (folder / name).read_bytes() == content for name, content in files.items()
    )


def test_download_with_wrong_md5_leaves_nothing(server, tmp_path, monkeypatch):
    files, _, _ = idx_files(20)
    monkeypatch.setitem(data.MNIST_SPLITS, "train", 20)
    for name, content in files.items():
        server.routes["/" + name] = (
            200,
            content,
            None,
        )  # the registered md5 are the real ones
    with pytest.raises(DataError, match="md5") as error:
        load_mnist("train")
    assert "train-images-idx3-ubyte.gz" in str(error.value) and server.url in str(
        error.value
    )
    assert files_in(tmp_path / "cache") == []


@pytest.mark.parametrize("served", ["flipped", "short"])
def test_download_of_other_pixels_leaves_nothing(
    server, tmp_path, small_splits, publish, served
):
    bits = publish("valid", random_bits(20))
    other = bits.copy()
    other[7, :50] ^= 1  # a file of the right shape and format with some pixels flipped
    text = published_text(other if served == "flipped" else bits[:19])
    server.routes["/binarized_mnist_valid.amat"] = (200, text, None)
    with pytest.raises(
        DataError, match="is not the published file: its md5 differs"
    ) as error:
        load_binarized_mnist("valid")
    assert server.url + "binarized_mnist_valid.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_connection_cut_mid_file_leaves_nothing(server, tmp_path, small_splits):
    text = published_text(random_bits(20))
    server.routes["/binarized_mnist_test.amat"] = (
        200,
        text[: len(text) // 3],
        len(text),
    )
    with pytest.raises(
        DataError, match=f"cut off after {len(text) // 3} of {len(text)} bytes"
    ) as error:
        load_binarized_mnist("test")
    assert "binarized_mnist_test.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []  # no partial file, no temporary file


def test_trickling_server_meets_the_overall_deadline(
    server, tmp_path, small_splits, monkeypatch
):
    server.trickle.add(
        "/binarized_mnist_test.amat"
    )  # each read gets a byte well within the 5 s timeout
    monkeypatch.setenv("VAECOURSE_DOWNLOAD_DEADLINE", "1")
    start = time.monotonic()
    with pytest.raises(DataError, match="did not finish within 1 s") as error:
        load_binarized_mnist("test")
    assert time.monotonic() - start < 4
    assert "VAECOURSE_DOWNLOAD_DEADLINE" in str(
        error.value
    ) and "of 1000000 bytes" in str(error.value)
    assert files_in(tmp_path / "cache") == []
    monkeypatch.setenv("VAECOURSE_DOWNLOAD_DEADLINE", "soon")
    with pytest.raises(
        DataError, match="VAECOURSE_DOWNLOAD_DEADLINE='soon' is not a number"
    ):
        load_binarized_mnist("test")


def test_http_404(server, tmp_path, small_splits):
    with pytest.raises(DataError, match="HTTP 404") as error:
        load_binarized_mnist("test")
    assert server.url + "binarized_mnist_test.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_no_network_names_file_url_and_variable_without_a_chain(
    tmp_path, monkeypatch, closed_port_url
):
    monkeypatch.setenv("VAECOURSE_BINARIZED_URL", closed_port_url)
    with pytest.raises(DataError) as error:
        load_binarized_mnist("valid")
    message = str(error.value)
    assert closed_port_url + "binarized_mnist_valid.amat" in message
    assert "binarized_mnist_valid.amat" in message and "VAECOURSE_DATA" in message
    assert str(tmp_path / "cache" / "binarized_mnist") in message  # where it looked
    assert files_in(tmp_path / "cache") == []
    # the message, not a chain of the urllib and socket errors behind it
    assert error.value.__cause__ is None and error.value.__suppress_context__
    assert "During handling" not in "".join(traceback.format_exception(error.value))


def test_mnist_train_missing_offline_says_what_is_missing(
    tmp_path, monkeypatch, closed_port_url
):
    (tmp_path / "root" / "mnist").mkdir(
        parents=True
    )  # a data folder without the training files
    monkeypatch.setenv("VAECOURSE_MNIST_URL", closed_port_url)
    with pytest.raises(DataError) as error:
        load_mnist("train", root=tmp_path / "root")
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert closed_port_url + "train-images-idx3-ubyte.gz" in message
    assert "VAECOURSE_DATA" in message and str(tmp_path / "root" / "mnist") in message
