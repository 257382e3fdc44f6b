"""numba's compile flags hashed once per class and compared by their set options (dsp/_numba_flags.py).

The patch must keep every overload lookup finding what numba's own hash and
equality find; and it must be in place with the numba this project pins (if a
numba upgrade changes ``TargetConfig``, the patch stands down and the first test
fails: re-check the patch against the new code).
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from numba.core.compiler import Flags

import hipflex.dsp._jit  # noqa: F401 -- installs the patch
from hipflex.dsp import _numba_flags


def _variants() -> list[Any]:
    plain = Flags()
    nrt = Flags()
    nrt.nrt = True
    no_nrt = Flags()
    no_nrt.nrt = False  # explicitly set to the default: equal values, unequal set options
    fast = Flags()
    fast.fastmath = {"contract", "arcp", "nsz"}
    fast_same = Flags()
    fast_same.fastmath = {"nsz", "arcp", "contract"}
    both = nrt.copy()
    both.fastmath = {"contract"}
    return [plain, nrt, no_nrt, fast, fast_same, both, plain.copy()]


def test_the_patch_is_installed_with_this_numba() -> None:
    assert _numba_flags.installed()


def test_hash_and_equality_are_numbas() -> None:
    flags = _variants()
    for a in flags:
        assert hash(a) == _numba_flags._numba_hash(a)
    for a, b in itertools.product(flags, repeat=2):
        assert (a == b) == _numba_flags._numba_eq(a, b)
    # Not equal by set options, equal by values: numba's comparison decides.
    assert flags[0] == flags[2]
    assert flags[3] == flags[4]
    assert flags[0] != flags[1]
    assert (flags[0] == object()) is False


def test_equality_on_random_option_sets_is_numbas() -> None:
    # Flags with random subsets of numba's boolean options set, some to their defaults.
    names = [name for name, option in Flags.options.items() if option.type is bool]
    assert len(names) >= 10
    rng = random.Random(7)
    flags = []
    for _ in range(60):
        f = Flags()
        for name in rng.sample(names, rng.randint(0, 4)):
            setattr(f, name, rng.random() < 0.5)
        flags.append(f)
    same = 0
    for a, b in itertools.product(flags, repeat=2):
        want = _numba_flags._numba_eq(a, b)
        assert (a == b) == want
        same += bool(want) and a._values != b._values
    assert same > 0  # pairs equal by value, not by set options, were compared


def test_a_flags_keyed_cache_finds_what_numba_finds() -> None:
    # As numba's overload cache (typing.templates._get_impl): keyed by a tuple with the flags.
    flags = _variants()
    cache = {("ctx", (1, 2), f): i for i, f in enumerate(flags)}
    assert len(cache) == 4  # plain = no_nrt = its copy, fast = fast_same
    for f in _variants():
        assert _numba_flags._numba_eq(flags[cache[("ctx", (1, 2), f)]], f)
