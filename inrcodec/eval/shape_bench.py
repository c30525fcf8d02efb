"""Rate-distortion benchmark of shapes: inrcodec's methods beside Draco and an SDF grid with lzma, over a folder of meshes.

For every mesh, cap and codec the file is made under the cap (rate = file bytes), decoded to a mesh
(inrcodec: marching cubes at sdf.DEFAULT_RESOLUTION), and scored against the input by
`shape_metrics` (SAMPLES points per surface, seed 0): Chamfer-L1, Hausdorff (in units of the input's
bounding-box diagonal), normal consistency, IoU and F-score at 1% of the diagonal. The baselines'
searches score candidates with SEARCH_SAMPLES points. Results are written per codec in the JSON
shape of the image bench, with "bytes" for "bpp".
"""

import time

from ..modalities import shape as shapes
from . import metrics as shape_metrics, shape_baselines
from .bench import timed_decode

BASELINES = {"draco": shape_baselines.draco, "sdf-grid": shape_baselines.sdf_grid_lzma}  # name -> search(V, F, cap, reference)
METRICS = ("chamfer_l1", "accuracy", "completeness", "hausdorff", "normal_consistency", "iou", "f_score")


def measure(mesh: tuple, reference, search_reference, cap: int, name: str, config) -> dict:
    """Encode under the cap and decode; the row of one mesh, cap and codec."""
    start = time.perf_counter()
    extra = {}
    if name in BASELINES:
        data, decoded = BASELINES[name](*mesh, cap, search_reference)
        middle = time.perf_counter()
        decoding_time = 0.0 if name == "sdf-grid" else timed_decode(shape_baselines.decompress, data)[1]
    else:
        stats = {}
        data = shapes.encode_mesh(*mesh, cap, name, config, stats=stats)
        middle = time.perf_counter()
        decoded, decoding_time = timed_decode(shapes.decode_mesh, data)
        extra["stats"] = stats
    if len(data) > cap:
        raise AssertionError(f"{name} wrote {len(data)} bytes over a cap of {cap}")
    return {"bytes": len(data), **shape_metrics.compare(reference, decoded), "faces": len(decoded[1]),
            "encoding_time": middle - start, "decoding_time": decoding_time, **extra}


def print_summary(documents: dict) -> None:
    """One line per codec and cap: meshes, bytes, Chamfer-L1 and Hausdorff (thousandths of the diagonal), IoU, F-score, times."""
    print(f"{'method':10s} {'cap':>6s} {'n':>3s} {'bytes':>7s} {'CD-L1':>7s} {'Haus':>7s} {'NC':>6s} {'IoU':>6s} "
          f"{'F@1%':>6s} {'enc s':>7s} {'dec s':>7s}")
    for method, document in documents.items():
        r = document["results"]
        for i, cap in enumerate(r["target_bytes"]):
            print(f"{method:10s} {cap:6g} {r['n_images'][i]:3d} {r['bytes'][i]:7.0f} {1000 * r['chamfer_l1'][i]:7.3f} "
                  f"{1000 * r['hausdorff'][i]:7.2f} {r['normal_consistency'][i]:6.3f} {r['iou'][i]:6.3f} "
                  f"{r['f_score'][i]:6.3f} {r['encoding_time'][i]:7.2f} {r['decoding_time'][i]:7.3f}")
