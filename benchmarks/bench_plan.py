"""Planning: building, listing and serialising large parameter spaces (no GMAT)."""

from __future__ import annotations

from typing import Any

import xarray as xr

import xsweep as xs

from ._common import pick


class PlanSuite:
    """A Monte Carlo block times a grid axis: ``n`` points in all."""

    params = (pick([10_000, 100_000], [1_000]),)
    param_names = ("n",)
    timeout = 300

    def setup(self, n: int) -> None:
        self.ds = self.build(n)
        self.space = xs.Space(self.ds)
        self.json = self.space.to_json()

    @staticmethod
    def build(n: int) -> xr.Dataset:
        mc = xs.monte_carlo(
            n // 4,
            {"Sat.SMA": ("normal", 7000.0, 5.0), "Sat.ECC": ("uniform", 0.0, 0.01)},
            seed=42,
        )
        return xr.merge([mc, xs.grid({"Sat.INC": [28.5, 51.6, 90.0, 98.0]})])

    def time_build_space(self, n: int) -> None:
        xs.Space(self.build(n))

    def time_run_table(self, n: int) -> None:
        self.space.runs()

    def time_every_run_lazily(self, n: int) -> None:
        for run_id in range(0, n, max(1, n // 1000)):
            self.space.run(run_id)

    def time_to_json(self, n: int) -> None:
        self.space.to_json()

    def time_from_json_verified(self, n: int) -> None:
        xs.Space.from_json(self.json)

    def peakmem_plan(self, n: int) -> Any:
        space = xs.Space(self.build(n))
        return space.to_json(), space.runs()
