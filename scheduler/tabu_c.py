"""The compiled tabu search for plain job shops (`scheduler/csrc/tabu.c`), through ctypes.

`make` builds the library next to its source. Where it was not built, `available()` says so and
the callers use the Python search instead; nothing else changes.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LIBRARY = Path(__file__).with_name("csrc") / "libtabu.so"
# Times in the compiled search are C ints: every makespan it sees must stay below this.
MAX_TIME = 2**31 - 1

# A move's undoing stays tabu for 8 + up to 8 more steps. Measured alone for 3 s with two seeds
# on eleven la, swv and abz instances, this beat 6 + 6, 8 + 16 and 11 + 11 (about what the
# Python search's tenure, scaled by the job count, gives those shops).
TENURE = (8, 8)

_log = logging.getLogger(__name__)
_int_p = ctypes.POINTER(ctypes.c_int)
_lib: ctypes.CDLL | None = None
_tried = False
_lock = threading.Lock()


def _load() -> ctypes.CDLL | None:
    global _lib, _tried
    with _lock:
        if not _tried:
            _tried = True
            try:
                lib = ctypes.CDLL(str(LIBRARY))
            except OSError as exc:
                _log.warning("compiled tabu search not available (%s); using the Python one", exc)
            else:
                fn = lib.jsp_tabu
                fn.restype = ctypes.c_int
                fn.argtypes = [
                    *(ctypes.c_int,) * 2,
                    *(_int_p,) * 5,
                    ctypes.c_double,
                    ctypes.c_int64,
                    ctypes.c_uint64,
                    *(ctypes.c_int,) * 5,
                    _int_p,
                    ctypes.POINTER(ctypes.c_int64),
                ]
                _lib = lib
        return _lib


def available() -> bool:
    """Tell whether the compiled search can be used."""
    return _load() is not None


@dataclass(frozen=True, slots=True)
class Shop:
    """A plain job shop as arrays: durations, job links and each machine's sequence."""

    durations: Sequence[int]
    job_next: Sequence[int]
    job_prev: Sequence[int]
    sequences: Sequence[Sequence[int]]


@dataclass(frozen=True, slots=True)
class Result:
    """The best machine sequences found, and the steps all searches took."""

    makespan: int
    sequences: list[list[int]]
    steps: int


def search(
    shop: Shop,
    deadline: float,
    seeds: Sequence[int] = (0,),
    floor: int = 0,
    should_stop: Callable[[], bool] | None = None,
    stall: int = 4000,
    wide: bool = True,
    max_steps: int = 0,
) -> Result:
    """Run one search per seed in parallel threads until the deadline; return the best.

    The deadline is on `time.monotonic()`'s clock; `max_steps` (0: none) caps each search, which
    makes a run with one seed repeatable. The C code runs without the GIL, so the
    searches use as many cores as there are seeds.
    """
    lib = _load()
    if lib is None:
        raise RuntimeError("the compiled tabu search was not built (run make)")
    n, m = len(shop.durations), len(shop.sequences)
    ints = ctypes.c_int * n
    d, jn, jp = ints(*shop.durations), ints(*shop.job_next), ints(*shop.job_prev)
    offsets = [0]
    for s in shop.sequences:
        offsets.append(offsets[-1] + len(s))
    mstart = (ctypes.c_int * (m + 1))(*offsets)
    flat_seq = [k for s in shop.sequences for k in s]
    stop = ctypes.c_int(0)
    base, span = TENURE
    results: list[Result | None] = [None] * len(seeds)

    def run(i: int, seed: int) -> None:
        seq = ints(*flat_seq)
        steps = ctypes.c_int64(0)
        cmax = lib.jsp_tabu(
            n, m, d, jn, jp, mstart, seq,
            deadline, max_steps, seed, floor, base, span, stall, int(wide),
            ctypes.byref(stop), ctypes.byref(steps),
        )  # fmt: skip
        if cmax == -1:
            raise ValueError("machine sequences contradict the routings")
        if cmax == -2:
            raise MemoryError("tabu search")
        out = list(seq)
        results[i] = Result(cmax, [out[offsets[j] : offsets[j + 1]] for j in range(m)], steps.value)

    errors: list[BaseException] = []

    def guarded(i: int, seed: int) -> None:
        try:
            run(i, seed)
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    threads = [
        threading.Thread(target=guarded, args=(i, seed), daemon=True)
        for i, seed in enumerate(seeds)
    ]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.05)
            if should_stop is not None and should_stop():
                stop.value = 1
    if errors:
        raise errors[0]
    found = [r for r in results if r is not None]
    best = min(found, key=lambda r: r.makespan)
    return Result(best.makespan, best.sequences, sum(r.steps for r in found))
