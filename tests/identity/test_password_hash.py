"""The production password hasher. The rest of the suite swaps in Argon2id at its lowest cost
(tests/conftest.py), so this is where the real work factor is checked."""

from __future__ import annotations

import re

from tests.conftest import PRODUCTION_PASSWORD_HASH


def test_production_hashes_are_argon2id_at_owasp_strength_or_more() -> None:
    hashed = PRODUCTION_PASSWORD_HASH.hash("correct horse battery staple")
    match = re.fullmatch(r"\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+", hashed)
    assert match, hashed
    memory_kib, iterations, _lanes = map(int, match.groups())
    # OWASP's password storage cheat sheet: Argon2id with at least 19 MiB of memory and 2 iterations.
    assert memory_kib >= 19 * 1024, hashed
    assert iterations >= 2, hashed
    assert PRODUCTION_PASSWORD_HASH.verify("correct horse battery staple", hashed)
    assert not PRODUCTION_PASSWORD_HASH.verify("Correct horse battery staple", hashed)
