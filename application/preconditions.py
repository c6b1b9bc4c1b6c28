"""Preconditions on a write: which current versions of a student the caller agrees to change.

This is RFC 9110's If-Match without the transport. A student's entity tag is its version as
text; tags are opaque and compared octet by octet, so "01" never names version 1. The interface
layer reads what the client sent into one of these values and hands it over unjudged; the
use-case judges it, always in this order (so every write answers the same way):

1. the values of the change are validated (422);
2. the precondition must have been stated and readable (428, 400);
3. the student must exist (404);
4. its current version must be admitted by the precondition (412).

Writes lock the student while they judge and change it, so ``*`` (any current version) holds
however many writers race: they take turns, and none of them is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from application.errors import InvalidPrecondition, PreconditionRequired


def version_tag(version: int) -> str:
    """The opaque entity tag of a version (the HTTP layer quotes it)."""
    return str(version)


class Precondition:
    """What a write requires of the current version. Subclasses say which versions they admit."""

    def check_stated(self) -> None:
        """Raise if the caller stated no usable precondition."""

    def admits(self, version: int) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Unconditional(Precondition):
    """For callers inside the service (none from a client): any version, nothing to state."""

    def admits(self, version: int) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class AnyVersion(Precondition):
    """``*``: whatever the student is now, as long as it exists."""

    def admits(self, version: int) -> bool:
        return True


@dataclass(frozen=True, slots=True)
class OneOfTags(Precondition):
    """A list of entity tags; the write goes ahead if the current one is among them.

    Weak tags never match strongly (RFC 9110 13.1.1) and are left out, so a list of only weak
    tags admits nothing.
    """

    tags: frozenset[str]

    def admits(self, version: int) -> bool:
        return version_tag(version) in self.tags


@dataclass(frozen=True, slots=True)
class NoneOfTags(Precondition):
    """If-None-Match on a write: go ahead only if the current tag is not among these (compared
    weakly, RFC 9110 13.1.2); ``every``: ``*``, which no existing student passes."""

    tags: frozenset[str] = frozenset()
    every: bool = False

    def admits(self, version: int) -> bool:
        return not self.every and version_tag(version) not in self.tags


@dataclass(frozen=True, slots=True)
class AllOf(Precondition):
    """Several conditions (If-Match and If-None-Match), all of which must hold."""

    parts: tuple[Precondition, ...]

    def check_stated(self) -> None:
        for part in self.parts:
            part.check_stated()

    def admits(self, version: int) -> bool:
        return all(part.admits(version) for part in self.parts)


@dataclass(frozen=True, slots=True)
class Missing(Precondition):
    """The caller stated no precondition, and every client write must name one."""

    def check_stated(self) -> None:
        raise PreconditionRequired()

    def admits(self, version: int) -> bool:
        return False


@dataclass(frozen=True, slots=True)
class Unreadable(Precondition):
    """The caller sent a precondition that cannot be read; ``reason`` says why, for the caller."""

    reason: str

    def check_stated(self) -> None:
        raise InvalidPrecondition(self.reason)

    def admits(self, version: int) -> bool:
        return False


UNCONDITIONAL = Unconditional()
