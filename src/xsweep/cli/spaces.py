"""The command line's grammar of spaces: ``FIELD=SPEC`` values, ``--perturb`` and tables.

Every form maps onto the Python API (``xs.grid``, ``xs.samples``,
``xs.monte_carlo``, ``xs.latin_hypercube``, merged): the CLI builds no space
of its own. Imports of numpy, pandas and xarray wait until a space is built,
so ``xsweep --help`` and ``xsweep show`` start fast.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xsweep.core.epochs import is_epoch_field
from xsweep.core.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np
    import xarray as xr

_DISTRIBUTIONS = ("normal", "uniform", "lognormal")


class SpecError(ConfigError):
    """A malformed value in the command-line grammar (``FIELD=SPEC``, ``--perturb``)."""


def parse_scalar(text: str) -> int | float | str:
    """Read one value: an integer, a float, or (anything else) a string.

    A value in single quotes is a string, as in a GMAT script: ``'42'``.
    """
    text = text.strip()
    if _unquoted(text) != text:
        return _unquoted(text)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _number(text: str) -> int | float | None:
    value = parse_scalar(text)
    return value if isinstance(value, int | float) and text.strip() else None


def parse_assignment(text: str, option: str) -> tuple[str, str]:
    """Split ``FIELD=SPEC`` at its first ``=``."""
    field, sep, spec = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise SpecError(f"{option} {text!r}: expected FIELD=SPEC")
    if not spec.strip():
        raise SpecError(f"{option} {text!r}: no values after '='")
    return field, spec


def parse_storage_options(items: Sequence[str]) -> dict[str, Any] | None:
    """Read ``--storage-option KEY=VALUE`` items: ``a.b=v`` nests, true/false are booleans."""
    options: dict[str, Any] = {}
    for item in items:
        key, value = parse_assignment(item, "--storage-option")
        *outer, last = key.split(".")
        where = options
        for part in outer:
            where = where.setdefault(part, {})
            if not isinstance(where, dict):
                raise SpecError(f"--storage-option {item!r}: {part} is already a value")
        flag = {"true": True, "false": False}.get(value.strip().lower())
        where[last] = flag if flag is not None else parse_scalar(value)
    return options or None


def _range(field: str, parts: list[str]) -> np.ndarray:
    import numpy as np

    start, stop = _number(parts[0]), _number(parts[1])
    assert start is not None
    assert stop is not None
    num = parse_scalar(parts[2])
    if not isinstance(num, int) or num < 1:
        raise SpecError(f"{field}: start:stop:num needs a whole num >= 1, got {parts[2]!r}")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise SpecError(f"{field}: start and stop must be finite, got {parts[0]!r}:{parts[1]!r}")
    if isinstance(start, int) and isinstance(stop, int):
        step, rest = divmod(stop - start, num - 1) if num > 1 else (0, 0)
        if rest == 0:  # whole-number steps between whole numbers stay integers
            return np.asarray([start + i * step for i in range(num)], dtype=np.int64)
    return np.linspace(float(start), float(stop), num)


def _from_file(field: str, path_text: str) -> Any:
    path = Path(path_text).expanduser()
    table = _read_table(path)
    if field in table.columns:
        return table[field].to_numpy()
    if len(table.columns) == 1:
        return table.iloc[:, 0].to_numpy()
    raise SpecError(
        f"{field}: {path} has columns {list(map(str, table.columns))}; "
        f"name one {field!r} or give a single column"
    )


def _read_table(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pd.read_parquet(path)
        else:
            table = pd.read_csv(path, skipinitialspace=True)
    except Exception as exc:
        raise SpecError(f"{path}: cannot read it as a table ({exc})") from None
    if table.empty:
        raise SpecError(f"{path}: the table has no rows")
    return table


def parse_values(field: str, spec: str) -> Any:
    """Read a value SPEC: ``start:stop:num``, ``v1,v2,...`` or ``@file.csv``.

    ``start:stop:num`` is ``numpy.linspace(start, stop, num)`` (inclusive); when
    ``start`` and ``stop`` are integers and the step is whole, the values are
    integers. A list is split like one CSV row (quote a value holding a comma);
    each item is an integer, a float, or else a string (``'42'`` in single quotes is the
    string ``42``). ``@file`` reads a CSV
    (or ``.parquet``) file's column named ``field``, or its only column.

    Examples
    --------
    >>> parse_values("Sat.SMA", "7000:7200:3").tolist()
    [7000, 7100, 7200]
    >>> parse_values("Sat.ECC", "0:1:3").tolist()
    [0.0, 0.5, 1.0]
    >>> parse_values("Sat.INC", "28.5,51.6,98")
    [28.5, 51.6, 98]
    >>> parse_values("Sat.Epoch", '"01 Jan 2026 00:00:00.000"')
    ['01 Jan 2026 00:00:00.000']

    An epoch field's values stay the text typed (in any ``DateFormat``):

    >>> parse_values("DefaultSC.Epoch", "21545,21546")
    ['21545', '21546']
    """
    text = spec.strip()
    if text.startswith("@"):
        return _from_file(field, text[1:])
    parts = text.split(":")
    if len(parts) == 3 and _number(parts[0]) is not None and _number(parts[1]) is not None:
        return _range(field, parts)
    if len(parts) > 1 and all(_number(p) is not None for p in parts):
        raise SpecError(
            f"{field}={spec!r}: a range is START:STOP:NUM, NUM values from START to STOP "
            "(e.g. 7000:7400:5); a list is V1,V2,..."
        )
    try:
        rows = list(csv.reader([text], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise SpecError(f"{field}={spec!r}: not a comma-separated list ({exc})") from None
    items = rows[0] if len(rows) == 1 else []
    if not items or any(not item.strip() for item in items):
        raise SpecError(f"{field}={spec!r}: empty value in the list")
    if is_epoch_field(field):  # an epoch is text in any DateFormat: kept as typed
        return [_unquoted(item.strip()) for item in items]
    return [parse_scalar(item) for item in items]


def _unquoted(text: str) -> str:
    """Drop one pair of single quotes, as a GMAT script writes a string (``'01 Jan 2026'``)."""
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def parse_fixed(field: str, spec: str) -> Any:
    """Read ``--fixed FIELD=VALUE``: one value (quote a string holding a comma).

    Examples
    --------
    >>> parse_fixed("TOF", "86400")
    86400
    >>> parse_fixed("Sat.Epoch", "01 Jan 2026 00:00:00.000")
    '01 Jan 2026 00:00:00.000'
    """
    values = parse_values(field, spec)
    if len(values) != 1:
        raise SpecError(f"--fixed {field}={spec!r}: one value (a varied field is --grid)")
    return values[0]


def parse_perturb(text: str) -> tuple[str, tuple[Any, ...]]:
    """Read ``FIELD=normal:MU:SIGMA`` (or ``uniform:LO:HI``, ``lognormal:MU:SIGMA``).

    ``nominal`` for a number is the field's value in the script
    (``xs.nominal``), and ``scale:LO:HI`` that value times a uniform factor.

    Examples
    --------
    >>> parse_perturb("Sat.SMA=normal:7000:5")
    ('Sat.SMA', ('normal', 7000.0, 5.0))
    >>> parse_perturb("Sat.Cd=scale:0.9:1.1")
    ('Sat.Cd', ('scale', 0.9, 1.1))
    """
    from xsweep.space.draws import RELATIVE, nominal

    field, spec = parse_assignment(text, "--perturb")
    name, *params = (p.strip() for p in spec.split(":"))
    if name not in (*_DISTRIBUTIONS, RELATIVE):
        raise SpecError(
            f"--perturb {text!r}: unknown distribution {name!r}; expected one of "
            f"{', '.join(_DISTRIBUTIONS)} (normal:MU:SIGMA, uniform:LO:HI, lognormal:MU:SIGMA; "
            "nominal for the script's value) or scale:LO:HI (the script's value times U(LO, HI))"
        )
    numbers = [nominal if p == "nominal" and name != RELATIVE else _number(p) for p in params]
    if len(params) != 2 or any(n is None for n in numbers):
        raise SpecError(f"--perturb {text!r}: expected {name}:A:B with two numbers")
    a, b = (n if n is nominal else float(n) for n in numbers)  # type: ignore[arg-type]
    return field, (name, a, b)


def parse_grid(texts: Sequence[str]) -> dict[str, Any]:
    """Read ``--grid FIELD=SPEC`` options into ``{field: values}``."""
    grid: dict[str, Any] = {}
    for text in texts:
        field, spec = parse_assignment(text, "--grid")
        if field in grid:
            raise SpecError(f"--grid {field} is given twice")
        grid[field] = parse_values(field, spec)
    return grid


def parse_scripts(texts: Sequence[str]) -> dict[str, str]:
    """Read ``--script NAME=PATH`` options into ``{name: path}``: script variants."""
    scripts: dict[str, str] = {}
    for text in texts:
        name, sep, path = text.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise SpecError(f"--script {text!r}: expected NAME=PATH")
        if name in scripts:
            raise SpecError(f"--script {name} is given twice")
        scripts[name] = path
    return scripts


def run_scripts(script: str | None, variants: Sequence[str]) -> tuple[Any, str]:
    """Return what ``run`` runs (SCRIPT, or ``--script NAME=PATH`` variants) and a script path."""
    if (script is None) == (not variants):
        raise SpecError("give the mission SCRIPT, or script variants as --script NAME=PATH")
    if script is not None:
        return script, script
    scripts = parse_scripts(variants)
    return scripts, next(iter(scripts.values()))


def script_option(texts: Sequence[str] | None) -> str | dict[str, str] | None:
    """Read resume's ``--script``: one PATH, or NAME=PATH per variant of a variant sweep."""
    if not texts:
        return None
    if len(texts) == 1 and ("=" not in texts[0] or Path(texts[0]).is_file()):
        return texts[0]
    return parse_scripts(texts)


