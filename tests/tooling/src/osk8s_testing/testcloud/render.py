"""Render the config templates in ``templates/`` (``{{name}}`` placeholders).

Not ``string.Template``/``str.format``: oslo.config files use ``$var`` themselves and INI files
may hold braces. A placeholder without a value is an error, never silently left in.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

TEMPLATES = Path(__file__).with_name("templates")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render_text(text: str, values: Mapping[str, object]) -> str:
    def sub(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return str(values[key])

    return _PLACEHOLDER.sub(sub, text)


def render_to(template: str, dest: Path, values: Mapping[str, object]) -> Path:
    """Render ``templates/<template>`` into ``dest`` (mode 0600: configs hold passwords)."""
    text = render_text((TEMPLATES / template).read_text(), values)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # Written beside and renamed over: every `up` renders again while the services (and any
    # process they spawn, which reads the file anew) keep running.
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(temp, dest)
    return dest
