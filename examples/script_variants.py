"""Script variants: one sweep over three versions of a mission, on a ``script`` dim.

The point-mass mission and a J2 + drag version of it fly the same grid of initial SMA in
one sweep: ``xs.run({"two_body": ..., "j2_drag": ...}, space)``. A third variant, the
drag mission with a spacecraft a quarter of the mass (four times the drag deceleration),
is added afterwards with ``xs.extend(d, scripts={...})``; only its runs run. The plot
shows each variant's final altitude minus the two-body one, by initial SMA: J2 alone moves
it by up to a kilometre, drag takes kilometres below 6700 km, and the light spacecraft
loses about four times what the heavy one does.
"""

from __future__ import annotations

import shutil

import matplotlib.pyplot as plt
from _common import MISSIONS, out_dir

import xsweep as xs


def main() -> None:
    out = out_dir(__doc__.splitlines()[0])
    sweep_dir = out / "script_variants"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    drag = MISSIONS / "leo_drag.script"
    light = out / "leo_drag_light.script"  # a modified copy, as an analyst would make
    light.write_text(drag.read_text().replace("Sat.DryMass = 850;", "Sat.DryMass = 212.5;"))
    # --8<-- [start:run]
    space = xs.grid({"Sat.SMA": [6600.0, 6650.0, 6700.0, 6800.0, 6900.0, 7000.0]})
    space = space.merge(xs.fixed({"TOF": 5400}))
    scripts = {"two_body": MISSIONS / "leo_report.script", "j2_drag": drag}
    xs.run(scripts, space, out=sweep_dir, progress=False)
    sweep = xs.extend(sweep_dir, scripts={"j2_drag_light": light}, progress=False)
    final = xs.open_sweep(sweep_dir).xsweep.final()["Sat.Earth.Altitude"]
    change = final - final.sel(script="two_body")  # by label, over the script dim
    # --8<-- [end:run]
    print(f"{sweep.counts['ok']} runs ok over {final.sizes['script']} variants")
    change = change.load()

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.5), layout="constrained")
    for name in ("j2_drag", "j2_drag_light"):
        line = change.sel(script=name)
        left.plot(line["Sat.SMA"], line, marker="o", label=name)
    left.axhline(0.0, color="grey", linewidth=0.8)
    left.set_xlabel("initial SMA [km]")
    left.set_ylabel("final altitude - two-body [km]")
    left.set_title("Each variant against the two-body mission")
    left.legend(fontsize="small")
    loss = (change.sel(script="j2_drag_light") - change.sel(script="j2_drag")) * 1000.0
    right.plot(loss["Sat.SMA"], loss, marker="s", color="tab:red")
    right.set_yscale("symlog", linthresh=1.0)
    right.set_xlabel("initial SMA [km]")
    right.set_ylabel("light - heavy [m]")
    right.set_title("Extra drag loss of the light spacecraft (added variant)")
    fig.suptitle("One sweep, three scripts: final altitude after 90 min")
    fig.savefig(out / "script_variants.png", dpi=110)
    print(out / "script_variants.png")


if __name__ == "__main__":
    main()
