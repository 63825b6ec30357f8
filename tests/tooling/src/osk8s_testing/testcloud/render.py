"""Render the config templates in ``templates/`` (``{{name}}`` placeholders).

Not ``string.Template``/``str.format``: oslo.config files use ``$var`` themselves and INI files
may hold braces. A placeholder without a value is an error, never silently left in.
"""

from __future__ import annotations

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
    dest.touch(mode=0o600, exist_ok=True)
    dest.write_text(text)
    return dest