def read_block(text: str) -> tuple[tuple[str, ...], tuple[str, Any, Any]] | dict[str, Any]:
    """Read a correlated block from a file: its fields and ``("mvnormal", mean, cov)``.

    JSON or YAML: ``{"fields": [...], "mean": [...], "cov": [[...], ...]}``.
    CSV: a header of the fields, a row labelled ``mean``, then one row per
    field (labelled with it) of the covariance. A JSON or YAML block around a
    spacecraft's nominal state, ``{"spacecraft": "Sat", "frame": "RIC",
    "cov": [[...]], "mean": [...]}`` (``mean`` optional), is returned as that
    mapping, for :func:`xsweep.state_block` once the script is known.
    """
    path = Path(text).expanduser()
    if not path.is_file():
        raise SpecError(f"--perturb-block {text!r}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            import pandas as pd

            frame = pd.read_csv(path, index_col=0)
            fields = [str(c) for c in frame.columns]
            mean = frame.loc["mean", fields].to_numpy(dtype=float).tolist()
            cov = frame.loc[fields, fields].to_numpy(dtype=float).tolist()
        else:
            raw = path.read_text()
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml  # type: ignore[import-untyped]

                data = yaml.safe_load(raw)
            else:
                data = json.loads(raw)
            if isinstance(data, dict) and "spacecraft" in data:
                unknown = set(data) - {"spacecraft", "frame", "cov", "mean", "rotating"}
                if unknown or "cov" not in data:
                    raise ValueError(f"a state block takes spacecraft, frame, cov, mean, "
                                     f"rotating; got {sorted(data)}")  # fmt: skip
                return dict(data)
            fields, mean, cov = list(data["fields"]), data["mean"], data["cov"]
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(
            f"--perturb-block {text!r}: expected fields, mean and cov, or spacecraft, frame "
            f"and cov ({type(exc).__name__}: {exc})"
        ) from None
    return tuple(str(f) for f in fields), ("mvnormal", mean, cov)


def build_space(
    *,
    grid: Sequence[str] = (),
    fixed: Sequence[str] = (),
    zipped: Sequence[str] = (),
    perturb: Sequence[str] = (),
    perturb_block: Sequence[str] = (),
    n: int | None = None,
    seed: int | None = None,
    method: str = "monte_carlo",
    table: str | None = None,
    zip_dim: str = "zip",
    second_order: bool = False,
    script: str | None = None,
    engine: str = "auto",
    gmat_root: str | None = None,
) -> xr.Dataset:
    """Build the space the command-line options describe, with the Python API.

    ``--grid`` fields are full-factorial dims; ``--fixed`` fields are constants
    (no dim); ``--zip`` fields vary together
    on ``zip_dim``; ``--perturb`` fields are drawn (``n`` samples, ``method``)
    on ``sample``; a ``--table`` gives explicit rows on ``sample``. The parts
    are merged (every combination of them). A ``--perturb-block`` around a
    spacecraft's state is read from ``script`` (on ``engine``).
    """
    import xarray as xr

    import xsweep as xs

    seen: set[str] = set()

    def take(field: str) -> str:
        if field in seen:
            raise SpecError(f"{field} is given twice")
        seen.add(field)
        return field

    def assigned(texts: Sequence[str], option: str, parse: Callable[[str, str], Any]) -> Any:
        pairs = [parse_assignment(text, option) for text in texts]
        return {take(field): parse(field, spec) for field, spec in pairs}

    parts: list[xr.Dataset] = []
    if grid_fields := assigned(grid, "--grid", parse_values):
        parts.append(xs.grid(grid_fields))
    if zip_fields := assigned(zipped, "--zip", parse_values):
        parts.append(xs.samples(zip_fields, dim=zip_dim))
    if table is not None:
        frame = _read_table(Path(table).expanduser())
        for column in frame.columns:
            take(str(column))
        parts.append(xs.samples(frame))
    dists: dict[Any, Any] = {}
    for text in perturb:
        field, dist = parse_perturb(text)
        dists[take(field)] = dist
    for text in perturb_block:
        read = read_block(text)
        if isinstance(read, dict):
            if script is None:
                raise SpecError(f"--perturb-block {text!r}: a state block needs the script")
            read = _state_block(script, read, engine, gmat_root)
        fields, block = read
        dists[tuple(take(f) for f in fields)] = block
    if dists:
        if n is None:
            raise SpecError("--perturb needs --n (the number of samples)")
        if method == "saltelli":
            parts.append(xs.saltelli(n, dists, seed=seed, second_order=second_order, script=script))
        elif method in ("sobol", "halton", "lhs"):
            parts.append(xs.qmc(n, dists, method=method, seed=seed, script=script))  # type: ignore[arg-type]
        else:
            make = xs.monte_carlo if method == "monte_carlo" else xs.latin_hypercube
            parts.append(make(n, dists, seed=seed, script=script))
    elif n is not None:
        raise SpecError("--n needs at least one --perturb field to draw")
    elif seed is not None:
        raise SpecError("--seed needs at least one --perturb field to draw")
    constants = assigned(fixed, "--fixed", parse_fixed)
    if not parts:
        raise SpecError("no parameters: give --grid, --zip, --perturb or --table")
    if constants:
        parts.append(xs.fixed(constants))
    return parts[0] if len(parts) == 1 else xr.merge(parts, combine_attrs="no_conflicts")


def _state_block(
    script: str, spec: dict[str, Any], engine: str, gmat_root: str | None
) -> tuple[tuple[str, ...], Any]:
    import xsweep as xs

    ((fields, block),) = xs.state_block(
        script,
        str(spec["spacecraft"]),
        spec["cov"],
        frame=str(spec.get("frame", "RIC")),
        mean=spec.get("mean"),
        rotating=bool(spec.get("rotating", False)),
        engine=engine,  # type: ignore[arg-type]
        gmat_root=gmat_root,
    ).items()
    return fields, block
