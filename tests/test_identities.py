"""A commit author whose mail a list rewrote ("A via ltp <ltp@lists.linux.it>", which git am
keeps) is A, not the list: the authors of such commits were one identity, the list's."""

from __future__ import annotations

from patchlens.identity.people import Identities, commit_author

LIST = "ltp@lists.linux.it"


def test_a_list_rewritten_commit_author_is_the_author() -> None:
    assert commit_author("Andrea Cervesato via ltp", LIST) == ("Andrea Cervesato", "")
    assert commit_author("'Jane Doe' via Linux-erofs", "linux-erofs@lists.ozlabs.org") == (
        "Jane Doe",
        "",
    )
    assert commit_author("Cyril Hrubis", "chrubis@suse.cz") == ("Cyril Hrubis", "chrubis@suse.cz")


def test_rewritten_commits_are_their_authors_not_one_list() -> None:
    senders = [("Andrea Cervesato", "andrea.cervesato@suse.com"), ("Wei Gao", "wegao@suse.com")]
    commits = [("Andrea Cervesato via ltp", LIST), ("Wei Gao via ltp", LIST)]
    # Looked up, not added (stages/context.py): the identity stays the address, never a
    # key made of the name, which would sort first.
    people = Identities(senders)
    andrea, wei = (people(*commit_author(n, e)) for n, e in commits)
    assert (andrea, wei) == ("addr:andrea.cervesato@suse.com", "addr:wegao@suse.com")
    # Taken as they are stored, both were the list's.
    raw = Identities(senders + commits)
    assert raw(*commits[0]) == raw(*commits[1])
