"""Every public name of ``xsweep`` and its module: what type checkers read.

``__init__.py`` hands this file to ``lazy_loader.attach_stub``, which loads each
name from its module on first use; so this list is the one place a public name
is added (``tests/test_layering.py`` checks every name resolves).
"""

from . import derived as derived
from ._version import __version__ as __version__
from .analysis.czml import to_czml as to_czml
from .analysis.handle import Sweep as Sweep
from .analysis.inspect import RunInfo as RunInfo
from .analysis.sobol import sobol as sobol
from .analysis.tables import (
    final as final,
    on_time_grid as on_time_grid,
    to_dataframe as to_dataframe,
)
from .core.envelope import Envelope as Envelope, envelope as envelope
from .core.errors import (
    BundleError as BundleError,
    ClusterError as ClusterError,
    ClusterStartError as ClusterStartError,
    ConfigError as ConfigError,
    DeriveError as DeriveError,
    DiskFullError as DiskFullError,
    EngineError as EngineError,
    FieldError as FieldError,
    FieldTypeError as FieldTypeError,
    ManifestCorruptError as ManifestCorruptError,
    ObjectStoreError as ObjectStoreError,
    RunFailedError as RunFailedError,
    ScriptDriftError as ScriptDriftError,
    ScriptLoadError as ScriptLoadError,
    ScriptNotFoundError as ScriptNotFoundError,
    SpaceError as SpaceError,
    StoreError as StoreError,
    SweepAbortedError as SweepAbortedError,
    SweepLockedError as SweepLockedError,
    UnsupportedFeatureError as UnsupportedFeatureError,
    XsweepError as XsweepError,
)
from .core.hooks import DeriveResult as DeriveResult
from .core.keep import Keep as Keep
from .core.missions import example_mission as example_mission, example_missions as example_missions
from .core.records import OutputFile as OutputFile, RunOutcome as RunOutcome
from .derived import Quantity as Quantity
from .execute.api import run as run
from .execute.continuing import (
    extend as extend,
    extend_until as extend_until,
    refly as refly,
    resume as resume,
)
from .execute.deriving import derive as derive
from .gmat.engine import EngineInfo as EngineInfo, get_engine as get_engine
from .gmat.mission import run_mission as run_mission
from .gmat.outputs import read_output as read_output
from .migrate.importing import import_sweep as import_sweep
from .pack.archive import archive as archive, extract as extract
from .record.source import Verification as Verification, verify as verify
from .sequential.adaptive import adapt as adapt, crossings as crossings
from .sequential.rare import Probability as Probability, probability as probability
from .space.designs import (
    fixed as fixed,
    grid as grid,
    latin_hypercube as latin_hypercube,
    monte_carlo as monte_carlo,
    qmc as qmc,
    samples as samples,
)
from .space.draws import nominal as nominal
from .space.frames import state_block as state_block
from .space.saltelli import saltelli as saltelli
from .space.settable import fields as fields
from .space.spaces import Run as Run, Space as Space
from .store.open import open_sweep as open_sweep
from .store.write import consolidate as consolidate
