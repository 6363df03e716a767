"""`tracegraph copy-store --to URL`: carry a plant to another store (a laptop's file to Neo4j)."""

from __future__ import annotations

import argparse
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from api.auth.copy import AccountsCopy, account_contents, accounts_to_copy, copy_accounts
from api.cli_input import check_store_folder
from api.cli_output import say
from api.deps import Services
from api.settings import get_settings
from graph.connect import SQLITE, require_store, store_file
from graph.embedded_store import empty_store
from graph.errors import BadRequest, Conflict, DomainError, StoreBusy, StoreUnavailable
from graph.sqlite_files import make_private, store_files
from ingest.store_copy import PlantCopy, copy_plant, graph_contents

Opener = Callable[[argparse.Namespace], Services]
# The port a Neo4j URL that names none is served on (Bolt's).
NEO4J_PORT = 7687
RESUME_HINT = (
    "copy-store: the copy stopped; the target keeps what it carried. Run the same command "
    "with --resume to finish it"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser], opener: Opener) -> None:
    """Add `copy-store`."""
    copy = commands.add_parser(
        "copy-store",
        help="copy this store's plant and accounts into an empty store, and check the copy",
        description=(
            "Copy the event log (as stored, with who sent each event and when), documents, "
            "code schemes, lot sequences and accounts into an empty store, rebuild the graph "
            "there and check that both stores agree. Stop the service writing to the source "
            "first. Sessions do not move: people log in again on the new store. A copy that "
            "fails removes a new file it made and leaves an empty one empty, of no bytes; one into "
            "Neo4j that stops, or one killed outright, keeps what it carried: run it again "
            "with --resume to finish it. Until then other commands refuse the store it left. "
            "One copy at a time fills a target: another into it meanwhile is refused."
        ),
    )
    copy.add_argument("--store", help="the store to copy (TRACEGRAPH_STORE)")
    copy.add_argument(
        "--to",
        required=True,
        help="the empty store to fill: sqlite:///new.db or neo4j://host:7687 "
        "(Neo4j's credentials from TRACEGRAPH_NEO4J_*)",
    )
    copy.add_argument(
        "--resume",
        action="store_true",
        help="finish a copy into this target that stopped: what it carried is checked, "
        "not copied again",
    )
    # The target may be a new file; the source must exist: `_copy` checks both before opening
    # them, which the opener then does not do again.
    copy.set_defaults(func=lambda args: _copy(args, opener), checks_stores=True)


def _copy(args: argparse.Namespace, opener: Opener) -> int:
    source_url = args.store or get_settings().store
    if _same_store(source_url, args.to):
        raise BadRequest(f"--to names the store being copied: {args.to}")
    require_store(source_url)  # opening a missing one would make an empty store to copy
    check_store_folder(args.to, "--to")
    source = opener(args)  # first: a source refused leaves no file made for the target
    try:
        with _claimed(args.to) as made:
            plant, accounts = _copy_opened(args, opener, source, source_url, made)
    finally:
        source.close()
    print(_summary(plant, accounts, args.to))
    return 0


def _copy_opened(
    args: argparse.Namespace,
    opener: Opener,
    source: Services,
    source_url: str,
    made: bool,
) -> tuple[PlantCopy, AccountsCopy]:
    # A store an earlier copy left unfinished is opened, to be refused or resumed.
    target = opener(argparse.Namespace(**{**vars(args), "store": args.to, "finishing_copy": True}))
    was_empty = False
    wrote = False

    # A target is marked unfinished from the copy's first write until the copy is whole and
    # checked: one killed outright leaves part of the plant that no other command opens.
    def before_writing() -> None:
        nonlocal wrote
        wrote = True
        target.store.mark_copy(_shown(source_url))

    try:
        with target.store.held_for_copy():  # a file is held by `_claimed` already
            was_empty = _refuse_held(target, resume=args.resume)
            copied = _copy_into(source, target, resume=args.resume, before_writing=before_writing)
    except BaseException:
        target.close()
        _after_failure(args.to, made, was_empty, wrote=wrote)
        raise
    target.close()
    return copied


@contextmanager
def _claimed(url: str) -> Iterator[bool]:
    """Hold the embedded store file `url` names against other copies into it for the whole
    copy (made if there is none); yield whether this copy made it, which then alone removes it.

    Two copies into one file at once each found it empty and wrote into it: the one that then
    failed removed, as the file it had made, the other's copy, which had said it was whole.
    The hold (flock, apart from SQLite's own locks) goes with the process, killed or not."""
    path = store_file(url)
    if path is None:
        yield False  # a Neo4j target: no file to make or remove
        return
    made = False
    try:
        held = make_private(path)
        made = True
    except FileExistsError:
        try:
            held = os.open(path, os.O_RDONLY)  # a folder too: its store then says what is wrong
        except OSError as error:
            why = error.strerror
            raise StoreUnavailable(f"cannot open the store file {path}: {why}") from error
    except OSError as error:
        raise StoreUnavailable(f"cannot make the store file {path}: {error.strerror}") from error
    try:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            made = False  # made, then opened by another copy before it was held: theirs
            raise StoreBusy(
                f"another copy-store is filling {path}: let it finish, or stop it and run it "
                "again with --resume"
            ) from None
        if not _still_at(held, path):
            # Removed by the copy that made it, failing, before it was held here: a hold on a
            # file no longer at the path would keep no other copy out of the one made there.
            made = False
            raise StoreBusy(
                f"another copy-store made and removed {path} as this one opened it: run the "
                "command again"
            )
        yield made
    except BaseException:
        if made:  # made by this copy, and held: no one else's to keep
            # The main file last: while the others go, it and its hold keep other copies out.
            for file in reversed(store_files(path)):
                file.unlink(missing_ok=True)
        raise
    finally:
        # Only now: closing a file a process has open drops its SQLite locks on it, and the
        # copy's connections to the target are closed by then.
        os.close(held)


