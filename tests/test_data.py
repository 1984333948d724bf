"""Tests of vaecourse.data: the real files, the binary cache, and downloads from a local server."""

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from vaecourse import data
from vaecourse.data import IMAGE_SHAPE, IMAGE_SIZE, DataError, load_binarized_mnist, load_mnist

DATA_DIR = os.environ.get("VAECOURSE_DATA")
needs_real_data = pytest.mark.skipif(
    not DATA_DIR, reason="VAECOURSE_DATA is not set (CI sets it to the folder of local data copies)"
)

# From the data README: sha256 of the local gzip copies, and the official MNIST md5 sums.
BINARIZED_SHA256 = {
    "train": "e0fcf88a98490f419fef7c56bcf3c663e785152fe2dd01e9bfb454521981e997",
    "valid": "c0f40fa490ea4f575d7b38ce4593f5d6ee26c1ad28b8c758138c2b99fae7181c",
    "test": "56400eb1427f415e8ca470ec6ddad084f9a5defd691ae6b6756863ee03415858",
}
MNIST_TEST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
MNIST_TEST_DIGIT_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """Each test gets an empty cache, no data folder unless it names one, and the default URLs."""
    monkeypatch.setenv("VAECOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("VAECOURSE_DATA", raising=False)
    monkeypatch.delenv("VAECOURSE_BINARIZED_URL", raising=False)
    monkeypatch.delenv("VAECOURSE_MNIST_URL", raising=False)
    monkeypatch.setattr(data, "TIMEOUT", 5.0)


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- the real files --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def binarized(tmp_path_factory):
    """All three real splits, parsed once into a module-wide cache: {split: (x, cache folder)}."""
    if not DATA_DIR:
        pytest.skip("VAECOURSE_DATA is not set")
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VAECOURSE_CACHE", str(cache))
        return {split: (load_binarized_mnist(split, root=DATA_DIR), cache) for split in data.BINARIZED_SPLITS}


@needs_real_data
@pytest.mark.parametrize("split", list(BINARIZED_SHA256))
def test_local_binarized_files_are_the_documented_ones(split):
    path = Path(DATA_DIR) / "binarized_mnist" / f"binarized_mnist_{split}.amat.gz"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == BINARIZED_SHA256[split]


@needs_real_data
@pytest.mark.parametrize("name", list(MNIST_TEST_MD5))
def test_local_mnist_files_have_official_md5(name):
    assert hashlib.md5((Path(DATA_DIR) / "mnist" / name).read_bytes()).hexdigest() == MNIST_TEST_MD5[name]


@needs_real_data
@pytest.mark.parametrize("split, size", [("train", 50_000), ("valid", 10_000), ("test", 10_000)])
def test_binarized_splits_are_binary_images(binarized, split, size):
    x, _ = binarized[split]
    assert x.shape == (size, IMAGE_SIZE) and x.dtype == torch.float32
    assert ((x == 0) | (x == 1)).all() and (x == 0).any() and (x == 1).any()
    # about 13% of MNIST pixels are ink; every image has some
    assert 0.10 < x.mean().item() < 0.16
    assert (x.sum(dim=1) > 0).all()


@needs_real_data
def test_splits_are_distinct(binarized):
    train, valid, test = (binarized[s][0] for s in ("train", "valid", "test"))
    assert not torch.equal(train[:100], valid[:100]) and not torch.equal(valid[:100], test[:100])


@needs_real_data
def test_second_load_comes_from_the_binary_cache(binarized, monkeypatch):
    x, cache = binarized["train"]
    packed = cache / "binarized_mnist" / "binarized_mnist_train.npz"
    assert packed.is_file() and packed.stat().st_size < x.numel() // 4  # packed bits, not the text
    monkeypatch.setenv("VAECOURSE_CACHE", str(cache))
    monkeypatch.setattr(data, "_parse_amat", lambda *args: pytest.fail("the text was parsed again"))
    assert torch.equal(load_binarized_mnist("train", root=DATA_DIR), x)
    # the cache alone serves the data: no source folder needed
    assert torch.equal(load_binarized_mnist("train"), x)


@needs_real_data
def test_environment_variable_locates_the_data(binarized, monkeypatch):
    monkeypatch.setenv("VAECOURSE_DATA", DATA_DIR)
    assert torch.equal(load_binarized_mnist("test"), binarized["test"][0])


@needs_real_data
def test_mnist_test_set(binarized):
    x, y = load_mnist("test", root=DATA_DIR)
    assert x.shape == (10_000, IMAGE_SIZE) and x.dtype == torch.float32
    assert y.shape == (10_000,) and y.dtype == torch.int64
    assert torch.bincount(y, minlength=10).tolist() == MNIST_TEST_DIGIT_COUNTS
    assert x.min().item() == 0.0 and x.max().item() == 1.0
    # the static binarization samples pixel ~ Bernoulli(intensity) from these very images, so the mean
    # binarized image matches the mean grayscale one (per pixel std error <= 0.5 / sqrt(10000) = 0.005)
    assert (binarized["test"][0].mean(dim=0) - x.mean(dim=0)).abs().max().item() < 0.025


@needs_real_data
def test_mnist_train_missing_offline_says_what_is_missing(monkeypatch, closed_port_url):
    monkeypatch.setenv("VAECOURSE_MNIST_URL", closed_port_url)
    with pytest.raises(DataError) as error:
        load_mnist("train", root=DATA_DIR)
    message = str(error.value)
    assert "train-images-idx3-ubyte.gz" in message
    assert closed_port_url + "train-images-idx3-ubyte.gz" in message
    assert "VAECOURSE_DATA" in message


# --- arguments and local files ---------------------------------------------------------------------


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'train', 'valid', 'test'"):
        load_binarized_mnist("validation")
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_mnist("valid")


def amat_text(bits: np.ndarray) -> bytes:
    return b"".join(b" ".join(b"01"[v : v + 1] for v in row) + b"\n" for row in bits)


def random_bits(num_images: int) -> np.ndarray:
    return (torch.rand(num_images, IMAGE_SIZE) < 0.3).to(torch.uint8).numpy()


@pytest.fixture
def small_splits(monkeypatch):
    """Shrink the binarized splits so that generated 20-line files stand in for the real ones."""
    for split in data.BINARIZED_SPLITS:
        monkeypatch.setitem(data.BINARIZED_SPLITS, split, 20)


def write_root(tmp_path: Path, name: str, content: bytes) -> Path:
    root = tmp_path / "root"
    (root / "binarized_mnist").mkdir(parents=True, exist_ok=True)
    (root / "binarized_mnist" / name).write_bytes(content)
    return root


@pytest.mark.parametrize("compress", [False, True])
def test_reads_amat_and_amat_gz(tmp_path, small_splits, compress):
    bits = random_bits(20)
    text = amat_text(bits)
    name = "binarized_mnist_valid.amat" + (".gz" if compress else "")
    root = write_root(tmp_path, name, gzip.compress(text) if compress else text)
    assert torch.equal(load_binarized_mnist("valid", root=root), torch.from_numpy(bits).float())


def test_reads_other_spacing(tmp_path, small_splits):
    bits = random_bits(20)
    text = amat_text(bits).replace(b"\n", b" \r\n").replace(b" 1", b"\t1") + b"\n"
    root = write_root(tmp_path, "binarized_mnist_test.amat", text)
    assert torch.equal(load_binarized_mnist("test", root=root), torch.from_numpy(bits).float())


@pytest.mark.parametrize(
    "corrupt, expected",
    [
        (lambda text: gzip.compress(text)[:-200], "truncated"),  # a cut gzip stream
        (lambda text: gzip.compress(text[: len(text) // 2]), "lines"),  # half the lines
        (lambda text: gzip.compress(text.replace(b"1", b"2", 1)), "unexpected character '2'"),
        (lambda text: gzip.compress(text.replace(b"1 ", b"10 ", 1)), "other than 0 or 1"),
        (lambda text: gzip.compress(text.replace(b" 0\n", b"\n", 1)), f"has {IMAGE_SIZE - 1} values"),
    ],
)
def test_corrupt_local_file_is_named(tmp_path, small_splits, corrupt, expected):
    root = write_root(tmp_path, "binarized_mnist_test.amat.gz", corrupt(amat_text(random_bits(20))))
    with pytest.raises(DataError, match=expected) as error:
        load_binarized_mnist("test", root=root)
    assert str(root / "binarized_mnist" / "binarized_mnist_test.amat.gz") in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_corrupt_file_in_cache_is_deleted(tmp_path, small_splits):
    cached = tmp_path / "cache" / "binarized_mnist" / "binarized_mnist_train.amat"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(amat_text(random_bits(20))[:-1000])
    with pytest.raises(DataError, match="deleted") as error:
        load_binarized_mnist("train")
    assert str(cached) in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_corrupt_binary_cache_is_rebuilt_with_a_warning(tmp_path, small_splits):
    bits = random_bits(20)
    root = write_root(tmp_path, "binarized_mnist_test.amat", amat_text(bits))
    expected = torch.from_numpy(bits).float()
    assert torch.equal(load_binarized_mnist("test", root=root), expected)
    packed = tmp_path / "cache" / "binarized_mnist" / "binarized_mnist_test.npz"
    good = packed.read_bytes()
    with np.load(packed) as archive:
        flipped, digest = archive["bits"].copy(), archive["sha256"]
    flipped[3, 5] ^= 1  # one pixel changed: a well-formed file whose content no longer matches its sha256
    tampered = tmp_path / "tampered.npz"
    np.savez(tampered, bits=flipped, sha256=digest)
    for damage in (good[: len(good) // 2], b"not an npz file", tampered.read_bytes()):
        packed.write_bytes(damage)
        with pytest.warns(UserWarning, match="corrupt"):
            assert torch.equal(load_binarized_mnist("test", root=root), expected)
        assert packed.read_bytes() == good


def test_binary_cache_of_another_size_is_rebuilt(tmp_path, small_splits, monkeypatch):
    root = write_root(tmp_path, "binarized_mnist_test.amat", amat_text(random_bits(20)))
    load_binarized_mnist("test", root=root)
    (root / "binarized_mnist" / "binarized_mnist_test.amat").write_bytes(amat_text(random_bits(10)))
    monkeypatch.setitem(data.BINARIZED_SPLITS, "test", 10)
    with pytest.warns(UserWarning, match="shape"):
        assert load_binarized_mnist("test", root=root).shape == (10, IMAGE_SIZE)


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
    for name in MNIST_TEST_MD5:
        (folder / name).write_bytes(gzip.compress(b"not mnist"))
    with pytest.raises(DataError, match="md5") as error:
        load_mnist("test", root=tmp_path / "root")
    assert str(folder / "t10k-images-idx3-ubyte.gz") in str(error.value)


# --- downloads from a local server -------------------------------------------------------------------


class Server:
    """An HTTP server on 127.0.0.1 serving ``routes``: path -> (status, body, declared length or None)."""

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        routes = self.routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                status, body, length = routes.get(self.path, (404, b"not found", None))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                self.end_headers()
                self.wfile.write(body)  # shorter than a larger declared length: the connection is then cut
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server(monkeypatch):
    server = Server()
    monkeypatch.setenv("VAECOURSE_BINARIZED_URL", server.url)
    monkeypatch.setenv("VAECOURSE_MNIST_URL", server.url)
    yield server
    server.close()


@pytest.fixture
def closed_port_url():
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def idx_files(num_images: int) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """Generated MNIST train files in IDX format, and the images and labels they hold."""
    images = torch.randint(0, 256, (num_images, *IMAGE_SHAPE), dtype=torch.uint8).numpy()
    labels = torch.randint(0, 10, (num_images,), dtype=torch.uint8).numpy()
    return {
        "train-images-idx3-ubyte.gz": gzip.compress(struct.pack(">IIII", 0x0803, num_images, *IMAGE_SHAPE)
                                                    + images.tobytes(), mtime=0),
        "train-labels-idx1-ubyte.gz": gzip.compress(struct.pack(">II", 0x0801, num_images) + labels.tobytes(),
                                                    mtime=0),
    }, images, labels


def test_download_binarized(server, tmp_path, small_splits):
    bits = random_bits(20)
    server.routes["/binarized_mnist_train.amat"] = (200, amat_text(bits), None)
    x = load_binarized_mnist("train")
    assert torch.equal(x, torch.from_numpy(bits).float())
    folder = tmp_path / "cache" / "binarized_mnist"
    assert (folder / "binarized_mnist_train.amat").read_bytes() == amat_text(bits)
    assert files_in(folder) == ["binarized_mnist_train.amat", "binarized_mnist_train.npz"]
    server.routes.clear()  # the second load needs no network
    assert torch.equal(load_binarized_mnist("train"), x)


def test_download_mnist(server, tmp_path, monkeypatch):
    files, images, labels = idx_files(20)
    monkeypatch.setitem(data.MNIST_SPLITS, "train", 20)
    for name, content in files.items():
        monkeypatch.setitem(data.MNIST_MD5, name, hashlib.md5(content).hexdigest())
        server.routes["/" + name] = (200, content, None)
    x, y = load_mnist("train")
    assert torch.equal(x, torch.from_numpy(images).reshape(20, IMAGE_SIZE).float() / 255)
    assert torch.equal(y, torch.from_numpy(labels).long())
    folder = tmp_path / "cache" / "mnist"
    assert files_in(folder) == sorted(files)
    assert all((folder / name).read_bytes() == content for name, content in files.items())


def test_download_with_wrong_md5_leaves_nothing(server, tmp_path, monkeypatch):
    files, _, _ = idx_files(20)
    monkeypatch.setitem(data.MNIST_SPLITS, "train", 20)
    for name, content in files.items():
        server.routes["/" + name] = (200, content, None)  # the registered md5 are the real ones
    with pytest.raises(DataError, match="md5") as error:
        load_mnist("train")
    assert "train-images-idx3-ubyte.gz" in str(error.value) and server.url in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_download_of_a_corrupt_amat_leaves_nothing(server, tmp_path, small_splits):
    server.routes["/binarized_mnist_valid.amat"] = (200, amat_text(random_bits(19)), None)
    with pytest.raises(DataError, match="19 lines, expected 20") as error:
        load_binarized_mnist("valid")
    assert "binarized_mnist_valid.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_connection_cut_mid_file_leaves_nothing(server, tmp_path, small_splits):
    text = amat_text(random_bits(20))
    server.routes["/binarized_mnist_test.amat"] = (200, text[: len(text) // 3], len(text))
    with pytest.raises(DataError, match=f"cut off after {len(text) // 3} of {len(text)} bytes") as error:
        load_binarized_mnist("test")
    assert "binarized_mnist_test.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []  # no partial file, no temporary file


def test_http_404(server, tmp_path, small_splits):
    with pytest.raises(DataError, match="HTTP 404") as error:
        load_binarized_mnist("test")
    assert server.url + "binarized_mnist_test.amat" in str(error.value)
    assert files_in(tmp_path / "cache") == []


def test_no_network_names_file_url_and_variable(tmp_path, monkeypatch, closed_port_url):
    monkeypatch.setenv("VAECOURSE_BINARIZED_URL", closed_port_url)
    with pytest.raises(DataError) as error:
        load_binarized_mnist("valid")
    message = str(error.value)
    assert closed_port_url + "binarized_mnist_valid.amat" in message
    assert "binarized_mnist_valid.amat" in message and "VAECOURSE_DATA" in message
    assert str(tmp_path / "cache" / "binarized_mnist") in message  # where it looked
    assert files_in(tmp_path / "cache") == []
