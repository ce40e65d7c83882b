"""Ports of the authors' evaluation code that the metric benchmark times and compares against.

* :func:`gfm_functions`: the GFM repository's five test-time evaluation functions, ported faithfully (same
  operations, same order, scikit-image labels, the distance maps it computes and never uses);
* :func:`gfm_script_port`: those functions on one in-memory case (the ``gfm-script-port`` row);
* :func:`gfm_port_main`: the GFM test loop on a folder (read as the GFM script reads, one log line per image, a CSV);
* :func:`opencv_conn_port`: Conn as mmagic / PaddleSeg compute it (OpenCV components per threshold).

Written here from the authors' code for comparison only; the toolkit never imports this.
"""

from __future__ import annotations

import csv
from pathlib import Path


def gfm_script_port(pred8, gt8, trimap):
    """The GFM functions (:func:`gfm_functions`) on one 8-bit case: whole-image, transition and fg/bg metrics."""
    sad_mse_mad_trimap, sad_mse_mad_whole, sad_fgbg, gradient, connectivity = gfm_functions()
    p, g = pred8 / 255.0, gt8 / 255.0
    sad, mse, mad = sad_mse_mad_whole(p, g)
    sad_t, mse_t, mad_t = sad_mse_mad_trimap(p, g, trimap)
    sad_fg, sad_bg = sad_fgbg(p, g, trimap)
    return {"sad": sad, "mse": mse, "mad": mad, "sad_fg": sad_fg, "sad_bg": sad_bg, "sad_trans": sad_t,
            "mse_trans": mse_t, "mad_trans": mad_t, "grad": gradient(p, g), "conn": connectivity(p, g)}


def gfm_functions():
    """The GFM repository's test-time evaluation functions, ported faithfully (same operations, same order)."""
    import numpy as np
    from scipy.ndimage import distance_transform_edt, gaussian_filter
    from skimage.measure import label, regionprops

    def sad_mse_mad_trimap(predict_old, alpha, trimap):
        predict = np.copy(predict_old)
        pixel = float((trimap == 128).sum())
        predict[trimap == 255] = 1.0
        predict[trimap == 0] = 0.0
        sad = np.sum(np.abs(predict - alpha)) / 1000
        if pixel == 0:
            pixel = trimap.shape[0] * trimap.shape[1] - float((trimap == 255).sum()) - float((trimap == 0).sum())
        return sad, np.sum((predict - alpha) ** 2) / pixel, np.sum(np.abs(predict - alpha)) / pixel

    def sad_mse_mad_whole(predict, alpha):
        pixel = predict.shape[0] * predict.shape[1]
        sad = np.sum(np.abs(predict - alpha)) / 1000
        return sad, np.sum((predict - alpha) ** 2) / pixel, np.sum(np.abs(predict - alpha)) / pixel

    def sad_fgbg(predict, alpha, trimap):
        diff = np.abs(predict - alpha)
        w_fg, w_bg, w_tri = (np.zeros(predict.shape) for _ in range(3))
        w_fg[trimap == 255] = 1.0
        w_bg[trimap == 0] = 1.0
        w_tri[trimap == 128] = 1.0
        _unused = np.sum(diff * w_tri) / 1000  # the GFM function computes it and returns two values
        return np.sum(diff * w_fg) / 1000, np.sum(diff * w_bg) / 1000

    def gradient(pd, gt):
        mags = []
        for x in (pd, gt):
            gx = gaussian_filter(x, sigma=1.4, order=[1, 0], output=np.float32)
            gy = gaussian_filter(x, sigma=1.4, order=[0, 1], output=np.float32)
            mags.append(np.sqrt(gx**2 + gy**2))
        return np.sum(np.square(mags[0] - mags[1])) / 10

    def connectivity(pd, gt, step=0.1):
        h, w = pd.shape
        steps = np.arange(0, 1.1, step)
        l_map = -1 * np.ones((h, w), dtype=np.float32)
        _lambda_map = np.ones((h, w), dtype=np.float32)
        for i in range(1, steps.size):
            cc = regionprops(label((pd >= steps[i]) & (gt >= steps[i]), connectivity=1))
            size_vec = np.array([c.area for c in cc])
            if len(size_vec) == 0:
                continue
            coords = cc[np.argmax(size_vec)].coords
            omega = np.zeros((h, w), dtype=np.float32)
            omega[coords[:, 0], coords[:, 1]] = 1
            flag = (l_map == -1) & (omega == 0)
            l_map[flag == 1] = steps[i - 1]
            dist = distance_transform_edt(omega == 0)
            dist = dist / dist.max()
        l_map[l_map == -1] = 1
        d_pd, d_gt = pd - l_map, gt - l_map
        phi_pd = 1 - d_pd * (d_pd >= 0.15).astype(np.float32)
        phi_gt = 1 - d_gt * (d_gt >= 0.15).astype(np.float32)
        return np.sum(np.abs(phi_pd - phi_gt)) / 1000

    return sad_mse_mad_trimap, sad_mse_mad_whole, sad_fgbg, gradient, connectivity


def gfm_port_main(folder: str, out: str) -> None:
    """The GFM test loop on ``folder``/{pred,gt,trimap}: read as GFM does, log per image, write a CSV."""
    import logging

    import numpy as np
    from PIL import Image

    sad_mse_mad_trimap, sad_mse_mad_whole, sad_fgbg, gradient, connectivity = gfm_functions()
    logging.basicConfig(filename=str(Path(out) / "gfm_port.log"), level=logging.INFO)
    rows = []
    for f in sorted((Path(folder) / "pred").glob("*.png")):
        trimap = np.array(Image.open(Path(folder) / "trimap" / f.name))
        alpha = np.array(Image.open(Path(folder) / "gt" / f.name)) / 255.0
        predict = np.array(Image.open(f)) / 255.0
        trimap = trimap[:, :, 0] if trimap.ndim > 2 else trimap
        alpha = alpha[:, :, 0] if alpha.ndim > 2 else alpha
        sad_t, mse_t, mad_t = sad_mse_mad_trimap(predict, alpha, trimap)
        sad, mse, mad = sad_mse_mad_whole(predict, alpha)
        sad_fg, sad_bg = sad_fgbg(predict, alpha, trimap)
        conn = connectivity(predict, alpha)
        grad = gradient(predict, alpha)
        row = {"name": f.stem, "sad": sad, "mse": mse, "mad": mad, "grad": grad, "conn": conn, "sad_trans": sad_t,
               "mse_trans": mse_t, "mad_trans": mad_t, "sad_fg": sad_fg, "sad_bg": sad_bg}
        logging.info(" ".join(f"{k}:{v}" for k, v in row.items()))
        rows.append(row)
    with open(Path(out) / "per_image.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def opencv_conn_port(alpha, trimap, pred, step=0.1):
    """Conn as mmagic / PaddleSeg compute it: one ``connectedComponentsWithStats`` per threshold."""
    import cv2
    import numpy as np

    steps = np.arange(0, 1 + step, step)
    round_down = -np.ones_like(alpha)
    for i in range(1, len(steps)):
        inter = ((alpha >= steps[i]) & (pred >= steps[i])).astype(np.uint8)
        _, out, stats, _ = cv2.connectedComponentsWithStats(inter, connectivity=4)
        size = stats[1:, -1]
        omega = np.zeros_like(alpha)
        if len(size) != 0:
            omega[out == np.argmax(size) + 1] = 1
        round_down[(round_down == -1) & (omega == 0)] = steps[i - 1]
    round_down[round_down == -1] = 1
    a_diff = alpha - round_down
    p_diff = pred - round_down
    a_phi = 1 - a_diff * (a_diff >= 0.15)
    p_phi = 1 - p_diff * (p_diff >= 0.15)
    return np.sum(np.abs(a_phi - p_phi) * (trimap == 128)) / 1000
