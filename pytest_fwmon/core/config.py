"""One configuration object, built in a documented order and validated once.

Sources, later ones win (docs/reference/configuration.md):

1. defaults in :data:`SPEC` (and in each owned section's validator);
2. ``[tool.fwmon]`` in the project's ``pyproject.toml`` (sub-tables per pipeline);
3. environment variables in :data:`ENVIRONMENT`;
4. ``--fwmon-option SECTION.KEY=VALUE``;
5. dedicated command-line options (``--fwmon-report``, ``--fwmon-no-coverage`` ...).

Unknown keys and bad values raise :class:`~pytest_fwmon.core.errors.ConfigError` naming the key and
the valid choices. The sections of :data:`SPEC` are checked here; every other section
(:data:`SECTION_VALIDATORS`: quality, integration, perf, gate, history, slo, kpis, alerts,
dashboard) is checked by its owner's validator, which :func:`load_config` calls once, after
all sources are merged, for every such section any source sets (the validator's module is
imported only then). This is the only module that reads fwmon's settings from
``pyproject.toml`` or the environment; every other part receives the :class:`FwmonConfig`.
Standard library only.
"""

from __future__ import annotations

import builtins
import importlib
import os
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .errors import ConfigError
from .model import CONFIDENCES, PIPELINES, SEVERITIES


@dataclass(frozen=True, slots=True)
class Key:
    """Specification of one configuration key."""

    #: Default value (already of the right type).
    default: Any
    #: One of "str", "int", "float", "bool", "list".
    kind: str
    #: Allowed values for "str" keys and items of "list" keys.
    choices: tuple[str, ...] | None = None
    #: Inclusive lower bound for numbers.
    minimum: float | None = None
    #: Inclusive upper bound for numbers.
    maximum: float | None = None
    #: One line for the configuration reference.
    help: str = ""


_SEV = tuple(SEVERITIES)
_CONF = tuple(c for c in CONFIDENCES if c != "undefined")

#: Every key fwmon's plugin reads, per section ("" is ``[tool.fwmon]`` itself).
SPEC: Final[dict[str, dict[str, Key]]] = {
    "": {
        "paths": Key([], "list", help="files or folders to check; default: the project's packages"),
        "exclude": Key(
            [], "list", help="glob patterns (fnmatch on the relative path) to leave out"
        ),
        "pipelines": Key(list(PIPELINES), "list", choices=PIPELINES, help="pipelines to run"),
        "report": Key(".fwmon/report.json", "str", help="where the JSON report is written"),
        "cache": Key(True, "bool", help="replay results of unchanged files from the cache"),
        "cache_dir": Key(".fwmon/cache", "str", help="folder of the content-hash cache"),
        "workers": Key(1, "int", minimum=0, help="processes for static checkers; 0 = one per core"),
        "baseline": Key(
            "fwmon-baseline.json", "str", help="baseline of known findings (used when it exists)"
        ),
        "record_history": Key(True, "bool", help="append each run to the history store"),
        "history_url": Key("", "str", help="history store: a path or postgresql:// URL"),
        "freeze_gc": Key(
            True, "bool", help="gc.freeze() what collection built when the run starts (speed)"
        ),
    },
    "security": {
        "backend": Key("bandit", "str", choices=("bandit", "ruff"), help="checker backend"),
        "fail_on_severity": Key("medium", "str", choices=_SEV, help="lowest severity that fails"),
        "fail_on_confidence": Key(
            "medium", "str", choices=_CONF, help="lowest confidence that fails"
        ),
        "secrets": Key(True, "bool", help="detect-secrets on source and config files"),
    },
    "docs": {
        "backend": Key("pydocstyle", "str", choices=("pydocstyle", "ruff"), help="style backend"),
        "convention": Key(
            "pep257", "str", choices=("pep257", "numpy", "google"), help="pydocstyle convention"
        ),
        "fail_on_severity": Key("low", "str", choices=_SEV, help="lowest severity that fails"),
        "min_coverage": Key(80.0, "float", minimum=0, maximum=100, help="docstring coverage %"),
        "accuracy": Key(True, "bool", help="check documented parameters against signatures"),
        "accuracy_style": Key(
            "auto", "str", choices=("auto", "google", "numpy"), help="docstring style to parse"
        ),
    },
}

#: Validator of each section another package owns, as ``module:callable`` (imported only when
#: a source sets the section). Each takes the merged raw table and returns the validated
#: values, raising ConfigError (or ValueError) naming the key and the valid choices.
SECTION_VALIDATORS: Final = {
    "quality": "pytest_fwmon.checks.complexity:validate_quality_section",
    "integration": "pytest_fwmon.checks.integration:validate_integration_section",
    "perf": "pytest_fwmon.perf.settings:from_config",
    "gate": "pytest_fwmon.gate.policy:validate_gate_section",
    "history": "pytest_fwmon.history.cliutil:history_settings",
    "slo": "pytest_fwmon.history.slo:SloTargets.from_config",
    "kpis": "pytest_fwmon.history.kpis:parse_config",
    "alerts": "pytest_fwmon.alerts.settings:AlertSettings.from_config",
    "dashboard": "pytest_fwmon.dashboard.data:Options.from_config",
}

#: Sections validated by the package that owns them, kept raw here (see SECTION_VALIDATORS).
OWNED_ELSEWHERE: Final = frozenset(SECTION_VALIDATORS)

#: Environment variables and the key each one sets.
ENVIRONMENT: Final = {
    "FWMON_REPORT": ("", "report"),
    "FWMON_PIPELINES": ("", "pipelines"),
    "FWMON_CACHE": ("", "cache"),
    "FWMON_WORKERS": ("", "workers"),
    "FWMON_HISTORY_URL": ("", "history_url"),
    "FWMON_PACKAGING": ("integration", "packaging"),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _where(section: str, key: str) -> str:
    return f"[tool.fwmon{'.' + section if section else ''}] {key}"


def coerce(section: str, key: str, spec: Key, value: Any, *, from_text: bool = False) -> Any:
    """Check (and, for text from env/CLI, convert) one value; raise ConfigError if wrong."""
    where = _where(section, key)
    if from_text and isinstance(value, str):
        value = _from_text(spec.kind, value)
    value = _checked_type(where, spec.kind, value)
    if spec.choices is not None:
        _check_choices(where, spec.kind, spec.choices, value)
    if spec.kind in ("int", "float"):
        _check_bounds(where, spec, value)
    return value


def _text_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(text)


def _text_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


#: How text from the environment or the command line becomes a value of each kind; text that
#: does not parse stays text, and the type check below names it.
_FROM_TEXT: Final[dict[str, Callable[[str], Any]]] = {
    "bool": _text_bool,
    "int": int,
    "float": float,
    "list": _text_list,
}


def _from_text(kind: str, value: str) -> Any:
    parse = _FROM_TEXT.get(kind)
    if parse is None:
        return value
    try:
        return parse(value.strip())
    except ValueError:
        return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: Per kind: whether a value has that type, and what the error message asks for.
_TYPES: Final[dict[str, tuple[Callable[[Any], bool], str]]] = {
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "a whole number"),
    "float": (_is_number, "a number"),
    "str": (lambda v: isinstance(v, str), "a string"),
    "list": (
        lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v),
        "a list of strings",
    ),
}


def _checked_type(where: str, kind: str, value: Any) -> Any:
    """Return ``value`` (a float for "float" keys); raise ConfigError when it has another type."""
    check = _TYPES.get(kind)
    if check is not None and not check[0](value):
        raise ConfigError(f"{where} must be {check[1]}, got {value!r}")
    return float(value) if kind == "float" else value


def _check_choices(where: str, kind: str, choices: tuple[str, ...], value: Any) -> None:
    for item in value if kind == "list" else [value]:
        if item not in choices:
            raise ConfigError(
                f"{where} has invalid value {item!r}; valid choices: {', '.join(choices)}"
            )


def _check_bounds(where: str, spec: Key, value: float) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise ConfigError(f"{where} must be at least {spec.minimum:g}, got {value:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise ConfigError(f"{where} must be at most {spec.maximum:g}, got {value:g}")


def read_pyproject(root: Path) -> dict[str, Any]:
    """Return the whole parsed ``pyproject.toml`` under ``root`` ({} when there is none)."""
    path = root / "pyproject.toml"
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer too long to convert
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path} is not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None


class FwmonConfig:
    """Effective configuration: typed getters over validated values."""

    def __init__(
        self,
        root: Path,
        values: dict[str, dict[str, Any]],
        raw_sections: dict[str, dict[str, Any]],
        pyproject: dict[str, Any],
    ) -> None:
        """Hold the merged ``values`` of the SPEC sections and the raw owned sections."""
        #: Project root (pytest's rootdir).
        self.root = root
        self._values = values
        #: Tables of the sections other commands own (quality, perf, gate, ...).
        self.raw_sections = raw_sections
        #: The parsed pyproject.toml, for tool tables (bandit, pydocstyle) and metadata.
        self.pyproject = pyproject
        self._validated: dict[builtins.str, Any] = {}

    def get(self, section: builtins.str, key: builtins.str) -> Any:
        """Return the value of one key."""
        return self._values[section][key]

    def str(self, section: builtins.str, key: builtins.str) -> builtins.str:
        """Return the value of a string key."""
        value: builtins.str = self._values[section][key]
        return value

    def int(self, section: builtins.str, key: builtins.str) -> builtins.int:
        """Return the value of an integer key."""
        value: builtins.int = self._values[section][key]
        return value

    def float(self, section: builtins.str, key: builtins.str) -> builtins.float:
        """Return the value of a number key."""
        value: builtins.float = self._values[section][key]
        return value

    def bool(self, section: builtins.str, key: builtins.str) -> builtins.bool:
        """Return the value of a boolean key."""
        value: builtins.bool = self._values[section][key]
        return value

    def list(self, section: builtins.str, key: builtins.str) -> builtins.list[builtins.str]:
        """Return the value of a list-of-strings key."""
        value: builtins.list[builtins.str] = self._values[section][key]
        return value

    def section(self, name: builtins.str) -> dict[builtins.str, Any]:
        """Return a copy of a section's values (or the raw table of an owned-elsewhere section)."""
        if name in self._values:
            return dict(self._values[name])
        return dict(self.raw_sections.get(name, {}))

    def validated(self, section: builtins.str) -> Any:
        """Return the validated values of an owned section (what its validator returns), once.

        Raises ConfigError naming the key at fault and the valid choices.
        """
        if section not in self._validated:
            target = SECTION_VALIDATORS.get(section)
            if target is None:
                raise ConfigError(f"unknown section [tool.fwmon.{section}]")
            module, _, attr = target.partition(":")
            validator: Any = importlib.import_module(module)
            for part in attr.split("."):
                validator = getattr(validator, part)
            raw = self.raw_sections.get(section, {})
            if not isinstance(raw, dict):
                where = f"[tool.fwmon.{section}]"
                raise ConfigError(f"[tool.fwmon] {section} must be a table ({where})")
            try:
                self._validated[section] = validator(raw)
            except ConfigError:
                raise
            except ValueError as exc:  # perf's PerfSettingsError names the key itself
                raise ConfigError(str(exc)) from None
        return self._validated[section]

    def set_raw(self, section: builtins.str, key: builtins.str, value: Any) -> None:
        """Set a key of an owned section; checked by :meth:`validated` (as pyproject's are)."""
        self.raw_sections.setdefault(section, {})[key] = value
        self._validated.pop(section, None)

    def set(
        self,
        section: builtins.str,
        key: builtins.str,
        value: Any,
        *,
        from_text: builtins.bool = False,
    ) -> None:
        """Set a key after validating it (command line, environment)."""
        spec = _spec(section, key)
        self._values[section][key] = coerce(section, key, spec, value, from_text=from_text)


def _spec(section: str, key: str) -> Key:
    if section not in SPEC:
        valid = ", ".join(sorted([s for s in SPEC if s] + sorted(OWNED_ELSEWHERE)))
        raise ConfigError(f"unknown section [tool.fwmon.{section}]; valid sections: {valid}")
    keys = SPEC[section]
    if key not in keys:
        raise ConfigError(
            f"unknown key {_where(section, key)}; valid keys: {', '.join(sorted(keys))}"
        )
    return keys[key]


def load_config(
    root: Path,
    overrides: Sequence[str] = (),
    cli: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> FwmonConfig:
    """Build the effective, validated configuration for the project at ``root``.

    ``overrides`` are ``SECTION.KEY=VALUE`` strings (``KEY=VALUE`` for the top level);
    ``cli`` maps keys set by dedicated options (``KEY`` or ``SECTION.KEY``) to their (already
    typed) values; None values are left out. Every owned section a source sets is validated
    before this returns.
    """
    pyproject = read_pyproject(root)
    table = pyproject.get("tool", {}).get("fwmon", {})
    if not isinstance(table, dict):
        raise ConfigError("[tool.fwmon] in pyproject.toml must be a table")
    values = {s: {k: _copy(spec.default) for k, spec in keys.items()} for s, keys in SPEC.items()}
    raw: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        _read_pyproject_key(key, value, values, raw)
    config = FwmonConfig(root, values, raw, pyproject)
    _apply_environment(config, os.environ if environ is None else environ)
    _apply_overrides(config, overrides)
    _apply_cli(config, cli or {})
    for section in sorted(config.raw_sections):
        config.validated(section)
    return config


def _read_pyproject_key(
    key: str, value: Any, values: dict[str, dict[str, Any]], raw: dict[str, dict[str, Any]]
) -> None:
    """Store one key of ``[tool.fwmon]``: a top-level value, or a section's table."""
    if key not in SPEC and key not in OWNED_ELSEWHERE:
        if isinstance(value, dict):
            _spec(key, "")  # raises: unknown section, naming the valid ones
        values[""][key] = coerce("", key, _spec("", key), value)
        return
    if not isinstance(value, dict):
        raise ConfigError(f"[tool.fwmon] {key} must be a table ([tool.fwmon.{key}])")
    if key in OWNED_ELSEWHERE:
        raw[key] = value
        return
    for sub_key, sub_value in value.items():
        values[key][sub_key] = coerce(key, sub_key, _spec(key, sub_key), sub_value)


def _apply_environment(config: FwmonConfig, env: Mapping[str, str]) -> None:
    """Set the keys of the :data:`ENVIRONMENT` variables that are set and not empty."""
    for name, (section, key) in ENVIRONMENT.items():
        if env.get(name, "") == "":
            continue
        try:
            word = env[name].strip().lower()
            if section in OWNED_ELSEWHERE and word in _TRUE | _FALSE:
                config.set_raw(section, key, word in _TRUE)  # FWMON_PACKAGING=1
            else:
                _set_text(config, section, key, env[name])
        except ConfigError as exc:
            raise ConfigError(f"environment variable {name}: {exc.message}") from None


def _apply_overrides(config: FwmonConfig, overrides: Sequence[str]) -> None:
    """Set the keys of ``--fwmon-option SECTION.KEY=VALUE`` strings."""
    for item in overrides:
        name, sep, text = item.partition("=")
        if not sep:
            raise ConfigError(f"--fwmon-option {item!r} must look like SECTION.KEY=VALUE")
        section, _, key = name.strip().rpartition(".")
        _set_text(config, section, key.strip(), text)


def _apply_cli(config: FwmonConfig, cli: Mapping[str, Any]) -> None:
    """Set the keys of dedicated command-line options (typed already; None means unset)."""
    for name, value in cli.items():
        if value is None:
            continue
        section, _, key = name.rpartition(".")
        if section in OWNED_ELSEWHERE:
            config.set_raw(section, key, value)
        else:
            config.set(section, key, value)


def _set_text(config: FwmonConfig, section: str, key: str, text: str) -> None:
    """Set one key from text (environment, ``--fwmon-option``)."""
    if section in OWNED_ELSEWHERE:
        config.set_raw(section, key, _toml_value(text))
    else:
        config.set(section, key, text, from_text=True)


def _toml_value(text: str) -> Any:
    """Read a command-line value as a TOML value (``10``, ``true``, ``[1, 2]``), else a string.

    The words of :data:`_TRUE` and :data:`_FALSE` other than digits are booleans.
    """
    word = text.strip().lower()
    if word in _TRUE - {"1"}:
        return True
    if word in _FALSE - {"0"}:
        return False
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (ValueError, RecursionError):  # not a TOML value: the text itself
        return text


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, list) else value
