"""A static, self-contained HTML page of a leaderboard run: no server, no network, one file.

CSS and JavaScript are inline; plots and thumbnails are ``data:`` URIs.  The page has:

* per protocol, one ranked table per trimap set (``lb-<protocol>-<set>``; the page
  fits a 1400 px window); every header states the metric's scale; networks without
  weights are labelled ``(untrained)``; click a header to sort (numbers sort by their
  full value, kept in ``data-v``); ``leaderboard.html#sort=TABLE_ID:COLUMN[:desc]``
  opens the page sorted (used by the headless-browser test);
* the best value of each column in bold, the second underlined; each mean with its
  bootstrap 95 % interval; the paired test against the best model;
* provenance (weights hash, inference rule, arguments, input), group tables
  (categories, AIM type macro-average) and the plots;
* a per-image drill-down: thumbnails of the image, its trimaps, the ground truth,
  each model's prediction and its error map |prediction - ground truth|, with the
  per-image values (first ``max_images`` samples).
"""

from __future__ import annotations

import base64
import html as _html
import math
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ...io import encode_png, quantize, read_alpha, read_image, read_trimap, write_text_atomic
from ...tables import SCALE_LEGEND, format_value
from .latex import marks
from .sections import ci_text, group_sections, provenance_rows, run_notes, vs_best_text

if TYPE_CHECKING:
    from .data import RunData

