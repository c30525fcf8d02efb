"""A per-image Wiener filter on the rendered field: the last, linear layer of the `pyramid` synthesis.

Each YCbCr channel v of the field becomes v(x) + sum_k w_k * (v(x + o_k) - v(x)) over the offsets
o_k of a diamond of radius RADIUS (in samples of the encoded signal, edges extended; a signal of one
row, such as audio, has its vertical taps at 0). The encoder finds the weights by least squares
against the original signal and stores them as integers / RESOLUTION; the decoder renders the field
with a margin and filters it. At another scale each axis's offsets are multiplied by its scale
rounded to a whole number (below 0.5 there is no filter).
"""

import numpy as np

RADIUS = 3  # the diamond's radius in pixels
OFFSETS = [(dy, dx) for dy in range(-RADIUS, RADIUS + 1) for dx in range(-RADIUS, RADIUS + 1)
           if 0 < abs(dy) + abs(dx) <= RADIUS]  # the 24 taps besides the centre
RESOLUTION = 1024  # stored weights are integers / 1024
RIDGE = 1e-3  # Tikhonov term of the least squares, relative to the mean energy of a tap's differences
MAX_WEIGHT = 4.0  # largest |weight| a file may store


def _shifted(values: np.ndarray, spacing: tuple[int, int]) -> list[np.ndarray]:
    """v(x + o_k * spacing) for every offset, (h, w) views each, edges extended; spacing: (rows, columns)."""
    rows, cols = (RADIUS * s for s in spacing)
    padded = np.pad(values, ((rows, rows), (cols, cols)), mode="edge")
    height, width = values.shape
    return [padded[rows + dy * spacing[0]:rows + dy * spacing[0] + height,
                   cols + dx * spacing[1]:cols + dx * spacing[1] + width] for dy, dx in OFFSETS]


def fit(rendered: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(channels, taps) int weights minimising the squared error of filtered (H, W, c) `rendered`
    against `target` (both centred YCbCr)."""
    return solve(*normal_equations(rendered, target))


def normal_equations(rendered: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(c, taps, taps) Gram matrices and (c, taps) right-hand sides of the least squares of `fit`;
    those of several regions add up to those of their union."""
    grams, sides = [], []
    for c in range(rendered.shape[-1]):
        values = rendered[..., c].astype(np.float64)
        features = np.empty((len(OFFSETS), *values.shape))
        for tap, shifted in zip(features, _shifted(values, (1, 1))):
            np.subtract(shifted, values, out=tap)
        features = features.reshape(len(OFFSETS), -1)
        error = (target[..., c] - rendered[..., c]).astype(np.float64).ravel()
        grams.append(features @ features.T)
        sides.append(features @ error)
    return np.array(grams), np.array(sides)


def solve(grams: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """(c, taps) int weights of `normal_equations`, with a small ridge term so that a smooth channel
    (whose differences are nearly collinear) gets small weights rather than huge cancelling ones."""
    weights = []
    for gram, side in zip(grams, sides):
        gram = gram + np.eye(len(OFFSETS)) * (RIDGE * np.trace(gram) / len(OFFSETS) + 1e-12)
        solution = np.linalg.solve(gram, side)
        weights.append(np.clip(np.round(solution * RESOLUTION), -MAX_WEIGHT * RESOLUTION, MAX_WEIGHT * RESOLUTION))
    return np.array(weights, np.int64).reshape(len(grams), len(OFFSETS))


def apply(rendered: np.ndarray, weights: np.ndarray, scales: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """Filtered (h, w, c) float32 values rendered at (row, column) `scales`; weights (c, taps) as stored."""
    spacing = tuple(round(scale) for scale in scales)
    if 0 in spacing:
        return rendered
    out = np.empty_like(rendered)
    for c, channel_weights in enumerate(weights):
        scaled = channel_weights / RESOLUTION
        channel = np.ascontiguousarray(rendered[..., c])
        total = channel * np.float32(1.0 - scaled.sum())  # v + sum w (v_k - v), summed apart from `out`: contiguous
        term = np.empty_like(total)
        for weight, shifted in zip(scaled, _shifted(channel, spacing)):
            if weight:
                total += np.multiply(shifted, np.float32(weight), out=term)
        out[..., c] = total
    return out