def _still_at(held: int, path: Path) -> bool:
    """Tell whether the open file `held` is still the file at `path`."""
    try:
        return os.path.samestat(os.fstat(held), os.stat(path))
    except FileNotFoundError:
        return False


def _refuse_held(target: Services, *, resume: bool) -> bool:
    """Raise Conflict, having written nothing, if the target holds anything and this is no
    resumed copy; return whether it holds nothing."""
    held = graph_contents(target.store) + account_contents(target.accounts)
    if held and not resume:
        raise Conflict(
            f"the target store is not empty: it holds {', '.join(held)}. "
            "Copy into a new file, or an empty Neo4j database; "
            "--resume finishes a copy into it that stopped"
        )
    return not held


def _after_failure(to: str, made: bool, was_empty: bool, *, wrote: bool) -> None:
    """Leave a file the copy found empty (or made) as it was, so that the same command run again
    makes a whole copy; say how to finish a copy into anything else that it wrote to, which
    keeps what it carried."""
    if made:  # made by this copy: `_claimed` removes it as it lets go
        return
    path = store_file(to)
    if was_empty and path is not None:
        try:
            empty_store(path)
            return
        except (DomainError, OSError) as refused:  # open in a server, say: it stays as it is
            say(f"copy-store: {refused}")
    # Only a copy that wrote may have left part of the plant: one refused or failed before then
    # (its target not empty, or not a copy of this store; a rebuild under way there) changed
    # nothing, and its own message says what to do.
    if wrote:
        say(RESUME_HINT)


def _copy_into(
    source: Services, target: Services, *, resume: bool, before_writing: Callable[[], None]
) -> tuple[PlantCopy, AccountsCopy]:
    """Copy the plant and the accounts, calling `before_writing` (which marks the target
    unfinished) before the first write; the whole copy, checked, is unmarked."""
    # A resumed copy checks the accounts too before it writes: refused, it has written nothing.
    accounts_to_copy(source.accounts, target.accounts, resume=resume)
    plant = copy_plant(
        source.store, target.store, progress=_progress, resume=resume, before_writing=before_writing
    )
    accounts = copy_accounts(source.accounts, target.accounts, resume=resume)
    target.store.mark_copy(None)
    return plant, accounts


def _progress(phase: str) -> None:
    say(f"copying: {phase}")


def _summary(plant: PlantCopy, accounts: AccountsCopy, to: str) -> str:
    nodes = ", ".join(
        f"{count} {kind}"
        for kind, count in sorted(plant.counts.items())
        if count and kind not in ("edges", "events")
    )
    resumed = (
        f"; {plant.resumed_after} of them already there, from the copy that stopped"
        if plant.resumed_after
        else ""
    )
    return "\n".join(
        [
            f"copied into {to}:",
            f"  event log: {plant.events} events ({plant.replayed} live, rebuilt into the graph)"
            + resumed,
            f"  graph: {plant.counts.get('edges', 0)} relationships; nodes: {nodes or 'none'}",
            f"  documents: {plant.documents}; code schemes: {plant.mark_schemes} for marks, "
            f"{plant.lot_schemes} for lots; lot sequences: {plant.lot_sequences}",
            f"  accounts: {accounts.companies} companies, {accounts.users} users, "
            f"{accounts.keys} API keys, {accounts.partners} partners, "
            f"{accounts.trail} entries of the account audit trail",
            "checked: the copy's log, graph, schemes, sequences, documents and accounts "
            "equal the source's",
        ]
    )


def _same_store(one: str, other: str) -> bool:
    """Whether two URLs name one store: an embedded one by any of its names, a link's too; a
    Neo4j one by its server, whatever the scheme (both are opened with one database setting)."""
    if _shown(one).rstrip("/") == _shown(other).rstrip("/"):
        return True
    mine, theirs = store_file(one), store_file(other)
    if mine is None and theirs is None:
        server = _server(one)
        return server is not None and server == _server(other)
    if mine is None or theirs is None:
        return False
    try:
        return os.path.samefile(mine, theirs)
    except OSError:  # a target not made yet
        return False


def _shown(url: str) -> str:
    """The store `url` names, as a target's mark names it: an embedded one by its whole path."""
    path = store_file(url)
    return url if path is None else f"{SQLITE}{path.resolve()}"


def _server(url: str) -> tuple[str, int] | None:
    """The host and port of a Neo4j URL (7687, Bolt's, if it names none); None if malformed,
    which opening it then says."""
    try:
        parts = urlsplit(url)
        port = parts.port or NEO4J_PORT
    except ValueError:
        return None
    return None if parts.hostname is None else (parts.hostname, port)
