"""Which of an engine plugin's hooks are in place in this process, said loudly and in the trace.

An engine plugin patches engine internals (names, signatures) that move between releases. A hook
whose target this release lacks is never skipped in silence: `Hooks.missing` logs it as a warning at
once, and `Hooks.report` writes one `integration_hooks` marker per process (`engine`, `version`,
`installed`: the hooks in place, `missing`: hook -> why), which `revati report` lists
(revati/report/host_markers.py, "engine plugin hooks").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Hooks:
    """The hooks one plugin tried to install in this process."""

    engine: str
    version: str
    installed: list[str] = field(default_factory=list)
    missing: dict[str, str] = field(default_factory=dict)

    def ok(self, hook: str) -> None:
        self.installed.append(hook)

    def missing_hook(self, hook: str, why: str) -> None:
        """A hook this engine release gives no target for: a warning now, and in the report."""
        self.missing[hook] = why
        log.warning(
            "revati: %s %s: hook %r NOT installed: %s (see `revati report`)",
            self.engine,
            self.version,
            hook,
            why,
        )

    def report(self) -> None:
        """Write the `integration_hooks` marker (a no-op outside revati)."""
        from revati import markers

        markers.integration_hooks(self.engine, self.version, self.installed, self.missing)
