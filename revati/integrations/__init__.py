"""What particular serving engines need under revati beyond the generic interposition (see docs/vllm.md).

Each engine gets a subpackage; `env_defaults()` collects the environment defaults the launcher sets for
every emulated run (a value the user set always wins).
"""

from __future__ import annotations

__all__ = ["env_defaults"]


def env_defaults() -> dict[str, str]:
    """Environment defaults of all integrations, applied with setdefault by the launcher."""
    from revati.integrations import vllm

    return dict(vllm.ENV_DEFAULTS)
