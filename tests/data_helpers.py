"""Helpers of the data tests: generated files in the public formats, and a local HTTP server."""

import gzip
import http.server
import struct
import threading

import numpy as np
import torch

from vaecourse.data import IMAGE_SHAPE, IMAGE_SIZE


def published_text(bits: np.ndarray) -> bytes:
    """The .amat text of ``bits`` in the published layout, written here independently of the package."""
    digits = np.where(bits == 1, ord("1"), ord("0")).astype(np.uint8)  # (N, IMAGE_SIZE)
    spaces = np.full_like(digits, ord(" "))
    spaces[:, -1] = ord("\n")
    return np.stack(
        [digits, spaces], axis=2
    ).tobytes()  # d, ' ', d, ' ', ..., d, '\n' per image


def random_bits(num_images: int) -> np.ndarray:
    return (torch.rand(num_images, IMAGE_SIZE) < 0.3).to(torch.uint8).numpy()


def idx_files(num_images: int) -> tuple[dict[str, bytes], np.ndarray, np.ndarray]:
    """Generated MNIST train files in IDX format, and the images and labels they hold."""
    images = torch.randint(
        0, 256, (num_images, *IMAGE_SHAPE), dtype=torch.uint8
    ).numpy()
    labels = torch.randint(0, 10, (num_images,), dtype=torch.uint8).numpy()
    return (
        {
            "train-images-idx3-ubyte.gz": gzip.compress(
                struct.pack(">IIII", 0x0803, num_images, *IMAGE_SHAPE)
                + images.tobytes(),
                mtime=0,
            ),
            "train-labels-idx1-ubyte.gz": gzip.compress(
                struct.pack(">II", 0x0801, num_images) + labels.tobytes(), mtime=0
            ),
        },
        images,
        labels,
    )


class Server:
    """An HTTP server on 127.0.0.1 serving ``routes``: path -> (status, body, declared length or None).

    Paths in ``trickle`` send their headers and then one byte every 0.1 s, as a stalled server does.
    """

    def __init__(self):
        self.routes: dict[str, tuple[int, bytes, int | None]] = {}
        self.trickle: set[str] = set()
        self.stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path in server.trickle:
                    return self.trickle()
                status, body, length = server.routes.get(
                    self.path, (404, b"not found", None)
                )
                self.send_response(status)
                self.send_header(
                    "Content-Length", str(len(body) if length is None else length)
                )
                self.end_headers()
                self.wfile.write(
                    body
                )  # shorter than a larger declared length: the connection is then cut
                self.close_connection = True

            def trickle(self):
                self.send_response(200)
                self.send_header("Content-Length", "1000000")
                self.end_headers()
                try:
                    while not server.stop.wait(0.1):
                        self.wfile.write(b"0")
                        self.wfile.flush()
                except OSError:
                    pass  # the client gave up
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def close(self):
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)
