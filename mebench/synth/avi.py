"""A minimal Motion-JPEG AVI writer: the JPEG frames already encoded for the image folders, muxed as they are.

No re-encoding and no time stamps, so a video costs a copy of its frames and identical frames give identical bytes.
OpenCV (``cv2.VideoCapture``) and ffmpeg read the result.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path


class MjpegAviWriter:
    """``with MjpegAviWriter(path, width, height, fps) as avi: avi.add(jpeg_bytes)``."""

    def __init__(self, path: str | os.PathLike[str], width: int, height: int, fps: float):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = int(width), int(height)
        self.rate, self.scale = int(round(float(fps) * 1000)), 1000
        self.handle = open(self.path, "wb")
        self.index: list[tuple[int, int]] = []
        self.max_size = 0
        self._write_headers(0)
        self.movi_start = self.handle.tell()  # position of the 'movi' fourcc
        self.handle.write(b"LIST" + struct.pack("<I", 0) + b"movi")

    def _headers(self, frames: int) -> bytes:
        micro = int(round(1e6 * self.scale / self.rate))
        avih = struct.pack("<14I", micro, self.max_size * self.rate // self.scale, 0, 0x10, frames, 0, 1,
                           self.max_size, self.width, self.height, 0, 0, 0, 0)
        strh = (b"vidsMJPG" + struct.pack("<IHHIIIIIIII", 0, 0, 0, 0, self.scale, self.rate, 0, frames,
                                          self.max_size, 0xFFFFFFFF, 0)
                + struct.pack("<4h", 0, 0, self.width, self.height))
        strf = struct.pack("<IiiHH4sIiiII", 40, self.width, self.height, 1, 24, b"MJPG",
                           self.width * self.height * 3, 0, 0, 0, 0)
        strl = b"strl" + _chunk(b"strh", strh) + _chunk(b"strf", strf)
        hdrl = b"hdrl" + _chunk(b"avih", avih) + _chunk(b"LIST", strl)
        return b"RIFF" + struct.pack("<I", 0) + b"AVI " + _chunk(b"LIST", hdrl)

    def _write_headers(self, frames: int) -> None:
        self.handle.seek(0)
        self.handle.write(self._headers(frames))

    def add(self, jpeg: bytes) -> None:
        offset = self.handle.tell() - (self.movi_start + 8)
        self.handle.write(_chunk(b"00dc", jpeg))
        self.index.append((offset, len(jpeg)))
        self.max_size = max(self.max_size, len(jpeg))

    def close(self) -> None:
        if self.handle.closed:
            return
        end_movi = self.handle.tell()
        idx = b"".join(b"00dc" + struct.pack("<III", 0x10, offset, size) for offset, size in self.index)
        self.handle.write(_chunk(b"idx1", idx))
        end = self.handle.tell()
        self._write_headers(len(self.index))
        self.handle.seek(4)
        self.handle.write(struct.pack("<I", end - 8))
        self.handle.seek(self.movi_start + 4)
        self.handle.write(struct.pack("<I", end_movi - self.movi_start - 8))
        self.handle.close()

    def __enter__(self) -> "MjpegAviWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad
