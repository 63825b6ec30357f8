"""Maps parsed INI sections onto the config dataclasses, with gcfg's merge rules.

The schema is derived from the dataclasses' ``setting()`` metadata, so adding a field adds its
key. ``RawConfig`` accumulates typed values file after file (later wins; repeatable keys append,
a blank repeatable key clears, as gcfg) and records where each value came from so errors can
name the file. Unknown sections/keys become ``ConfigWarning``s. No file or environment access.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any, Final, Literal

from osk8s_core.config.auth import AuthOptions
from osk8s_core.config.ini import IniSection
from osk8s_core.config.model import (
    BlockStorageOptions,
    CloudConfig,
    ConfigWarning,
    KeyManagerOptions,
    LoadBalancerClass,
    LoadBalancerOptions,
    MetadataOptions,
    NetworkingOptions,
    RouteOptions,
)
from osk8s_core.config.values import (
    ExpectedError,
    parse_bool,
    parse_duration,
    parse_int,
    parse_str,
)
from osk8s_core.errors import ConfigError
from osk8s_core.secrets import SecretStr

Subsections = Literal["none", "optional", "required"]


@dataclass(frozen=True)
class FieldSpec:
    """How one INI key is read: target field, parser, and whether it repeats."""

    name: str
    key: str
    parse: Callable[[str | None], Any]
    repeatable: bool


@dataclass(frozen=True)
class SectionSpec:
    """One known section: its dataclass, whether it takes a ``"name"``, and its keys."""

    title: str
    cls: type[Any]
    subsections: Subsections
    fields: Mapping[str, FieldSpec]


@dataclass(frozen=True)
class Assigned:
    """A typed value and where it was set (file and line) for error messages."""

    value: Any
    file: str
    line: int


def _parse_secret(raw: str | None) -> SecretStr:
    return SecretStr(parse_str(raw))


def _parser_for(hint: Any) -> Callable[[str | None], Any]:
    by_type: dict[Any, Callable[[str | None], Any]] = {
        bool: parse_bool,
        int: parse_int,
        timedelta: parse_duration,
        str: parse_str,
        str | None: parse_str,
        SecretStr | None: _parse_secret,
        tuple[str, ...]: parse_str,  # one item per line of a repeatable key
    }
    return by_type[hint]


def _fields_of(cls: type[Any]) -> Mapping[str, FieldSpec]:
    hints = typing.get_type_hints(cls)
    specs: dict[str, FieldSpec] = {}
    for item in dataclasses.fields(cls):
        key = item.metadata.get("ini")
        if key is None:
            continue
        parse = item.metadata.get("parse") or _parser_for(hints[item.name])
        specs[key] = FieldSpec(item.name, key, parse, bool(item.metadata.get("repeatable")))
    return MappingProxyType(specs)


def _spec(title: str, cls: type[Any], subsections: Subsections) -> SectionSpec:
    return SectionSpec(title, cls, subsections, _fields_of(cls))


# Keyed by the lower-cased section name (gcfg section names are case-insensitive).
SECTIONS: Final[Mapping[str, SectionSpec]] = MappingProxyType(
    {
        "global": _spec("Global", AuthOptions, "optional"),
        "loadbalancer": _spec("LoadBalancer", LoadBalancerOptions, "none"),
        "loadbalancerclass": _spec("LoadBalancerClass", LoadBalancerClass, "required"),
        "blockstorage": _spec("BlockStorage", BlockStorageOptions, "none"),
        "metadata": _spec("Metadata", MetadataOptions, "none"),
        "route": _spec("Route", RouteOptions, "none"),
        "networking": _spec("Networking", NetworkingOptions, "none"),
        "keymanager": _spec("KeyManager", KeyManagerOptions, "none"),
    }
)

SectionId = tuple[str, str | None]


class RawConfig:
    """Typed values gathered from one or more files, not yet turned into dataclasses."""

    def __init__(self) -> None:
        self.sections: dict[SectionId, dict[str, Assigned]] = {}
        self.warnings: list[ConfigWarning] = []

    def add_file(self, sections: tuple[IniSection, ...], *, source: str) -> None:
        """Merge one parsed file on top of what is already here (later wins)."""
        for section in sections:
            spec = SECTIONS.get(section.name)
            if spec is None:
                self.warnings.append(
                    ConfigWarning(source, section.line, section.title, None, "unknown section")
                )
                continue
            _check_subsection(spec, section, source=source)
            values = self.sections.setdefault((section.name, section.subsection), {})
            for entry in section.entries:
                field_spec = spec.fields.get(entry.key)
                if field_spec is None:
                    self.warnings.append(
                        ConfigWarning(source, entry.line, section.title, entry.key, "unknown key")
                    )
                    continue
                value = parse_value(field_spec, entry.value, source=source, section=section.title)
                _assign(values, field_spec, value, source=source, line=entry.line)

    def build(self) -> CloudConfig:
        """Turn the gathered values into the frozen ``CloudConfig``."""
        auth: dict[str, AuthOptions] = {}
        classes: dict[str, LoadBalancerClass] = {}
        single: dict[str, Any] = {}
        for (name, sub), values in self.sections.items():
            obj = SECTIONS[name].cls(**{k: v.value for k, v in values.items()})
            if name == "global":
                auth[sub or ""] = obj
            elif name == "loadbalancerclass":
                classes[sub or ""] = obj
            else:
                single[name] = obj
        return CloudConfig(
            auth=MappingProxyType(auth),
            load_balancer_classes=MappingProxyType(classes),
            load_balancer=single.get("loadbalancer", LoadBalancerOptions()),
            block_storage=single.get("blockstorage", BlockStorageOptions()),
            metadata=single.get("metadata", MetadataOptions()),
            route=single.get("route", RouteOptions()),
            networking=single.get("networking", NetworkingOptions()),
            key_manager=single.get("keymanager", KeyManagerOptions()),
        )


def parse_value(spec: FieldSpec, raw: str | None, *, source: str, section: str) -> Any:
    """Parse one raw value, turning a parser's complaint into a ``ConfigError``."""
    if spec.repeatable and raw is None:
        return None  # a blank repeatable key clears the list (gcfg)
    try:
        return spec.parse(raw)
    except ExpectedError as exc:
        # Never echo the raw value: the key could be a password.
        raise ConfigError(
            "invalid value", file=source, section=section, key=spec.key, expected=exc.expected
        ) from None


def _assign(
    values: dict[str, Assigned], spec: FieldSpec, value: Any, *, source: str, line: int
) -> None:
    if not spec.repeatable:
        values[spec.name] = Assigned(value, source, line)
        return
    previous = values.get(spec.name)
    items: tuple[Any, ...] = previous.value if previous is not None else ()
    items = () if value is None else (*items, value)
    values[spec.name] = Assigned(items, source, line)


def _check_subsection(spec: SectionSpec, section: IniSection, *, source: str) -> None:
    if spec.subsections == "none" and section.subsection is not None:
        raise ConfigError(
            f"line {section.line}: this section takes no name",
            file=source,
            section=section.title,
            expected=f"[{spec.title}]",
        )
    if spec.subsections == "required" and not section.subsection:
        raise ConfigError(
            f"line {section.line}: this section needs a name",
            file=source,
            section=section.title,
            expected=f'[{spec.title} "NAME"]',
        )
