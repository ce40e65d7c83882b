"""A stateful metric accumulator in the torchmetrics manner (update / compute / reset).

>>> import numpy as np
>>> gt = np.zeros((8, 8), np.uint8); gt[:, 4:] = 255
>>> trimap = np.full((8, 8), 128, np.uint8)
>>> acc = MetricAccumulator("dim", metrics=["sad", "mad"])
>>> per_image = acc.update([gt, 255 - gt], [gt, gt], [trimap, trimap], names=["perfect", "inverted"])
>>> {k: round(float(v), 3) for k, v in acc.compute().items()}   # means over images, report scale
{'sad': 0.032, 'mad': 500.0}
>>> acc.per_image()["name"].tolist()          # DataFrame: name + one column per metric
['perfect', 'inverted']

Per-image values are kept (for leaderboards); ``compute`` ignores images whose
value is NaN (an empty unknown region) and says how many it used in ``counts``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import InputError
from .protocols import get_protocol
from .suite import MetricValues, evaluate_arrays

if TYPE_CHECKING:  # pandas is imported where a table is built: `import matting_data.metrics` stays light
    import pandas as pd


def _is_batch(x) -> bool:
    if isinstance(x, (list, tuple)):
        return True
    return getattr(x, "ndim", 2) == 3 and not (x.shape[-1] == 1)


class MetricAccumulator:
    """Accumulate per-image metrics of one protocol over many batches.

    Parameters
    ----------
    protocol : ``"dim"`` or ``"gfm"``.
    backend : ``"numpy"`` (reference, per image) or ``"torch"`` (batched).
    device : torch device for ``backend="torch"`` (default: the input's, else CPU).
    metrics : subset of the protocol's metrics (default: all available).
    scale : ``"report"`` (default, the scale papers print) or ``"raw"``.
    labeller : Conn's labeller on the torch path: ``"auto"`` (torch union-find on CUDA,
        OpenCV on the CPU), ``"torch"`` or ``"opencv-cpu"``.
    """

    def __init__(
        self,
        protocol: str = "dim",
        backend: str = "numpy",
        device: str | None = None,
        metrics: Iterable[str] | None = None,
        scale: str = "report",
        labeller: str = "auto",
    ) -> None:
        if backend not in ("numpy", "torch"):
            raise InputError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        self.protocol = get_protocol(protocol)
        self.backend = backend
        self.device = device
        self.metrics = tuple(metrics) if metrics is not None else None
        self.scale = scale
        self.labeller = labeller
        self.reset()

    def reset(self) -> None:
        """Forget every value."""
        self._rows: list[dict[str, float]] = []
        self._names: list[str] = []

    def __len__(self) -> int:
        return len(self._rows)

    def update(self, pred, gt, trimap=None, names: Sequence[str] | None = None) -> list[dict[str, float]]:
        """Add one image (2-D arrays) or a batch (``N x H x W``, ``N x 1 x H x W`` network outputs, or lists);
        returns this batch's values.  Tensors are detached (no gradient flows into the metrics)."""
        pred, gt, trimap = (_squeeze_channel(x) for x in (pred, gt, trimap))
        if _is_batch(pred):
            preds = list(pred)
            gts = list(gt)
            tris = list(trimap) if trimap is not None else None
        else:
            preds, gts, tris = [pred], [gt], ([trimap] if trimap is not None else None)
        if len(gts) != len(preds) or (tris is not None and len(tris) != len(preds)):
            raise InputError(f"batch lengths differ: {len(preds)} predictions, {len(gts)} ground truths")
        start = len(self._rows)
        if names is None:
            names = [f"image_{start + i:06d}" for i in range(len(preds))]
        elif isinstance(names, str):
            names = [names]
        if len(names) != len(preds):
            raise InputError(f"{len(names)} names for {len(preds)} images")
        if self.backend == "numpy":
            rows = []
            for i, (p, g) in enumerate(zip(preds, gts, strict=True)):
                t = tris[i] if tris is not None else None
                rows.append(
                    dict(
                        evaluate_arrays(
                            _np(p), _np(g), _np(t), self.protocol, self.metrics, self.scale, names[i]
                        )
                    )
                )
        else:
            from .torch_backend import evaluate_batch

            # a stacked batch goes as it is (one tensor), a list or a single image as the lists
            stacked = _is_batch(pred) and not isinstance(pred, (list, tuple))
            p_in, g_in, t_in = (pred, gt, trimap) if stacked else (preds, gts, tris)
            res = evaluate_batch(p_in, g_in, t_in, self.protocol, device=self.device, metrics=self.metrics,
                                 scale=self.scale, labeller=self.labeller)
            rows = [{k: float(v[i]) for k, v in res.items()} for i in range(len(preds))]
        self._rows.extend(rows)
        self._names.extend(str(n) for n in names)
        return rows

    def per_image(self) -> pd.DataFrame:
        """One row per image: ``name`` then one column per metric (in the accumulator's scale)."""
        import pandas as pd

        df = pd.DataFrame(self._rows)
        df.insert(0, "name", self._names)
        return df

    def compute(self) -> MetricValues:
        """Mean of every metric over the images (NaN values skipped), as :class:`MetricValues`.

        ``result.counts`` gives how many images each mean used.
        """
        if not self._rows:
            raise InputError("MetricAccumulator.compute() called before any update()")
        import pandas as pd

        df = pd.DataFrame(self._rows)
        means = {
            k: float(np.nanmean(df[k].to_numpy(float))) if df[k].notna().any() else float("nan") for k in df
        }
        out = MetricValues(means, self.protocol.name, self.scale)
        out.counts = {k: int(df[k].notna().sum()) for k in df}  # type: ignore[attr-defined]
        return out


def _squeeze_channel(x):
    """``N x 1 x H x W`` (a network's output layout) -> ``N x H x W``; anything else unchanged."""
    if x is None or isinstance(x, (list, tuple)):
        return x
    if hasattr(x, "detach"):
        x = x.detach()
    if getattr(x, "ndim", 0) == 4 and x.shape[1] == 1:
        return x[:, 0]
    return x


def _np(x):
    if x is None:
        return None
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)
