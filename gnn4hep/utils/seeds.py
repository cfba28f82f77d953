"""Seeds: the one place where a user's seed becomes a seed that Pythia 8 accepts.

Pythia's ``Random:seed`` (and ``Rndm::init``) takes 1..900,000,000 as distinct reproducible streams,
but reads 0 as "seed from the clock" and a negative value as "the default seed" (Pythia 8 manual,
"Random-Number Generation"). A user's seed 0, or a derived seed that is a multiple of 900,000,000,
would therefore give a different event sample on every run. :func:`pythia_seed` maps any integer
into 1..900,000,000 deterministically, keeping 1..899,999,999 unchanged (so samples generated with
those seeds stay the same) and sending the multiples of 900,000,000 (0 included) to 900,000,000.
"""

from __future__ import annotations

#: Largest seed Pythia 8 accepts (``Random:seed`` max); the smallest reproducible one is 1.
PYTHIA_MAX_SEED = 900_000_000


def pythia_seed(seed: int) -> int:
    """A Pythia 8 ``Random:seed`` in 1..900,000,000 for any integer ``seed`` (never 0: that is the clock)."""
    reduced = int(seed) % PYTHIA_MAX_SEED
    return reduced if reduced else PYTHIA_MAX_SEED
