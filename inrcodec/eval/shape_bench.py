"""Rate-distortion benchmark of shapes: inrcodec's methods beside Draco and an SDF grid with lzma, over a
folder of meshes.

For every mesh, cap and codec the file is made under the cap (rate = file bytes), decoded to a mesh
(inrcodec: marching cubes at sdf.DEFAULT_RESOLUTION), and scored against the input by
`shape_metrics` (SAMPLES points per surface, seed 0): Chamfer-L1, Hausdorff (in units of the input's
bounding-box diagonal), normal consistency, IoU and F-score at 1% of the diagonal. The baselines'
searches score candidates with SEARCH_SAMPLES points. Results are written per codec in the JSON
shape of the image bench, with "bytes" for "bpp".
"""

from ..modalities import shape as shapes
from . import metrics as shape_metrics
from .bench import coded

def measure(mesh: tuple, reference, search_reference, cap: int, name: str, config) -> dict:
    """Encode under the cap and decode (`bench.coded`; a baseline searches against `search_reference`);
    the row of one mesh, cap and codec."""
    data, decoded, tail = coded(name, mesh, cap, shapes.decode_mesh,
                                lambda stats: shapes.encode_mesh(*mesh, cap, name, config, stats=stats),
                                search_reference)
    return {"bytes": len(data), **shape_metrics.compare(reference, decoded), "faces": len(decoded[1]), **tail}


def print_summary(documents: dict) -> None:
    """One line per codec and cap: meshes, bytes, Chamfer-L1 and Hausdorff (thousandths of the diagonal),
    IoU, F-score, times."""
    print(f"{'method':10s} {'cap':>6s} {'n':>3s} {'bytes':>7s} {'CD-L1':>7s} {'Haus':>7s} {'NC':>6s} {'IoU':>6s} "
          f"{'F@1%':>6s} {'enc s':>7s} {'dec s':>7s}")
    for method, document in documents.items():
        r = document["results"]
        for i, cap in enumerate(r["target_bytes"]):
            print(f"{method:10s} {cap:6g} {r['n_images'][i]:3d} {r['bytes'][i]:7.0f} {1000 * r['chamfer_l1'][i]:7.3f} "
                  f"{1000 * r['hausdorff'][i]:7.2f} {r['normal_consistency'][i]:6.3f} {r['iou'][i]:6.3f} "
                  f"{r['f_score'][i]:6.3f} {r['encoding_time'][i]:7.2f} {r['decoding_time'][i]:7.3f}")
