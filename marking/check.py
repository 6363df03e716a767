"""Check characters that catch every single misread character and every swap of neighbours.

A code over an alphabet of N characters is read as a word in a group G of order N with an
*antisymmetric* permutation s (x.s(y) != y.s(x) whenever x != y). The check character c makes
c . s(x1) . s^2(x2) ... s^n(xn) the identity, reading the code from its end (Verhoeff's scheme,
generalised). A single changed character changes the product, because G is a group; a swap of
neighbours x, y changes it because s is antisymmetric. Luhn mod N misses the swap of the first
and last characters of the alphabet, which is why it is not used here.

The group is picked from N = 2^k * m (m odd):
- k = 0: the cyclic group Z_m with s(x) = -x;
- k = 1: the dihedral group D_m (m >= 3), with s(r^i) = f.r^i and s(f.r^i) = r^(1-i);
- k >= 2: GF(2^k) under addition, with s(x) = X.x, times Z_m with s(x) = -x.
No antisymmetric permutation exists for N = 2, and k above 6 is not needed by any alphabet we
ship, so those sizes are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from graph.errors import BadRequest

# Irreducible polynomials over GF(2), by degree: multiplication by X in GF(2^k).
_IRREDUCIBLE = {2: 0b111, 3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011}


@dataclass(frozen=True, slots=True)
class _Group:
    """A finite group on 0..n-1 with an antisymmetric permutation `sigma`."""

    mul: tuple[tuple[int, ...], ...]
    inverse: tuple[int, ...]
    sigma: tuple[int, ...]

    @property
    def order(self) -> int:
        return len(self.sigma)


def _cyclic_odd(m: int) -> _Group:
    mul = tuple(tuple((a + b) % m for b in range(m)) for a in range(m))
    inverse = tuple((-a) % m for a in range(m))
    return _Group(mul, inverse, inverse)


def _dihedral(m: int) -> _Group:
    # Element f*m + i stands for f^f . r^i, with f.r = r^-1.f.
    n = 2 * m

    def times(a: int, b: int) -> int:
        (fa, ia), (fb, ib) = divmod(a, m), divmod(b, m)
        turn = ia if fb == 0 else -ia
        return ((fa + fb) % 2) * m + (turn + ib) % m

    mul = tuple(tuple(times(a, b) for b in range(n)) for a in range(n))
    inverse = tuple(next(b for b in range(n) if mul[a][b] == 0) for a in range(n))
    sigma = tuple(m + i if i < m else (1 - (i - m)) % m for i in range(n))
    return _Group(mul, inverse, sigma)


def _binary_field(k: int) -> _Group:
    n = 1 << k
    poly = _IRREDUCIBLE[k]

    def times_x(a: int) -> int:
        shifted = a << 1
        return shifted ^ poly if shifted & n else shifted

    mul = tuple(tuple(a ^ b for b in range(n)) for a in range(n))
    return _Group(mul, tuple(range(n)), tuple(times_x(a) for a in range(n)))


def _product(first: _Group, second: _Group) -> _Group:
    # Element a + n1*b stands for the pair (a, b).
    n1, n2 = first.order, second.order
    pairs = [(e % n1, e // n1) for e in range(n1 * n2)]

    def pack(a: int, b: int) -> int:
        return a + n1 * b

    mul = tuple(
        tuple(pack(first.mul[a1][a2], second.mul[b1][b2]) for a2, b2 in pairs) for a1, b1 in pairs
    )
    inverse = tuple(pack(first.inverse[a], second.inverse[b]) for a, b in pairs)
    sigma = tuple(pack(first.sigma[a], second.sigma[b]) for a, b in pairs)
    return _Group(mul, inverse, sigma)


@lru_cache(maxsize=32)
def _group(n: int) -> _Group:
    k, m = 0, n
    while m % 2 == 0:
        k, m = k + 1, m // 2
    if n < 3 or k > max(_IRREDUCIBLE):
        raise BadRequest(
            f"a check character needs an alphabet of 3 to 64 (times an odd number) characters, "
            f"other than 2^k with k > 6; this alphabet has {n}"
        )
    if k == 0:
        return _cyclic_odd(m)
    if k == 1:
        return _dihedral(m)
    field = _binary_field(k)
    return field if m == 1 else _product(field, _cyclic_odd(m))


def supports(alphabet_size: int) -> bool:
    """Tell whether a check character can be built over an alphabet of this size."""
    try:
        _group(alphabet_size)
    except BadRequest:
        return False
    return True


class CheckCharacter:
    """The check character of codes over one alphabet."""

    def __init__(self, alphabet: str) -> None:
        self.alphabet = alphabet
        self._group = _group(len(alphabet))
        self._index = {char: i for i, char in enumerate(alphabet)}
        # Powers of sigma, one per position; sigma has finite order, so the list cycles.
        powers = [tuple(range(len(alphabet)))]
        while True:
            following = tuple(self._group.sigma[x] for x in powers[-1])
            if following == powers[0]:
                break
            powers.append(following)
        self._powers = powers

    def _product(self, body: str) -> int:
        mul, total = self._group.mul, 0
        for position, char in enumerate(reversed(body), start=1):
            total = mul[total][self._powers[position % len(self._powers)][self._index[char]]]
        return total

    def compute(self, body: str) -> str:
        """Return the check character to append to `body` (every character in the alphabet)."""
        # c . P = e  gives  c = P^-1, with P the product over the body.
        return self.alphabet[self._group.inverse[self._product(body)]]

    def is_valid(self, code: str) -> bool:
        """Tell whether `code` (body followed by its check character) checks out."""
        if len(code) < 2 or any(char not in self._index for char in code):
            return False
        body, check = code[:-1], code[-1]
        return self._group.mul[self._index[check]][self._product(body)] == 0
