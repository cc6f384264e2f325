"""The consolidated Zarr store and open_sweep on synthetic sweeps: no GMAT needed.

``xsweep.testing.synthetic`` writes what a sweep writes (a manifest, per-run
Parquet) with made-up orbits; what reads a store sees no difference.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import dask
import numpy as np
import pytest
import xarray as xr

import xsweep as xs
from xsweep.testing.synthetic import make_sweep


def test_the_store_is_lazy(synthetic: Path) -> None:
    calls: list[int] = []

    def counting(dsk: Any, keys: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return dask.get(dsk, keys, **kwargs)

    with dask.config.set(scheduler=counting):
        ds = xs.open_sweep(synthetic)
        one = ds["Sat.Earth.Altitude"].sel(sample=3)
        assert calls == []  # opening and slicing computed nothing
        one.values  # noqa: B018
        assert calls


def test_consolidate_rebuilds_an_identical_store(synthetic: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(synthetic, copy)
    before = xs.open_sweep(copy).load()
    shutil.rmtree(copy / "sweep.zarr")
    with pytest.raises(xs.StoreError, match=r"xs\.consolidate"):
        xs.open_sweep(copy)
    xs.consolidate(copy)
    xr.testing.assert_identical(xs.open_sweep(copy).load(), before)


def test_bad_paths_and_newer_stores_are_refused(synthetic: Path, tmp_path: Path) -> None:
    with pytest.raises(xs.ConfigError, match="not a sweep directory"):
        xs.open_sweep(tmp_path)
    (tmp_path / "bundle.zip").write_bytes(b"PK")
    with pytest.raises(xs.ConfigError, match="zip"):
        xs.open_sweep(tmp_path / "bundle.zip")
    copy = tmp_path / "copy"
    shutil.copytree(synthetic, copy)
    meta = copy / "sweep.zarr" / "zarr.json"
    doc = json.loads(meta.read_text())
    doc["attributes"]["xsweep_store_schema"] = 99
    meta.write_text(json.dumps(doc))
    with pytest.raises(xs.StoreError, match="upgrade xsweep"):
        xs.open_sweep(copy)
    with pytest.raises(xs.ConfigError, match="names no single output"):
        xs.open_sweep(synthetic, group="nope")


def test_selecting_one_run_reads_only_its_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import zarr.storage

    # Long reports: one run per Zarr chunk, 64 runs per shard file.
    path = make_sweep(tmp_path / "syn", 64, 4000)
    xs.consolidate(path)
    reads: list[tuple[str, int]] = []
    get, get_sync = zarr.storage.LocalStore.get, zarr.storage.LocalStore.get_sync

    def count(key: str, buf: Any) -> Any:
        if key.startswith("reports/RF/Sat.X/c"):
            reads.append((key, 0 if buf is None else len(buf)))
        return buf

    async def counting(self: Any, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        return count(key, await get(self, key, prototype, byte_range))

    def counting_sync(self: Any, key: str, **kwargs: Any) -> Any:
        return count(key, get_sync(self, key, **kwargs))

    # Both ways Zarr reads: its async pipeline, and the fused one open_sweep picks.
    monkeypatch.setattr(zarr.storage.LocalStore, "get", counting)
    monkeypatch.setattr(zarr.storage.LocalStore, "get_sync", counting_sync)
    ds = xs.open_sweep(path)
    # In this process (not on a Client's workers, which other tests may have set up).
    with dask.config.set(scheduler="sync"):
        one = ds["Sat.X"].sel(sample=17).values
        assert np.isfinite(one[:3600]).all()
        one_bytes = sum(n for _, n in reads)
        reads.clear()
        ds["Sat.X"].values  # noqa: B018
        all_bytes = sum(n for _, n in reads)
    # One run's chunk (plus the shard's small index), not the shard of 64 runs.
    assert 0 < one_bytes < all_bytes / 20
