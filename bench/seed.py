"""Made-up students for the benchmark database: plausible, varied, with many equal sort values."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

from bench.config import SEED_EMAIL_DOMAIN
from domain.ids import UuidV7Generator

COLUMNS = (
    "id",
    "name",
    "name_folded",
    "email",
    "department",
    "cgpa",
    "created_at",
    "updated_at",
    "version",
)

_FIRST = (
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret", "Ken",
    "Dennis", "Radia", "Tim", "Linus", "Guido", "Hedy", "Katherine", "Niklaus", "Sophie", "Yukihiro",
    "Zoë", "Łukasz", "Ólafur", "Søren", "José", "Björk", "Ångström", "Chloé", "Darío", "Ștefan",
)  # fmt: skip
_LAST = (
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Hamilton",
    "Thompson", "Ritchie", "Perlman", "Berners-Lee", "Torvalds", "van Rossum", "Lamarr", "Johnson",
    "Wirth", "Wilson", "Matsumoto", "Straße", "Nørgaard", "Müller", "O'Brien", "García", "Dvořák",
    "Szymańska", "Øvergaard", "Ibáñez", "Çelik",
)  # fmt: skip
# Uneven on purpose: some departments are much larger than others.
_DEPARTMENTS = ("CS", "EE", "ME", "CE", "MATH", "PHYS", "CHEM", "BIO", "ECON", "HIST", "LAW", "ARCH")
_DEPARTMENT_WEIGHTS = (20, 14, 12, 10, 9, 8, 7, 6, 5, 4, 3, 2)
_CENT = Decimal("0.01")


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def _cgpa(rng: random.Random) -> Decimal:
    # Bunched around 7.2 (a normal curve cut at 0 and 10): a few hundred possible values over 200k
    # rows, so hundreds of students share each value near the middle.
    while not 0.0 <= (value := rng.gauss(7.2, 1.3)) <= 10.0:
        pass
    return Decimal(repr(value)).quantize(_CENT)


def students(count: int, *, seed: int = 20261122) -> Iterator[tuple[object, ...]]:
    """``count`` rows in COPY column order; ids from the domain's own UUIDv7 generator."""
    rng = random.Random(seed)
    ids = UuidV7Generator()
    for number in range(count):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        name = f"{first} {last}"
        email = f"{_ascii(first)}.{_ascii(last)}.{number}@{SEED_EMAIL_DOMAIN}"
        department = rng.choices(_DEPARTMENTS, weights=_DEPARTMENT_WEIGHTS)[0]
        now = datetime.now(UTC)
        student_id: UUID = ids.new_id()
        yield (student_id, name, name.casefold(), email, department, _cgpa(rng), now, now, 1)
