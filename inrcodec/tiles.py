"""Cutting an image into square tiles (one small network each) and putting renders back together.

A tile of side T covers T x T pixels; the grid is ceil(H/T) x ceil(W/T), so edge tiles may reach
past the image. Inside a tile, pixel (i, j) sits at coordinates (-1 + (2i+1)/T, -1 + (2j+1)/T).
"""

import math

import numpy as np


def grid(height: int, width: int, tile: int) -> tuple[int, int]:
    """(rows, cols) of tiles of side `tile` covering an image of height x width pixels."""
    return math.ceil(height / tile), math.ceil(width / tile)


def pixel_centres(side: int) -> np.ndarray:
    """(side*side, 2) float32 coordinates of a side x side grid of pixel centres in [-1, 1]^2, row-major."""
    axis = -1.0 + (2.0 * np.arange(side) + 1.0) / side
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    return np.stack([yy.ravel(), xx.ravel()], axis=-1).astype(np.float32)


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


def merge(tiles: np.ndarray, rows: int, cols: int, height: int, width: int) -> np.ndarray:
    """Inverse of `split`: renders (rows*cols, S*S, C) of S x S samples per tile -> (height, width, C).

    `height` and `width` are the output size, at most rows*S and cols*S (the rest is cropped).
    """
    channels = tiles.shape[-1]
    side = int(round(tiles.shape[1] ** 0.5))
    canvas = tiles.reshape(rows, cols, side, side, channels).transpose(0, 2, 1, 3, 4)
    return canvas.reshape(rows * side, cols * side, channels)[:height, :width]