THUMB = 160
MAX_IMAGES = 40

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em}p.note{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:right;white-space:nowrap}
th{background:#f3f3f3;cursor:pointer;user-select:none}th.grp{text-align:center;cursor:default}
td.l,th.l{text-align:left}td.w{white-space:normal;max-width:16em;overflow-wrap:anywhere}
th{white-space:normal}td .ci{white-space:normal}
h3{font-size:1.05em;margin-top:1.2em}td .ci{color:#777;font-size:.8em}td.best{font-weight:bold}
td.second{text-decoration:underline}th.asc:after{content:" \\25B2"}th.desc:after{content:" \\25BC"}
figure{display:inline-block;margin:.3em;text-align:center;font-size:.75em;vertical-align:top}
figure img{display:block;border:1px solid #ccc;image-rendering:auto}details{margin:.3em 0}
summary{cursor:pointer}img.plot{max-width:100%;border:1px solid #eee;margin:.4em}
"""

JS = """
function sortTable(table, col, desc){
  const body = table.tBodies[0]; const rows = Array.from(body.rows);
  const key = r => { const c = r.cells[col]; const v = c.getAttribute('data-v');
    if (v !== null && v !== '' && !isNaN(parseFloat(v))) return [0, parseFloat(v), ''];
    return [v === null ? 0 : 1, 0, c.textContent.trim()]; };
  rows.sort((a, b) => { const x = key(a), y = key(b);
    if (x[0] !== y[0]) return x[0] - y[0];
    const d = x[1] !== y[1] ? x[1] - y[1] : x[2].localeCompare(y[2]);
    return desc ? -d : d; });
  rows.forEach(r => body.appendChild(r));
  const heads = table.tHead.rows[table.tHead.rows.length - 1].cells;
  Array.from(heads).forEach((h, i) => { h.classList.remove('asc', 'desc');
    if (i === col) h.classList.add(desc ? 'desc' : 'asc'); });
}
document.querySelectorAll('table.sortable').forEach(t => {
  const heads = t.tHead.rows[t.tHead.rows.length - 1].cells;
  Array.from(heads).forEach((h, i) => h.addEventListener('click', () =>
    sortTable(t, i, h.classList.contains('asc'))));
});
const m = location.hash.match(/^#sort=([^:]+):(\\d+)(:desc)?$/);
if (m) { const t = document.getElementById(decodeURIComponent(m[1])); if (t) sortTable(t, +m[2], !!m[3]); }
"""


def esc(v: Any) -> str:
    return _html.escape(str(v), quote=True)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _resize(arr: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = arr.shape[:2]
    f = side / max(h, w)
    if f >= 1:
        return arr
    return cv2.resize(arr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def thumb(arr: np.ndarray, side: int = THUMB) -> str:
    """A ``data:`` URI of a small PNG of a float RGB image or float (H, W) map in [0, 1], or a uint8 map."""
    a = np.asarray(arr)
    codes = a if a.dtype == np.uint8 else quantize(np.clip(a.astype(np.float32), 0, 1), 8)
    return data_uri(encode_png(_resize(codes, side)))


def error_map(pred: np.ndarray, gt: np.ndarray, side: int = THUMB) -> str:
    """|prediction - ground truth| as a heat map (black: no error; yellow: error 1)."""
    import cv2

    err = quantize(np.clip(np.abs(pred - gt), 0, 1), 8)
    rgb = cv2.cvtColor(cv2.applyColorMap(err, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)
    return data_uri(encode_png(_resize(rgb, side)))


def num_cell(v: Any, mark: str = "", extra: str = "", text: str | None = None) -> str:
    """A sortable number cell: ``data-v`` holds the value (empty when missing), the text is ``text`` or the
    value as every table prints it; ``mark`` (``best`` / ``second``) is its class, ``extra`` HTML after it."""
    missing = v is None or (isinstance(v, float) and math.isnan(v))
    dv = "" if missing else repr(float(v))
    cls = f' class="{mark}"' if mark else ""
    return f'<td data-v="{dv}"{cls}>{esc(format_value(v) if text is None else text)}{extra}</td>'


def _row_lookup(run: RunData, protocol: str, trimap_set: str) -> dict[str, dict[str, Any]]:
    return {str(r["model"]): r for r in run.section(protocol, trimap_set).to_dict("records")}


def table_id(protocol: str, trimap_set: str) -> str:
    """The id of a ranked table (``#sort=ID:COLUMN[:desc]`` opens the page sorted by it)."""
    return f"lb-{protocol}-{trimap_set}"


def protocol_table(run: RunData, protocol: str, trimap_set: str) -> str:
    """The sortable table of one protocol and trimap set: Rank, Model, metrics (with intervals), vs best,
    Input, Inference rule.  One table per trimap set keeps the page within a 1400 px window."""
    metrics = run.metrics(protocol)
    rows = _row_lookup(run, protocol, trimap_set)
    models = list(rows)
    heads = ["<th>Rank</th>", '<th class="l">Model</th>',
             *[f"<th>{esc(run.header(protocol, m))}</th>" for m in metrics],
             f'<th class="l">vs best ({esc(run.rank_by.upper())})</th>', '<th class="l">Input</th>',
             '<th class="l">Inference rule</th>']
    mk = {m: dict(zip(models, marks([rows[n].get(m) for n in models]), strict=True)) for m in metrics}
    body = []
    for n in models:
        r = rows[n]
        cells = [num_cell(r.get("rank")), f'<td class="l">{esc(run.label(n))}</td>']
        cells += [num_cell(r.get(m), mk[m][n], f'<br><span class="ci">{esc(ci_text(r, m))}</span>')
                  for m in metrics]
        cells += [f'<td class="l w">{esc(vs_best_text(r))}</td>', f'<td class="l w">{esc(r["input"])}</td>',
                  f'<td class="l w">{esc(run.rule(n))}</td>']
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table class="sortable" id="{esc(table_id(protocol, trimap_set))}"><thead><tr>{"".join(heads)}'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def plain_table(heads: list[str], rows: list[list[str]], table_id: str) -> str:
    h = "".join(f"<th class=l>{esc(x)}</th>" for x in heads)
    b = "".join("<tr>" + "".join(f'<td class="l w">{esc(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f'<table class="sortable" id="{esc(table_id)}"><thead><tr>{h}</tr></thead><tbody>{b}</tbody></table>'


def _figure(title: str, uri: str) -> str:
    return f'<figure><img src="{uri}" alt="{esc(title)}"><figcaption>{esc(title)}</figcaption></figure>'


def drilldown(run: RunData, max_images: int = MAX_IMAGES) -> str:
    """Per-image thumbnails and values (first trimap set's predictions, first protocol's metrics)."""
    s0, p0 = run.sets[0], run.protocols[0]
    samples = run.samples(s0)[:max_images]
    models = run.models()
    tables = {n: run.per_image(n, p0, s0).set_index("name") for n in models}
    out = []
    for smp in samples:
        sid = str(smp["id"])
        gt = read_alpha(smp["alpha"])
        figs = [_figure("image", thumb(read_image(smp["image"]))), _figure("ground truth", thumb(gt))]
        figs += [_figure(f"trimap {run.set_label(s)}", thumb(read_trimap(run.samples(s)[run.samples(s0).index(smp)]
                                                                         ["trimap"]))) for s in run.sets]
        vals = []
        for n in models:
            v = tables[n][run.rank_by].get(sid) if sid in tables[n].index else None
            vals.append(f"{run.label(n)} {format_value(v)}")
            f = run.prediction(n, s0, sid)
            if f is None:
                continue
            pred = read_alpha(f)
            figs += [_figure(run.label(n), thumb(pred)), _figure(f"{run.label(n)} error", error_map(pred, gt))]
        head = f"{esc(sid)}: {esc(run.header(p0, run.rank_by))} " + esc("; ".join(vals))
        out.append(f"<details><summary>{head}</summary>{''.join(figs)}</details>")
    more = len(run.samples(s0)) - len(samples)
    note = f"<p class=note>{more} more images are not shown (see per_image/*.csv).</p>" if more > 0 else ""
    return "".join(out) + note


def html_report(run: RunData, plots: list[tuple[str, Path]], max_images: int = MAX_IMAGES) -> str:
    """The whole page as text."""
    t = run.record.track
    n = int(run.table["n_images"].max()) if len(run.table) else 0
    parts = [f"<h1>Leaderboard: {esc(t['name'])} ({esc(t['kind'])} track, {n} images)</h1>",
             f"<p class=note>Made {esc(run.record.created)} by matting-data {esc(run.record.toolkit_version)}. "
             f"{esc(SCALE_LEGEND)} {esc(run.stats_note())} Lower is better; best value of each column in bold, "
             "second underlined. Click a header to sort.</p>"]
    for p in run.protocols:
        desc = run.record.protocols[p]["description"]
        parts += [f"<h2>Protocol {esc(p)}</h2>", f"<p class=note>{esc(desc)}. Ranked by "
                  f"{esc(run.rank_by.upper())} within each trimap set.</p>"]
        for s in run.sets:
            parts += [f"<h3>Protocol {esc(p)}, trimap set {esc(run.set_label(s))}</h3>",
                      f"<p class=note>{esc(run.trimap_note(s))}</p>", protocol_table(run, p, s)]
    notes = run_notes(run)
    if notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>"]
    heads, rows = provenance_rows(run)
    parts += ["<h2>Provenance</h2>", plain_table(heads, rows, "provenance")]
    for i, (title, gh, gr) in enumerate(group_sections(run)):
        parts += [f"<h2>{esc(title)}</h2>", plain_table(gh, gr, f"groups-{i}")]
    parts.append("<h2>Plots</h2>")
    parts += [plot_img(title, path) for title, path in plots]
    parts += ["<h2>Per image</h2>", f"<p class=note>Protocol {esc(run.protocols[0])}, trimap set "
              f"{esc(run.set_label(run.sets[0]))}; error map: |prediction - ground truth| "
              "(black 0, yellow 1).</p>", drilldown(run, max_images)]
    return page(f"Leaderboard: {t['name']}", parts)


def plot_img(title: str, path: Path) -> str:
    """A plot PNG embedded in the page (``data:`` URI), titled."""
    return f'<img class="plot" src="{data_uri(path.read_bytes())}" alt="{esc(title)}" title="{esc(title)}">'


def page(title: str, parts: list[str]) -> str:
    """A self-contained HTML page: ``title``, the report's CSS, ``parts`` in order, the table-sorting script."""
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + f"<script>{JS}</script></body></html>\n")


def write_html(run: RunData, root: Path) -> Path:
    """Write ``root/plots/*.png`` and ``root/leaderboard.html`` (the plots embedded); return the page's path."""
    from .plots import make_plots

    plots = make_plots(run, root / "plots")
    return write_text_atomic(root / "leaderboard.html", html_report(run, plots))


def chromium() -> str | None:
    """The path of a Chromium executable (``$CHROMIUM``, ``chromium``, ``chromium-browser``), or ``None``."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name) if name else None
        if found:
            return found
    return None


def render_png(page: Path, png: Path, width: int = 1200, height: int = 1600, timeout: float = 120) -> Path:
    """Render an HTML page to a PNG screenshot with headless Chromium (for a README or a check).

    Raises
    ------
    InputError
        Chromium is not installed (``apt-get install chromium``) or wrote no screenshot.
    """
    from ...errors import InputError

    exe = chromium()
    if exe is None:
        raise InputError("a screenshot needs Chromium: apt-get install chromium (or set $CHROMIUM)")
    import os

    png = Path(png)
    if png.suffix.lower() != ".png":
        raise InputError(f"--screenshot {png}: a screenshot is a .png file")
    png.parent.mkdir(parents=True, exist_ok=True)
    tmp = png.with_name(f".{png.stem}.{os.getpid()}.part.png")  # fresh: an existing file never passes as written
    tmp.unlink(missing_ok=True)
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={tmp}", Path(page).resolve().as_uri()]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        ok = tmp.is_file() and tmp.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        if not ok:
            raise InputError(f"Chromium wrote no screenshot of {page}: {res.stderr.strip()[-300:] or 'no output'}")
        os.replace(tmp, png)
    finally:
        tmp.unlink(missing_ok=True)
    return png
