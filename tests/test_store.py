import numpy as np
import pytest
import xarray as xr

from rvae_pathways.core.store import ZarrAppender


def test_appender_writes_all_rows_in_fixed_chunks(tmp_path):
    store = ZarrAppender(tmp_path / "t.zarr", "row", chunk_rows=5, attrs={"a": 1}, extra_dims={"img": ("u", "v")})
    expected = []
    for i in range(7):  # 3 rows at a time: flushes straddle appends
        values = np.arange(3) + 3 * i
        store.append(value=values, img=np.ones((3, 2, 2)) * values[:, None, None])
        expected.extend(values)
        assert store._buffered < 5  # memory holds less than one chunk
    assert store.close() == 21
    ds = xr.open_zarr(tmp_path / "t.zarr")
    np.testing.assert_array_equal(ds["value"].values, expected)
    np.testing.assert_array_equal(ds["img"].values[:, 0, 0], expected)
    assert ds["value"].chunks[0] == (5, 5, 5, 5, 1)
    assert ds.attrs["a"] == 1


def test_appender_rejects_ragged_or_changing_columns(tmp_path):
    store = ZarrAppender(tmp_path / "t.zarr", "row", chunk_rows=5)
    with pytest.raises(ValueError):
        store.append(a=np.zeros(2), b=np.zeros(3))
    store.append(a=np.zeros(2))
    with pytest.raises(ValueError):
        store.append(b=np.zeros(2))


def test_appender_writes_coordinates_of_trailing_dimensions_once(tmp_path):
    store = ZarrAppender(tmp_path / "t.zarr", "row", chunk_rows=4, extra_dims={"z": ("latent",)},
                         coords={"latent": [1, 2]})
    for i in range(3):
        store.append(z=np.full((3, 2), i, dtype=np.float32))
    assert store.close() == 9
    ds = xr.open_zarr(tmp_path / "t.zarr")
    assert list(ds["latent"].values) == [1, 2]
    assert ds["z"].dims == ("row", "latent")
    np.testing.assert_array_equal(ds["z"].values[:, 0], np.repeat(np.arange(3.0), 3))
