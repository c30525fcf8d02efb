"""Cutting an image into square tiles (one small network each), and finding which tiles a region touches.

A tile of side T covers T x T pixels; the grid is ceil(H/T) x ceil(W/T), so edge tiles may reach
past the image. Inside a tile, pixel (i, j) sits at coordinates (-1 + (2i+1)/T, -1 + (2j+1)/T).
"""

import math

import numpy as np


def grid(height: int, width: int, tile: int) -> tuple[int, int]:
    """(rows, cols) of tiles of side `tile` covering an image of height x width pixels."""
    return math.ceil(height / tile), math.ceil(width / tile)


def pixel_centres(side: int, rows: range | None = None, cols: range | None = None) -> np.ndarray:
    """(len(rows)*len(cols), 2) float32 coordinates in [-1, 1]^2 of the centres of pixels `rows` x
    `cols` (default: all) of a side x side tile, row-major."""
    def axis(pixels):
        pixels = range(side) if pixels is None else pixels
        return -1.0 + (2.0 * np.arange(pixels.start, pixels.stop) + 1.0) / side
    yy, xx = np.meshgrid(axis(rows), axis(cols), indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=-1).astype(np.float32)


def spans(start: int, length: int, side: int) -> dict[tuple[int, int], list[int]]:
    """The tiles of side `side` along one axis that pixels start..start+length-1 touch, grouped by the
    part of the tile those pixels cover: {(first, stop) pixel range inside the tile: [tile indices]}."""
    groups = {}
    for index in range(start // side, -(-(start + length) // side)):
        origin = index * side
        part = (max(start, origin) - origin, min(start + length, origin + side) - origin)
        groups.setdefault(part, []).append(index)
    return groups


def split(values: np.ndarray, tile: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut (H, W, C) values into tiles.

    Returns tiles (n_tiles, T*T, C), zero-padded past the image, and valid (n_tiles, 2): how many
    rows and columns of each tile lie inside the image.
    """
    height, width, channels = values.shape
    rows, cols = grid(height, width, tile)
    padded = np.zeros((rows * tile, cols * tile, channels), values.dtype)
    padded[:height, :width] = values
    tiles = padded.reshape(rows, tile, cols, tile, channels).transpose(0, 2, 1, 3, 4)
    valid = np.array([[min(tile, height - r * tile), min(tile, width - c * tile)]
                      for r in range(rows) for c in range(cols)], dtype=np.int32)
    return tiles.reshape(rows * cols, tile * tile, channels), valid
