"""Quick start: run a real GMAT mission on the embedded engine and print the result.

Runs examples/missions/leo_report.script three times with different
semi-major axes (``Sat.SMA``) and a 20-minute flight (``TOF``, a script
Variable), writes each run's report as Parquet under ``examples/out/``, and
prints the final state of each run.
"""

from __future__ import annotations

from pathlib import Path

import xsweep as xs

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "missions" / "leo_report.script"
OUT = HERE / "out" / "quickstart"


def main() -> None:
    engine = xs.get_engine()
    info = engine.info
    print(f"GMAT engine: {info.kind} {info.gmat_version} (gmatpy {info.gmatpy_version})")
    print(f"{'Sat.SMA [km]':>12}  {'status':>6}  {'rows':>4}  {'final alt. [km]':>15}  GMAT [ms]")
    for sma in (6900.0, 7100.0, 7300.0):
        outcome = xs.run_mission(
            SCRIPT, {"Sat.SMA": sma, "TOF": 1200}, out_dir=OUT / f"sma-{sma:.0f}"
        )
        report = xs.read_output(OUT / f"sma-{sma:.0f}" / outcome.output("report", "RF").path)
        final = report["Sat.Earth.Altitude"].iloc[-1]
        ms = outcome.gmat_s * 1e3
        print(f"{sma:12.1f}  {outcome.status:>6}  {len(report):4d}  {final:15.3f}  {ms:9.1f}")
    print(f"Parquet outputs in {OUT}")


if __name__ == "__main__":
    main()
