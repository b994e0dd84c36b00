"""Is a zstd file whole? A walk over its frame and block headers, without decompressing.

An interrupted download leaves a file whose last zstd frame stops mid-block; zstd stream readers
then return the blocks decoded so far and no error, so a truncated DBN file would decode to fewer
records, silently. The frame format (RFC 8878 §3.1) lets us check completeness cheaply: each frame
is a header, blocks with 3-byte headers (last-block flag, type, size) and, when the header says
so, a 4-byte content checksum; skippable frames carry their size. We walk those headers (one small
read per 128 KiB block) and require every frame to end inside the file. The content checksums
themselves are verified by zstd when the data is decompressed.
"""

from __future__ import annotations

from pathlib import Path

import zstandard

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_SKIPPABLE_MIN, _SKIPPABLE_MAX = 0x184D2A50, 0x184D2A5F
_RLE_BLOCK, _RESERVED_BLOCK = 1, 3


class TruncatedZstdError(ValueError):
    """A zstd file that ends inside a frame (or is not zstd past its first frame); names the file,
    the frame's offset and what was missing."""


def check_frames_complete(path: Path) -> int:
    """Walk every frame of the zstd file `path`; return the number of frames. Raises
    TruncatedZstdError naming the file when a frame header, block or checksum runs past the end
    of the file, a block type is reserved, or bytes after a frame are not another frame."""
    size = path.stat().st_size
    n_frames = 0
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            head = fh.read(18)  # the longest frame header
            if len(head) < 4:
                raise TruncatedZstdError(
                    f"{path}: {size - pos} stray bytes at offset {pos} after the last zstd frame"
                )
            magic = int.from_bytes(head[:4], "little")
            if _SKIPPABLE_MIN <= magic <= _SKIPPABLE_MAX:
                if len(head) < 8:
                    raise TruncatedZstdError(
                        f"{path}: skippable frame at offset {pos} is cut inside its header"
                    )
                pos += 8 + int.from_bytes(head[4:8], "little")
            elif head[:4] == ZSTD_MAGIC:
                start, pos = pos, _frame_end(fh, path, pos, head)
                if pos > size:
                    raise TruncatedZstdError(
                        f"{path}: truncated: the zstd frame at offset {start} runs {pos - size:,} bytes past the "
                        f"end of the file ({size:,} bytes); an interrupted download? fetch the file again"
                    )
            else:
                raise TruncatedZstdError(
                    f"{path}: bytes at offset {pos} are not a zstd frame (file damaged?)"
                )
            if pos > size:
                raise TruncatedZstdError(
                    f"{path}: truncated: a skippable zstd frame runs past the end of the file"
                )
            n_frames += 1
    return n_frames


def _frame_end(fh, path: Path, start: int, head: bytes) -> int:  # noqa: ANN001 - a binary file
    """Offset just past the frame starting at `start` (its header bytes are `head`)."""
    try:
        header_size = zstandard.frame_header_size(head)
        params = zstandard.get_frame_parameters(head)
    except zstandard.ZstdError as exc:
        raise TruncatedZstdError(
            f"{path}: zstd frame header at offset {start} is cut or damaged ({exc})"
        ) from exc
    pos = start + header_size
    while True:
        fh.seek(pos)
        bh = fh.read(3)
        if len(bh) < 3:
            raise TruncatedZstdError(
                f"{path}: truncated: the zstd frame at offset {start} ends inside a block header at "
                f"offset {pos}; an interrupted download? fetch the file again"
            )
        word = int.from_bytes(bh, "little")
        last, block_type, block_size = word & 1, (word >> 1) & 3, word >> 3
        if block_type == _RESERVED_BLOCK:
            raise TruncatedZstdError(f"{path}: reserved zstd block type at offset {pos} (file damaged?)")
        pos += 3 + (1 if block_type == _RLE_BLOCK else block_size)
        if last:
            return pos + (4 if params.has_checksum else 0)
