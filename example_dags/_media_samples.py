"""Small, valid sample media the media examples (and the tests) generate for themselves: PNG photos
and one-page PDF invoices, deterministic from their arguments. Nothing here is needed in your DAGs."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path


def png(seed: str, size: int = 16) -> bytes:
    """A size x size RGB PNG with pixels derived from the seed (noise: it does not compress)."""
    stream = b""
    counter = 0
    while len(stream) < size * size * 3:
        stream += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    rows = b"".join(b"\x00" + stream[y * size * 3:(y + 1) * size * 3] for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b"")


def pdf(number: str, customer: str, total: str, padding: int = 0) -> bytes:
    """A one-page PDF invoice (text drawn with Helvetica); padding adds a comment to grow the file."""
    text = f"BT /F1 14 Tf 72 720 Td (Invoice {number}) Tj 0 -24 Td (Customer: {customer}) Tj " \
           f"0 -24 Td (Total: {total} EUR) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n" % (len(objects) + 1, xref)
    if padding:
        out += b"%" + b"x" * padding + b"\n"
    return out + b"%%EOF\n"


def write_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"product-{i:04d}.png"
        path.write_bytes(png(f"product-{i}"))
        paths.append(path)
    return paths


def write_invoices(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"invoice-{i:03d}.pdf"
        path.write_bytes(pdf(f"INV-{1000 + i}", f"Customer {i}", f"{100 + i * 7}.00"))
        paths.append(path)
    return paths
