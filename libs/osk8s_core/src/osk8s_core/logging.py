"""Log setup for every osk8s process: structlog, JSON or console, secrets always redacted.

``configure_logging`` is called once from ``main``: it routes structlog and the stdlib loggers
of keystoneauth, openstacksdk and urllib3 through the same processors, the last of which
before rendering is ``redact_processor``. Context is bound per unit of work with contextvars
(``bind_component`` once, then ``unit_of_work(...)``). No state here beyond what structlog and
the stdlib logging module keep themselves.
"""

from __future__ import annotations

import fnmatch
import logging
import sys
import uuid
from collections.abc import Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, Literal, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from osk8s_core.redaction import is_secret_key, redact
from osk8s_core.secrets import REDACTED

Format = Literal["json", "console"]

# Chatty libraries kept at WARNING unless the klog verbosity asks for wire-level detail.
LIBRARY_LOGGERS: Final = (
    "keystoneauth",
    "keystoneauth1",
    "openstack",
    "openstack.config",
    "urllib3",
    "requests",
    "stevedore",
    "kubernetes",
)
DEBUG_VERBOSITY: Final = 4
"""klog convention: V(4) is debug-level detail."""
LIBRARY_DEBUG_VERBOSITY: Final = 6
"""klog convention: V(6)+ shows requests; only then do library debug logs pass."""


def level_for_verbosity(verbosity: int) -> int:
    """Stdlib level for a klog ``-v``: 0-3 INFO (errors and warnings always), 4+ DEBUG."""
    return logging.DEBUG if verbosity >= DEBUG_VERBOSITY else logging.INFO


def redact_processor(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """Replace secret values anywhere in the event: SecretStr instances, values under
    secret-named keys (password, token, X-Auth-Token ...), token-looking text in strings."""
    return {
        key: REDACTED if is_secret_key(key) and value is not None else redact(value)
        for key, value in event_dict.items()
    }


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


class _Osk8sHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Marks the handler we installed, so configuring again replaces it instead of doubling."""


class _Osk8sFileHandler(logging.FileHandler):
    """``--log-file``: marked like ``_Osk8sHandler`` so a reconfiguration replaces it."""


def _matches(name: str, pattern: str) -> bool:
    """A ``--vmodule`` glob matches a logger name or its last dotted part (klog matches Go
    file names; our unit of code is the module logger)."""
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(
        name.rsplit(".", 1)[-1], pattern
    )


class _VModuleFilter(logging.Filter):
    """Per-logger levels from ``--vmodule``; other records keep the global ``-v`` level."""

    def __init__(self, level: int, vmodule: Sequence[tuple[str, int]]) -> None:
        super().__init__()
        self.level = level
        self.vmodule = tuple((pattern, level_for_verbosity(v)) for pattern, v in vmodule)

    def filter(self, record: logging.LogRecord) -> bool:
        level = next((lv for pat, lv in self.vmodule if _matches(record.name, pat)), self.level)
        return record.levelno >= level


def configure_logging(
    *,
    fmt: Format = "json",
    verbosity: int = 2,
    stream: TextIO | None = None,
    log_file: str = "",
    to_stderr: bool = True,
    vmodule: Sequence[tuple[str, int]] = (),
) -> logging.Handler:
    """Set up structlog and stdlib logging; returns the first installed root handler.

    ``fmt`` selects JSON lines (production) or a console rendering; ``verbosity`` is the klog
    ``-v`` level. Stdlib records (keystoneauth, openstacksdk, urllib3) get the same context,
    timestamps and redaction as structlog events. klog's flags: ``log_file`` adds a file
    (appended to), ``to_stderr=False`` drops the stream when there is a file, ``vmodule``
    gives matching loggers their own verbosity (``[("kms*", 5)]``).
    """
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_shared_processors(), structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text first so the redaction sees what they contain.
            structlog.processors.format_exc_info,
            redact_processor,
            renderer,
        ],
    )
    handlers: list[logging.Handler] = []
    if to_stderr or not log_file:
        handlers.append(_Osk8sHandler(stream if stream is not None else sys.stderr))
    if log_file:
        handlers.append(_Osk8sFileHandler(log_file, encoding="utf-8"))
    level = level_for_verbosity(verbosity)
    vfilter = _VModuleFilter(level, vmodule)
    for handler in handlers:
        handler.setFormatter(formatter)
        if vmodule:
            handler.addFilter(vfilter)

    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Osk8sHandler | _Osk8sFileHandler)]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    # The root lets through what the most verbose --vmodule entry asks for; the filter then
    # holds every other logger to the global level.
    root.setLevel(min([level, *(lv for _, lv in vfilter.vmodule)]))
    library_level = logging.DEBUG if verbosity >= LIBRARY_DEBUG_VERBOSITY else logging.WARNING
    for name in LIBRARY_LOGGERS:
        own = next((lv for pat, lv in vfilter.vmodule if _matches(name, pat)), None)
        logging.getLogger(name).setLevel(own if own is not None else max(level, library_level))
    logging.captureWarnings(True)

    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: configure_logging may run again (tests, reload) and must take effect.
        cache_logger_on_first_use=False,
    )
    return handlers[0]


def get_logger(name: str = "osk8s", **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger; pass it to collaborators instead of creating module globals."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger


def bind_component(component: str, **extra: Any) -> None:
    """Bind the process-wide context (``component=ccm`` ...); call once at start-up."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(component=component, **extra)


def new_request_id() -> str:
    return f"req-{uuid.uuid4()}"


@contextmanager
def unit_of_work(*, request_id: str | None = None, **ids: Any) -> Iterator[str]:
    """Bind a request id plus object ids (``volume_id=...``, ``object="ns/name"``) for the
    duration of one RPC or reconcile; yields the request id. Nesting restores the outer ids."""
    rid = request_id or new_request_id()
    with structlog.contextvars.bound_contextvars(request_id=rid, **ids):
        yield rid


def current_context() -> MutableMapping[str, Any]:
    """The bound context, for handing to a worker thread (contextvars do not follow)."""
    return structlog.contextvars.get_contextvars()
