"""Matching at the edges, on a git repository and a mailbox built here.

One repository and one mailbox carry four stories, each the way it goes wrong on real lists:
- two people post one diff (the commit's author first, a colleague's identical re-send later);
- a patch posted against `old/dir/`, committed after the directory moved to `new/place/`;
- a revert posted twice a year apart (the later one, by another person, is committed), and a
  revert posted once and committed by someone else a year later without a posting;
- a struct moved twice in the repository, and an unmerged posting moving it where the second
  move (a year later, by someone else, unposted) takes it.
The postings are `git format-patch` output of side branches, so the diffs are git's own.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from patchlens.config import Config
from patchlens.stages import ingest
from patchlens.stages.pipeline import run_stages
from patchlens.stages.progress import Reporter
from patchlens.store import schema
from patchlens.store.db import open_store

T0 = 1_700_000_000
DAY = 86400
PEOPLE = {
    "alice": ("Alice Archer", "alice@example.org"),
    "bob": ("Bob Baker", "bob@example.net"),
    "carol": ("Carol Clark", "carol@example.org"),
    "dave": ("Dave Dunn", "dave@example.com"),
    "erin": ("Erin Ellis", "erin@example.org"),
    "frank": ("Frank Fox", "frank@example.net"),
    "gina": ("Gina Gray", "gina@example.org"),
    "hank": ("Hank Hill", "hank@example.com"),
    "ivan": ("Ivan Ives", "ivan@example.net"),
    "maint": ("Max Maintainer", "max@example.org"),
}
STRUCT = "struct foo {\n\tint a;\n\tlong b;\n\tchar name[16];\n\tvoid *priv;\n};\n"


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "--quiet", "-b", "master")

    def git(self, *args: str, who: str = "maint", day: float = 0) -> str:
        name, addr = PEOPLE[who]
        date = f"@{int(T0 + day * DAY)} +0000"
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": addr,
            "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": PEOPLE["maint"][0],
            "GIT_COMMITTER_EMAIL": PEOPLE["maint"][1],
            "GIT_COMMITTER_DATE": date,
        }
        return subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        ).stdout

    def write(self, files: dict[str, str | None]) -> None:
        for name, text in files.items():
            f = self.path / name
            if text is None:
                self.git("rm", "--quiet", name)
                continue
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(text)
            self.git("add", name)

    def commit(self, title: str, files: dict[str, str | None], who: str, day: float) -> str:
        self.write(files)
        self.git("commit", "--quiet", "-m", f"{title}\n\nWhy it matters.", who=who, day=day)
        return self.git("rev-parse", "HEAD").strip()

    def posting(
        self, title: str, files: dict[str, str | None], who: str, day: float, msgid: str
    ) -> str:
        """A mail of the change on a side branch from the current state, posted on `day`."""
        self.git("checkout", "--quiet", "-b", f"side-{msgid}")
        self.commit(title, files, who, day)
        mail = self.git("format-patch", "--stdout", "-1", "HEAD")
        self.git("checkout", "--quiet", "master")
        head, sep, rest = mail.partition("\nSubject: ")
        return f"{head}\nMessage-ID: <{msgid}@example>{sep}{rest}"


def _lib(extra: str = "") -> str:
    return "int lib(int n)\n{\n\tif (n > 10)\n\t\treturn 0;\n" + extra + "\treturn n;\n}\n"


def _x(body: str) -> str:
    return f"/* x */\nint x(int v)\n{{\n{body}}}\n"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict[str, dict[str, tuple[str, str, bool, dict]]]:
    """subject of each commit -> (Message-ID linked, method, ambiguous, evidence)."""
    tmp = tmp_path_factory.mktemp("match-scenarios")
    r = Repo(tmp / "repo")
    mails: list[str] = []
    r.commit(
        "initial",
        {
            "lib/a.c": _lib(),
            "old/dir/x.c": _x("\treturn v;\n"),
            "old/dir/y.c": "int y;\n",
            "inc/s.h": "/* s */\n" + STRUCT + "int s;\n",
            "inc/v.h": "/* v */\n",
            "inc/u.h": "/* u */\n",
            "knob.c": "int knob;\n",
        },
        "maint",
        0,
    )
    # 1. One diff, two people: Alice's own posting, then Bob's identical re-send two days later.
    fix = {"lib/a.c": _lib("\tif (n < 0)\n\t\treturn -1;\n")}
    mails.append(r.posting("lib: reject negative sizes", fix, "alice", 1, "alice-fix"))
    mails.append(r.posting("lib/a: fix negative n", fix, "bob", 3, "bob-fix"))
    r.commit("lib: reject negative sizes", fix, "alice", 5)

    # 2. Carol changes old/dir/x.c and adds old/dir/z.c; Dave moves old/dir to new/place;
    # Carol's patch is committed there with one line edited by the maintainer.
    carol = {
        "old/dir/x.c": _x("\tif (!v)\n\t\treturn -22;\n\tv = check(v);\n\treturn v;\n"),
        "old/dir/z.c": "int check(int v)\n{\n\treturn v & 0xff;\n}\n",
    }
    mails.append(r.posting("x: validate the value first", carol, "carol", 10, "carol-x"))
    (r.path / "new").mkdir()
    r.git("mv", "old/dir", "new/place")
    r.git("commit", "--quiet", "-m", "move old/dir to new/place", who="dave", day=12)
    r.commit(
        "x: validate the value first",
        {
            "new/place/x.c": _x("\tif (!v)\n\t\treturn -EINVAL;\n\tv = check(v);\n\treturn v;\n"),
            "new/place/z.c": carol["old/dir/z.c"],
        },
        "carol",
        15,
    )

    # 3. Reverts of one commit posted a year apart: Erin's (never applied), then Frank's,
    # which is committed. Then a revert posted by Erin and committed, without a posting, by
    # Frank a year later.
    r.commit("knob: add a knob", {"knob.c": "int knob;\nint knob_level = 3;\n"}, "maint", 20)
    r.commit("dial: add a dial", {"dial.c": "int dial = 7;\nint dial_max = 9;\n"}, "maint", 21)
    unknob = {"knob.c": "int knob;\n"}
    mails.append(r.posting('Revert "knob: add a knob"', unknob, "erin", 30, "erin-knob"))
    undial = {"dial.c": None}
    mails.append(r.posting('Revert "dial: add a dial"', undial, "erin", 31, "erin-dial"))
    mails.append(r.posting('Revert "knob: add a knob"', unknob, "frank", 395, "frank-knob"))
    r.commit('Revert "knob: add a knob"', unknob, "frank", 400)
    r.commit('Revert "dial: add a dial"', undial, "frank", 401)

    # 4. struct foo: Gina posts a move from inc/s.h to inc/u.h (never applied); Ivan moves it
    # to inc/v.h (posted and committed); a year later Hank moves it on from inc/v.h to inc/u.h
    # without a posting: the same lines as Gina's, the same title, a file in common.
    gina = {"inc/s.h": "/* s */\nint s;\n", "inc/u.h": "/* u */\n" + STRUCT}
    mails.append(r.posting("inc: move struct foo to u.h", gina, "gina", 40, "gina-move"))
    ivan = {"inc/s.h": "/* s */\nint s;\n", "inc/v.h": "/* v */\n" + STRUCT}
    mails.append(r.posting("inc: move struct foo to v.h", ivan, "ivan", 44, "ivan-move"))
    r.commit("inc: move struct foo to v.h", ivan, "ivan", 45)
    hank = {"inc/v.h": "/* v */\n", "inc/u.h": "/* u */\n" + STRUCT}
    r.commit("inc: move struct foo to u.h", hank, "hank", 420)

    mbox = tmp / "list.mbox"
    mbox.write_text("".join(m if m.endswith("\n") else m + "\n" for m in mails))
    db = tmp / "s.db"
    engine = open_store(str(db))
    ingest.add_list(engine, "list", [str(mbox)])
    ingest.add_repo(engine, "repo", str(r.path), ["master"])
    reports = ingest.run_update(engine, tmp / "cache", Reporter(quiet=True))
    assert not [x.error for x in reports if x.error]
    run_stages(engine, Config(), tmp / "cache", Reporter(quiet=True))
    pc, m, c = schema.patch_commits, schema.messages, schema.commits
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.c.subject, m.c.message_id, pc.c.method, pc.c.ambiguous, pc.c.evidence)
            .join(m, m.c.id == pc.c.message_pk)
            .join(c, c.c.id == pc.c.commit_pk)
        ).all()
        postings = {mid for (mid,) in conn.execute(select(m.c.message_id))}
    engine.dispose()
    assert len(postings) == len(mails), "every posting stored"
    links = {row[0]: (row[1], row[2], row[3], json.loads(row[4])) for row in rows}
    return {"links": links, "linked": {v[0] for v in links.values()}}  # type: ignore[dict-item]


def test_identical_diff_from_two_people_credits_the_commit_author(scenario) -> None:
    mid, method, ambiguous, ev = scenario["links"]["lib: reject negative sizes"]
    assert (mid, method, ambiguous) == ("alice-fix@example", "patch-id", False)
    assert ev["twins"] == ["bob-fix@example"]
    assert "bob-fix@example" not in scenario["linked"]


def test_patch_committed_after_its_directory_moved(scenario) -> None:
    mid, method, _amb, ev = scenario["links"]["x: validate the value first"]
    assert (mid, method) == ("carol-x@example", "subject")
    assert ev["renamed"] == ["old/dir/x.c", "old/dir/z.c"]


def test_revert_posted_twice_a_year_apart(scenario) -> None:
    mid, method, ambiguous, ev = scenario["links"]['Revert "knob: add a knob"']
    assert (mid, method, ambiguous) == ("frank-knob@example", "patch-id", False)
    assert ev["twins"] == ["erin-knob@example"]


def test_revert_committed_by_another_a_year_later_is_not_the_posting(scenario) -> None:
    # Erin's revert of the dial is the same diff as Frank's commit a year later, by another
    # person: not Erin's work merged.
    assert 'Revert "dial: add a dial"' not in scenario["links"]
    assert not {"erin-knob@example", "erin-dial@example"} & scenario["linked"]


def test_struct_moved_twice_links_only_its_own_posting(scenario) -> None:
    mid, method, _amb, _ev = scenario["links"]["inc: move struct foo to v.h"]
    assert (mid, method) == ("ivan-move@example", "patch-id")
    assert "inc: move struct foo to u.h" not in scenario["links"]
    assert "gina-move@example" not in scenario["linked"]
