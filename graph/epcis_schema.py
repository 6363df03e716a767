"""Validate EPCIS 2.0 JSON-LD against the standard's JSON Schema, shipped in graph/schemas."""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import ValidationError

SCHEMA_FILE = Path(__file__).parent / "schemas" / "epcis-json-schema.json"
SCHEMA_SHA256 = "cfabd8620cc4dd67a53e6aa397bc26379f8b05bb9147c8a37a60bbec69a62572"
# A check names this many problems, then says how many more it found (the 422 stays readable);
# a list is checked until this many are found in it, the rest of it not looked at (a list of
# fifty thousand wrong items took seconds to refuse, one error built per item).
MAX_PROBLEMS = 1000
# Keywords whose values are instance data, not schemas: never searched for references.
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples"})
# Property names found valid, by (id of the propertyNames schema, name): the schema itself is
# kept as the value so an id reused by another object never matches. Bounded against input.
_VALID_NAMES: dict[tuple[int, str], Any] = {}
MAX_VALID_NAMES = 10_000
# Where a problem with the document's root is (a required field missing) said to be.
DOCUMENT = "(document)"
# A number read exactly, as jsonschema quotes it (its repr): said as a number.
_DECIMAL = re.compile(r"Decimal\('([^']*)'\)")


@dataclass(frozen=True, slots=True)
class SchemaProblem:
    """One place where a document breaks the schema: `path` is like eventList[2].action.

    `more`: the last problem of a check cut short, saying what was not named or not checked.
    """

    event_index: int | None
    event_id: str | None
    path: str
    message: str
    more: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def _property_names(
    validator: Draft7Validator, names: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """Check every key of an object against `names`, each name once per schema (Draft 7's rule).

    Every event repeats the same dozen keys, and each check is an anyOf of an enum and a URI
    format: half the time of a document went there. Whether a name passes depends only on the
    name and the schema, so a name that passed once passes again; failures are not remembered.
    """
    if not validator.is_type(instance, "object"):
        return
    for name in instance:
        key = (id(names), name)
        if _VALID_NAMES.get(key) is names:
            continue
        errors = list(validator.descend(instance=name, schema=names))
        if not errors:
            if len(_VALID_NAMES) >= MAX_VALID_NAMES:
                _VALID_NAMES.clear()
            _VALID_NAMES[key] = names
        yield from errors


def _unique_items(
    validator: Draft7Validator, unique: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """Draft 7's uniqueItems in one pass, with jsonschema's words.

    jsonschema sorts the list to find equal neighbours, and compares every pair of one it
    cannot sort (a string among numbers, objects): fifty thousand items took minutes. Here
    each item's value is hashed once (`_identity`) instead.
    """
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Hashable] = set()
    for item in instance:
        identity = _identity(item)
        if identity in seen:
            from jsonschema.exceptions import ValidationError

            yield ValidationError(f"{instance!r} has non-unique elements")
            return
        seen.add(identity)


class _Unchecked(Exception):
    """The cause of the error that ends a list's check: its items from `index` on, `count` of
    them, were not checked."""

    def __init__(self, index: int, count: int) -> None:
        super().__init__(f"{count} more items, from [{index}] on, were not checked")
        self.index, self.count = index, count


def _items(
    validator: Draft7Validator, items: Any, instance: Any, schema: Any
) -> Iterator[ValidationError]:
    """Draft 7's items, until the list has given MAX_PROBLEMS errors: the items after the one
    that reached them are not checked, and one more error (caused by _Unchecked) says so."""
    if not validator.is_type(instance, "array"):
        return
    if validator.is_type(items, "array"):  # a tuple, as long as the schema says: as Draft 7
        from jsonschema import Draft7Validator

        yield from Draft7Validator.VALIDATORS["items"](validator, items, instance, schema)
        return
    found = 0
    for index, item in enumerate(instance):
        if found >= MAX_PROBLEMS:
            from jsonschema.exceptions import ValidationError

            unchecked = _Unchecked(index, len(instance) - index)
            yield ValidationError(str(unchecked), cause=unchecked)
            return
        for error in validator.descend(item, items, path=index):
            found += 1
            yield error


def _unchecked(error: ValidationError) -> _Unchecked | None:
    return error.cause if isinstance(error.cause, _Unchecked) else None


def _identity(value: Any) -> Hashable:
    """A hashable form of a JSON value, equal where JSON Schema calls values equal: numbers by
    value (1 is 1.0), true apart from 1, objects whatever the order of their members.

    Built with a stack of our own, children before parents: an item may nest as deeply as the
    parser allows, more than Python's recursion limit leaves at this depth of validation."""
    built: list[Hashable] = []
    pending: list[tuple[Any, bool]] = [(value, False)]
    while pending:
        node, children_done = pending.pop()
        if isinstance(node, dict | list) and not children_done:
            pending.append((node, True))
            members = node.values() if isinstance(node, dict) else node
            pending.extend((member, False) for member in reversed(list(members)))
        elif isinstance(node, dict | list):
            count = len(node)
            identities = tuple(built[len(built) - count :])
            del built[len(built) - count :]
            if isinstance(node, dict):
                built.append((dict, frozenset(zip(node, identities, strict=True))))
            else:
                built.append((list, identities))
        elif isinstance(node, bool):
            built.append((bool, node))
        else:
            built.append(node)
    return built[0]


@cache
def validator() -> Draft7Validator:
    """Return the validator of the shipped schema, its references resolved once, up front.

    jsonschema is imported here, at the first check: building its format checkers takes about
    a second, which every command of the CLI would otherwise pay on start.
    """
    from jsonschema import Draft7Validator, validators

    # Draft 7 in all but how propertyNames, uniqueItems and items are run (extend is untyped
    # in jsonschema's stubs).
    keywords = {"propertyNames": _property_names, "uniqueItems": _unique_items, "items": _items}
    epcis: type[Draft7Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft7Validator, keywords
    )
    return epcis(inlined_schema(), format_checker=Draft7Validator.FORMAT_CHECKER)


def inlined_schema() -> dict[str, Any]:
    """Return the shipped schema with every `#/definitions/...` reference replaced by its target.

    Resolving a reference costs jsonschema a registry lookup and a new validator each time it
    is met (about 55 per event): inlining them once takes some 40% off every check. The file's
    references are all local and none is recursive, so the result says exactly what it says.
    """
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    definitions = schema.pop("definitions")
    inlined: dict[str, Any] = {}

    def resolve(node: Any, via: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [resolve(item, via) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            # Draft 7 ignores whatever stands beside a $ref, so the target replaces the node.
            name = ref.removeprefix("#/definitions/")
            if name == ref or name not in definitions or name in via:
                raise ValueError(f"the EPCIS schema has a reference that cannot be inlined: {ref}")
            if name not in inlined:
                inlined[name] = resolve(definitions[name], (*via, name))
            return inlined[name]
        return {
            key: value if key in DATA_KEYWORDS else resolve(value, via)
            for key, value in node.items()
        }

    resolved: dict[str, Any] = resolve(schema, ())
    return resolved


def schema_problems(document: Any) -> list[SchemaProblem]:
    """Return what is wrong with `document` under the EPCIS schema: each field found wrong,
    by event, up to MAX_PROBLEMS; past that, or where a list was not checked to its end (_items),
    one more problem says how many are not named and which items were not checked."""
    errors = list(validator().iter_errors(document))
    if not errors:
        return []
    events = document_events(document) or []
    unchecked: dict[str, tuple[int | None, _Unchecked]] = {}  # by the path of the list
    by_event: dict[int | None, list[ValidationError]] = {}
    for error in errors:
        cut = _unchecked(error)
        if cut is not None:
            unchecked.setdefault(_path(error), (_event_index(error), cut))
        else:
            by_event.setdefault(_event_index(error), []).append(error)
    problems = []
    for index in sorted(by_event, key=lambda i: -1 if i is None else i):
        for error in _telling_each(by_event[index]):
            problems.append(
                SchemaProblem(index, _event_id(events, index), _path(error), _message(error))
            )
    if len(problems) <= MAX_PROBLEMS and not unchecked:
        return problems
    return [*problems[:MAX_PROBLEMS], _more(problems, unchecked, events)]


def _event_id(events: list[Any], index: int | None) -> str | None:
    if index is not None and index < len(events) and isinstance(events[index], dict):
        found = events[index].get("eventID")
        return found if isinstance(found, str) else None
    return None


def _more(
    problems: list[SchemaProblem],
    unchecked: dict[str, tuple[int | None, _Unchecked]],
    events: list[Any],
) -> SchemaProblem:
    """The problem that ends a check cut short: how many problems are not named, from the
    first of them on (where the reader goes on from), and which lists were not checked."""
    said = []
    if len(problems) > MAX_PROBLEMS:
        first = problems[MAX_PROBLEMS]
        index = first.event_index
        where = DOCUMENT if index is None else f"eventList[{index}]"
        said.append(f"{len(problems) - MAX_PROBLEMS} more problems, from here on, are not named")
    else:
        where, (index, _) = next(iter(unchecked.items()))
    said += [
        f"the {cut.count} items from {path}[{cut.index}] on were not checked"
        for path, (_, cut) in unchecked.items()
    ]
    bounds = [f"at most {MAX_PROBLEMS} are named"] if len(problems) > MAX_PROBLEMS else []
    if unchecked:
        bounds.append(f"a list is checked until {MAX_PROBLEMS} problems are found in it")
    message = f"{'; '.join(said)} ({', and '.join(bounds)})"
    return SchemaProblem(index, _event_id(events, index), where, message, more=True)


def _telling_each(errors: list[ValidationError]) -> list[ValidationError]:
    """Return the telling error of each field found wrong, the most telling first.

    An anyOf counts only if none of its branches fails just for what is named already: an
    event whose quantity is a string fails "epcList or quantityList" too, saying nothing more.
    """
    certain = sorted(
        (error for error in errors if not error.context),
        key=lambda error: -len(error.absolute_path),
    )
    named: dict[tuple[tuple[Any, ...], str], ValidationError] = {}
    for error in certain:  # if/then and allOf may say the same thing twice
        named.setdefault((tuple(error.absolute_path), error.message), error)
    for error in errors:
        if error.context and not _follows(error, list(named.values())):
            telling = _closest_branch(error)
            named.setdefault((tuple(telling.absolute_path), telling.message), telling)
    return list(named.values())


# Errors at an object that are about one of its keys, not about the whole value there.
_KEY_KEYWORDS = frozenset({"required", "additionalProperties", "dependencies"})


def _follows(error: ValidationError, named: list[ValidationError]) -> bool:
    """Say whether a branch of the anyOf `error` fails only for errors already `named`: the
    same error, or any error at or under a value named wrong."""
    said = {(tuple(e.absolute_path), e.message) for e in named}
    wrong = [
        tuple(e.absolute_path)
        for e in named
        if e.validator not in _KEY_KEYWORDS and "propertyNames" not in e.absolute_schema_path
    ]

    def covered(found: ValidationError) -> bool:
        if _unchecked(found) is not None:  # what was not checked, not something wrong
            return True
        path = tuple(found.absolute_path)
        return (path, found.message) in said or any(path[: len(w)] == w for w in wrong)

    return any(all(covered(found) for found in branch) for branch in _branches(error))


def _telling(errors: list[ValidationError]) -> ValidationError:
    """Return the error among `errors` that says best what is wrong.

    The schema is a web of if/then and anyOf. An error outside any anyOf holds whatever the
    event meant to be, so it comes first, the deepest (most specific field) of them. Only when
    all are anyOfs do their branches speak: the branch the event came closest to matching.
    """
    certain = [error for error in errors if not error.context]
    if certain:
        return max(certain, key=lambda error: len(error.absolute_path))
    return _closest_branch(max(errors, key=lambda error: len(error.absolute_path)))


# Keywords that fix a value (ObjectEvent's branches say "action" must be "^OBSERVE$"): failing
# one says the event is not of that branch, rather than what is wrong in the branch it is of.
_SELECTORS = frozenset({"const", "enum", "pattern"})


def _closest_branch(error: ValidationError) -> ValidationError:
    """Return the telling error of the branch of an anyOf (oneOf) with the fewest errors; among
    branches as close, one whose errors are not all about which branch the event is."""
    closest = min(
        _branches(error),
        key=lambda found: (len(found), all(e.validator in _SELECTORS for e in found)),
    )
    return _telling(closest)


def _branches(error: ValidationError) -> list[list[ValidationError]]:
    """The errors of each branch of an anyOf (oneOf) `error`, branch by branch."""
    branches: dict[Any, list[ValidationError]] = {}
    for found in error.context or []:
        branches.setdefault(found.relative_schema_path[0], []).append(found)
    return list(branches.values())


def _message(error: ValidationError) -> str:
    if "propertyNames" in error.absolute_schema_path:  # the error is about a key, not a value
        return (
            f"{error.instance!r} is no field the schema has here, and an extension field is "
            "named by a URI (prefix:name)"
        )
    alternatives = _alternatives(error)
    if alternatives:
        return f"needs {alternatives}"  # rather than one alternative said to be required
    if error.validator == "not" and error.validator_value == {}:
        return "not allowed here"  # jsonschema says "... should not be valid under {}"
    return _DECIMAL.sub(r"\1", str(error.message))


def _alternatives(error: ValidationError) -> str | None:
    """Say the fields an anyOf of `required` asks one set of ("epcList, quantityList, or
    sensorElementList with readPoint"); None if `error` is no such requirement."""
    parent = error.parent
    if error.validator != "required" or parent is None or parent.validator != "anyOf":
        return None
    branches: dict[Any, list[str]] = {}
    for found in parent.context or []:
        instance: Any = found.instance
        if found.validator != "required" or not isinstance(instance, dict):
            return None
        names: Any = found.validator_value
        missing = [name for name in names if name not in instance]
        branches.setdefault(found.relative_schema_path[0], []).extend(missing)
    said = [" with ".join(dict.fromkeys(names)) for names in branches.values()]
    if len(said) < 3:
        return " or ".join(said)
    return f"{', '.join(said[:-1])}, or {said[-1]}"


# Where each kind of document keeps its events: a capture, or the answer to an EPCIS query.
EVENT_LISTS = {
    "EPCISDocument": ("epcisBody", "eventList"),
    "EPCISQueryDocument": ("epcisBody", "queryResults", "resultsBody", "eventList"),
}


def document_events(document: Any) -> list[Any] | None:
    """Return the events of an EPCIS document or query document; None if it is neither."""
    kind = document.get("type") if isinstance(document, dict) else None
    path = EVENT_LISTS.get(kind) if isinstance(kind, str) else None
    if path is None:
        return None
    found: Any = document
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return list(found) if isinstance(found, list) else []


def _event_index(error: ValidationError) -> int | None:
    path = list(error.absolute_path)
    for prefix in EVENT_LISTS.values():
        n = len(prefix)
        if len(path) > n and tuple(path[:n]) == prefix and isinstance(path[n], int):
            return int(path[n])
    return None


def _path(error: ValidationError) -> str:
    parts = list(error.absolute_path)
    for prefix in sorted(EVENT_LISTS.values(), key=len, reverse=True):
        if tuple(parts[: len(prefix) - 1]) == prefix[:-1]:
            parts = parts[len(prefix) - 1 :]  # from the event list on, as in a capture document
            break
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or DOCUMENT
