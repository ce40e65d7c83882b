"""The top-level API: every exported name resolves, the import stays light, names keep working."""

from __future__ import annotations

import subprocess
import sys

import pytest

import matting_data


def test_every_exported_name_resolves_to_a_documented_object():
    for name in matting_data.__all__:
        obj = getattr(matting_data, name)
        if name != "__version__":
            assert (obj.__doc__ or "").strip(), f"matting_data.{name} has no docstring"


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        matting_data.nope  # noqa: B018


def test_import_is_light():
    code = "import sys, matting_data; print(sorted(m for m in ('torch', 'cv2', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_top_level_names_are_the_module_objects():
    from matting_data.io import quantize
    from matting_data.models import get_model
    from matting_data.trimap import tt_trimap

    assert matting_data.quantize is quantize and matting_data.get_model is get_model
    assert matting_data.tt_trimap is tt_trimap


def test_one_quantiser_for_writer_trimap_and_metrics():
    """0.6098039 rounds the same way wherever it is quantised (it used to give 156 and 155)."""
    import numpy as np

    from matting_data.metrics import as_matte8
    from matting_data.trimap import quantize_alpha

    a = np.full((2, 2), 0.6098039, np.float32)
    assert quantize_alpha(a)[0, 0] == as_matte8(a)[0, 0] == matting_data.quantize(a)[0, 0] == 155


def test_datasets_package_exports_its_entry_points():
    import matting_data.datasets as ds
    from matting_data.datasets.splits import build_split

    assert {"ingest", "build_split", "export_hf", "Track", "obfuscate"} <= set(ds.__all__)
    assert ds.build_split is build_split
    for name in ds.__all__:
        assert getattr(ds, name) is not None
