"""revati's errors: one family, each message one line naming the offending value and the fix."""

from __future__ import annotations


class RevatiError(Exception):
    """Base of every error revati reports to a user: the CLI prints it as one line, `Error: ...`,
    and exits with `exit_code` (1 unless a subclass carries another)."""

    exit_code: int = 1


class TraceError(RevatiError):
    """A run directory or event stream that cannot be read."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")


class UnknownNameError(RevatiError):
    """A name (predictor, device, format) that is not among the choices."""

    def __init__(self, kind: str, name: str, choices: list[str] | tuple[str, ...]) -> None:
        self.kind, self.name, self.choices = kind, name, list(choices)
        super().__init__(
            f"unknown {kind} '{name}'; choose one of: {', '.join(sorted(self.choices))}"
        )


class RunError(RevatiError):
    """A process of an emulated run failed; the CLI exits with the command's own status (else 1)."""

    def __init__(self, message: str, rank: int | None = None, exit_code: int | None = None) -> None:
        self.rank = rank
        self.exit_code = exit_code or 1
        super().__init__(message)


class NativeBuildError(RevatiError):
    """The native libraries could not be built."""
