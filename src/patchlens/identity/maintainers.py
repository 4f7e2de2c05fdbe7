"""Who maintains what: the MAINTAINERS file (Linux, Xen, QEMU format) and its history.

Review metrics per subsystem need to know which subsystems a patch touches and who was
expected to answer it. Projects write that down in MAINTAINERS; the reference reader is
Linux's `scripts/get_maintainer.pl` (Xen ships a fork of it). This module reads the file the
way that script does, so that our "expected reviewers" are the people `get_maintainer.pl`
would have put on Cc.

Format. A section is a title line followed by tag lines `T: value` (a capital letter in
column 0, a colon; unknown tags are kept in `Section.entries`). Like get_maintainer.pl we do
not look for a fixed end of the preamble: a section is a run of tag lines, and its title is
the last non-blank, non-indented, non-tag line before the run (so "Maintainers List",
rulers and tab-indented descriptions such as "\\tM: Mail patches to" are never taken for
sections). An underline ("-----") under a title is skipped, as in QEMU's file. Two guards
get_maintainer.pl lacks: tag runs before the first real section that name no address and no
file pattern are dropped (old Linux files list "P: Person / M: Mail patches to / S: Status"
in column 0 in their preamble), and an indented line ends a section without starting one.

F:/X: patterns, as in get_maintainer.pl (`file_match_pattern`):
- `*` and `?` become the regex `.*` and `.`, and the pattern must match at the start of the
  path (not the end: `F: configure` also covers `configure.ac`, as in the script).
- A pattern ending in `/` covers everything below it, and there `*` may cross `/`
  (`F: */` matches every path that has a directory).
- Any other pattern also requires as many `/` in the path as in the pattern, which keeps `*`
  inside one component: `F: drivers/net/*` covers `drivers/net/a.c`, not
  `drivers/net/b/c.c`.
- `**` has no meaning of its own in get_maintainer.pl (it is `.*.*`, the same as `*`); so
  here.
- A pattern without wildcard that names a directory counts as `dir/` there (the script
  checks `-d` on the source tree). We have no tree, so such a pattern covers the path
  itself, paths that start with it at the same depth (the script's rule for a file) and
  everything below `pattern/` (its rule for a directory): a superset of what the script
  matches whichever the name is.
- `{a,b}` (not nested) is expanded as Xen's fork of the script does; Linux's copy would take
  the braces literally and never match. `[...]` is kept as a character class; other regex
  characters are taken literally (the script would pass `+` or `(` to the regex engine).
- X: is tested first: a section with a matching X: does not match the file at all, not even
  through N:.
- N: is a Python regex (Perl `/x`, i.e. `re.VERBOSE`) searched in the path; K: likewise in a
  patch's text. Patterns Python cannot compile are skipped and listed in
  `Maintainers.invalid_patterns`.

Specificity ("pattern depth", as in get_maintainer.pl): for an F: pattern, the number of `/`
in it, plus one unless it ends with `/`, and -1 when it starts with `*` (so `F: *` and
`F: */` of THE REST rank last); an N: match counts 0. A section's depth for a file is the
highest depth of its matching patterns (the script keeps the last matching line's, which
depends on line order); ties keep file order (the script's order there is Perl hash order).

Catch-all. `Section.is_catch_all` is set for "THE REST" and for any section with both
`F: *` and `F: */` (QEMU's is titled differently), so a report can tell "only THE REST"
from a real subsystem; catch-all sections always sort last.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Maintainers",
    "MaintainersHistory",
    "Person",
    "Section",
    "from_files",
    "from_history",
    "parse_maintainers",
    "parse_person",
    "pattern_depth",
]


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Section:
    title: str
    maintainers: tuple[Person, ...]
    reviewers: tuple[Person, ...]
    lists: tuple[str, ...]
    status: str | None
    files: tuple[str, ...]
    excludes: tuple[str, ...]
    regexes: tuple[str, ...]
    keywords: tuple[str, ...]
    is_catch_all: bool
    # Every tag line in file order, known tags included, so that W:, T:, Q:, B:, C:, P:, V:
    # and tags we have never heard of stay available.
    entries: tuple[tuple[str, str], ...] = ()

    def values(self, tag: str) -> tuple[str, ...]:
        """All values of one tag (e.g. "T" for trees, "W" for web pages), in file order."""
        return tuple(v for t, v in self.entries if t == tag)


# ---------------------------------------------------------------------------------------
# Parsing

_TAG = re.compile(r"^([A-Z]):\s*(.*)$")
_RULER = re.compile(r"^[-=_~*.#\s]+$")


def parse_person(value: str) -> Person:
    """`Name <addr>`, `<addr>` or a bare address, like get_maintainer.pl's parse_email."""
    m = re.match(r"^([^<]+)<(.+@.*)>.*$", value)
    if m:
        name, email = m.group(1), m.group(2)
    else:
        m = re.match(r"^\s*<(.+@\S*)>", value) or re.match(r"^\s*(\S+@\S*)", value)
        if m:
            name, email = "", m.group(1)
        else:
            # "M: Mail patches to" and the like: no address; keep the text as the name.
            name, email = value, ""
    return Person(name.strip().strip('"').strip(), email.strip())


def _is_catch_all(title: str, files: tuple[str, ...]) -> bool:
    return title.strip().upper() == "THE REST" or ("*" in files and "*/" in files)


def _build_section(title: str, entries: list[tuple[str, str]]) -> Section:
    def vals(tag: str) -> tuple[str, ...]:
        return tuple(v for t, v in entries if t == tag)

    statuses = vals("S")
    files = vals("F")
    return Section(
        title=title,
        maintainers=tuple(parse_person(v) for v in vals("M")),
        reviewers=tuple(parse_person(v) for v in vals("R")),
        lists=vals("L"),
        # get_maintainer.pl's role comes from the last S: line.
        status=statuses[-1] if statuses else None,
        files=files,
        excludes=vals("X"),
        regexes=vals("N"),
        keywords=vals("K"),
        is_catch_all=_is_catch_all(title, files),
        entries=tuple(entries),
    )


def _looks_real(entries: list[tuple[str, str]]) -> bool:
    """A section names an address or a file pattern; preamble legends do neither."""
    return any(tag in "FXNK" or (tag in "MRL" and "@" in value) for tag, value in entries)


def parse_maintainers(text: str) -> list[Section]:
    """All sections of a MAINTAINERS file, in file order, preamble skipped."""
    sections: list[Section] = []
    title: str | None = None  # candidate title for the next run of tag lines
    cur_title = ""
    cur: list[tuple[str, str]] | None = None

    def close() -> None:
        nonlocal cur
        if cur is not None and (sections or _looks_real(cur)):
            sections.append(_build_section(cur_title, cur))
        cur = None

    for raw in text.splitlines():
        line = raw.rstrip()
        if not line:
            continue
        m = _TAG.match(line)
        if m:
            if cur is None:
                cur = []
                cur_title = title or ""
                title = None
            cur.append((m.group(1), m.group(2).strip()))
            continue
        close()
        if line[0] in " \t":
            continue  # indented text: legend, note or ruler, never a title
        if _RULER.match(line) and title is not None:
            continue  # "Title\n-----": keep the title above the underline
        title = line.strip()
    close()
    return sections


# ---------------------------------------------------------------------------------------
# Pattern matching


def pattern_depth(pattern: str) -> int:
    """get_maintainer.pl's specificity of an F: pattern (see the module docstring)."""
    if pattern.startswith("*"):
        return -1
    return pattern.count("/") + (0 if pattern.endswith("/") else 1)


_BRACE = re.compile(r"\{([^{}]*,[^{}]*)\}")


def _expand_braces(pattern: str) -> list[str]:
    """`a/{b,c}.h` -> [`a/b.h`, `a/c.h`] (one level, as Xen's get_maintainer.pl)."""
    m = _BRACE.search(pattern)
    if not m:
        return [pattern]
    out: list[str] = []
    for alt in m.group(1).split(","):
        out.extend(_expand_braces(pattern[: m.start()] + alt + pattern[m.end() :]))
    return out


_WILD = re.compile(r"[*?\[]")


def _glob_regex(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[" and (j := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : j]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


class _FilePattern:
    """One F:/X: alternative, compiled once; `key` is the directory its literal start names."""

    __slots__ = ("depth", "dir", "key", "literal", "rx", "section", "slashes", "text")

    def __init__(self, section: int, text: str) -> None:
        self.section = section
        self.text = text
        self.depth = pattern_depth(text)
        self.dir = text.endswith("/")
        self.slashes = text.count("/")
        w = _WILD.search(text)
        if w is None:
            self.literal: str | None = text
            self.rx: re.Pattern[str] | None = None
            start = text
        else:
            self.literal = None
            self.rx = re.compile(_glob_regex(text), re.S)
            start = text[: w.start()]
        self.key = start[: start.rfind("/") + 1]

    def matches(self, path: str, slashes: int) -> bool:
        lit = self.literal
        if lit is not None:
            if not path.startswith(lit):
                return False
            if self.dir or slashes == self.slashes:
                return True
            # No tree to ask `-d`: a literal may name a directory, covered recursively.
            return path[len(lit)] == "/" if len(path) > len(lit) else False
        assert self.rx is not None
        if not self.dir and slashes != self.slashes:
            return False
        return self.rx.match(path) is not None


def _dir_prefixes(path: str) -> list[str]:
    """Index keys that can hold patterns for a path: "", "a/", "a/b/" for "a/b/c"."""
    out = [""]
    i = path.find("/")
    while i != -1:
        out.append(path[: i + 1])
        i = path.find("/", i + 1)
    return out


def _compile_regex(value: str, invalid: list[str], what: str) -> re.Pattern[str] | None:
    try:
        return re.compile(value, re.VERBOSE)
    except re.error:
        invalid.append(f"{what}: {value}")
        return None


_PATCH_FILE = re.compile(r"^(?:\+\+\+|---)\s+\S")
_PATCH_SKIP = re.compile(
    r"^(?:@@ -\d+,\d+|diff --git a/\S+ b/\S+\s*$|rename (?:from|to) \S+\s*$"
    r"| mode change [0-7]+ => [0-7]+ \S+\s*$)"
)


class Maintainers:
    """One version of a MAINTAINERS file, indexed for many path look-ups.

    F: patterns are bucketed by the directory their literal start names, so a path only
    tests the patterns filed under its own ancestors (plus the few that start with a
    wildcard); results are cached per path, since a series touches the same files again.
    """

    def __init__(self, sections: list[Section]) -> None:
        self.sections: list[Section] = list(sections)
        self.invalid_patterns: list[str] = []
        self._index: dict[str, list[_FilePattern]] = {}
        self._excludes: dict[int, list[_FilePattern]] = {}
        self._names: list[tuple[int, re.Pattern[str]]] = []
        self._keywords: list[tuple[int, re.Pattern[str]]] = []
        for i, sec in enumerate(self.sections):
            for value in sec.files:
                for alt in _expand_braces(value):
                    p = _FilePattern(i, alt)
                    self._index.setdefault(p.key, []).append(p)
            for value in sec.excludes:
                for alt in _expand_braces(value):
                    self._excludes.setdefault(i, []).append(_FilePattern(i, alt))
            for value in sec.regexes:
                rx = _compile_regex(value, self.invalid_patterns, f"{sec.title} N")
                if rx is not None:
                    self._names.append((i, rx))
            for value in sec.keywords:
                rx = _compile_regex(value, self.invalid_patterns, f"{sec.title} K")
                if rx is not None:
                    self._keywords.append((i, rx))
        self._cache: dict[str, tuple[tuple[int, int], ...]] = {}
        self._people: dict[str, str] | None = None

    @property
    def names(self) -> dict[str, str]:
        """Lower-cased address -> the first name the file gives it (M: and R: lines), so an
        entry can be looked up as a person by name as well as address."""
        if self._people is None:
            self._people = first_names(self.sections)
        return self._people

    @classmethod
    def from_text(cls, text: str) -> Maintainers:
        return cls(parse_maintainers(text))

    def __len__(self) -> int:
        return len(self.sections)

    def section(self, title: str) -> Section | None:
        """The first section with this title (titles are unique in practice)."""
        return next((s for s in self.sections if s.title == title), None)

    # -- per path ------------------------------------------------------------------------

    def _match(self, path: str) -> tuple[tuple[int, int], ...]:
        """(section index, depth) for every section covering `path`, most specific first."""
        hit = self._cache.get(path)
        if hit is not None:
            return hit
        if not self.sections:
            return ()
        p = path[2:] if path.startswith("./") else path
        slashes = p.count("/")
        best: dict[int, int] = {}
        for key in _dir_prefixes(p):
            for pat in self._index.get(key, ()):
                if pat.matches(p, slashes) and best.get(pat.section, -2) < pat.depth:
                    best[pat.section] = pat.depth
        for i, rx in self._names:
            if rx.search(p) and best.get(i, -2) < 0:
                best[i] = 0
        for i in [i for i in best if i in self._excludes]:
            if any(x.matches(p, slashes) for x in self._excludes[i]):
                del best[i]
        secs = self.sections
        result = tuple(
            sorted(best.items(), key=lambda kv: (secs[kv[0]].is_catch_all, -kv[1], kv[0]))
        )
        self._cache[path] = result
        return result

    def matches_for_file(self, path: str) -> list[tuple[Section, int]]:
        """(section, pattern depth) for each section covering the path, most specific first."""
        return [(self.sections[i], d) for i, d in self._match(path)]

    def sections_for_file(self, path: str) -> list[Section]:
        """All sections covering the path, most specific first, catch-all last."""
        return [self.sections[i] for i, _ in self._match(path)]

    def sections_for_files(self, paths: Iterable[str]) -> list[Section]:
        """Union over the paths, ranked by each section's best depth, catch-all last."""
        best: dict[int, int] = {}
        for path in paths:
            for i, d in self._match(path):
                if best.get(i, -2) < d:
                    best[i] = d
        secs = self.sections
        order = sorted(best.items(), key=lambda kv: (secs[kv[0]].is_catch_all, -kv[1], kv[0]))
        return [secs[i] for i, _ in order]

    def sections_for_keywords(self, text: str, *, patch: bool = True) -> list[Section]:
        """Sections whose K: regex occurs in the text, as get_maintainer.pl scans a patch.

        With `patch`, lines before the first file header (commit message, diffstat) are
        searched whole, later ones only if they are added or removed lines; without it the
        text is a file's content and is searched whole.
        """
        if not self._keywords:
            return []
        found: set[int] = set()
        if not patch:
            found = {i for i, rx in self._keywords if rx.search(text)}
        else:
            in_diff = False
            for line in text.splitlines():
                if _PATCH_FILE.match(line):
                    in_diff = True
                    continue
                if _PATCH_SKIP.match(line):
                    continue
                if in_diff and not line.startswith(("+", "-")):
                    continue
                pos = 1 if in_diff else 0
                for i, rx in self._keywords:
                    if i not in found and rx.search(line, pos):
                        found.add(i)
        return [self.sections[i] for i in sorted(found)]

    def expected_reviewers(
        self, paths: Iterable[str], *, text: str | None = None, nearest: bool = False
    ) -> set[str]:
        """Lower-cased M:/R: addresses of the sections covering the paths.

        Per path, the catch-all's people count only when no other covering section names
        anyone (as Xen's get_maintainer.pl drops THE REST once a file has a real
        maintainer). `nearest` keeps, per path, only the most specific sections that name
        someone (Xen's rule: the most specific maintainer's ack is necessary and
        sufficient). `text`, a patch, adds the people of sections whose K: keywords it
        contains.
        """
        out: set[str] = set()
        secs = self.sections
        for path in paths:
            matched = self._match(path)
            specific = [(i, d) for i, d in matched if not secs[i].is_catch_all]
            if nearest:
                # The most specific sections that name someone (an orphaned one does not).
                specific = [(i, d) for i, d in specific if _emails([secs[i]])]
                specific = [(i, d) for i, d in specific if d == specific[0][1]]
            people = _emails(secs[i] for i, _ in specific)
            if not people:
                people = _emails(secs[i] for i, _ in matched if secs[i].is_catch_all)
            out |= people
        if text is not None:
            out |= _emails(self.sections_for_keywords(text))
        return out


def first_names(sections: Iterable[Section]) -> dict[str, str]:
    """Lower-cased M:/R: address -> the first non-empty name the sections give it, in order:
    one name per address, however many sections list it under which spellings."""
    out: dict[str, str] = {}
    for sec in sections:
        for p in (*sec.maintainers, *sec.reviewers):
            e = p.email.lower()
            if e and not out.get(e):
                out[e] = p.name
    return out


def _emails(sections: Iterable[Section]) -> set[str]:
    return {p.email.lower() for s in sections for p in (*s.maintainers, *s.reviewers) if p.email}


# ---------------------------------------------------------------------------------------
# History

_EMPTY = Maintainers([])


class MaintainersHistory:
    """Versions of MAINTAINERS by the date they took effect, so a series posted in 2019 is
    judged by the 2019 file. Versions may be given lazily (a loader); a few parsed ones are
    kept, since callers walk series in date order and the Linux file has thousands."""

    def __init__(
        self,
        versions: Iterable[tuple[int, Maintainers | Callable[[], Maintainers]]] = (),
        *,
        keep: int = 4,
    ) -> None:
        items = sorted(enumerate(versions), key=lambda kv: (kv[1][0], kv[0]))
        self._dates: list[int] = [int(ts) for _, (ts, _) in items]
        self._versions = [v for _, (_, v) in items]
        self._keep = keep
        self._parsed: OrderedDict[int, Maintainers] = OrderedDict()

    def __len__(self) -> int:
        return len(self._dates)

    @property
    def dates(self) -> list[int]:
        return list(self._dates)

    def _get(self, k: int) -> Maintainers:
        v = self._versions[k]
        if isinstance(v, Maintainers):
            return v
        m = self._parsed.get(k)
        if m is None:
            m = v()
            self._parsed[k] = m
            while len(self._parsed) > self._keep:
                self._parsed.popitem(last=False)
        else:
            self._parsed.move_to_end(k)
        return m

    def at(self, ts: int) -> Maintainers | None:
        """The version in force at `ts`: the newest dated <= ts, else the oldest; None if
        there is no version at all."""
        if not self._dates:
            return None
        k = bisect.bisect_right(self._dates, ts) - 1
        return self._get(max(k, 0))

    def at_or_empty(self, ts: int) -> Maintainers:
        """Like `at`, but an empty Maintainers (no sections) when there is no file."""
        m = self.at(ts)
        return _EMPTY if m is None else m

    def sections_for_files(self, ts: int, paths: Iterable[str]) -> list[Section]:
        return self.at_or_empty(ts).sections_for_files(paths)

    def expected_reviewers(self, ts: int, paths: Iterable[str]) -> set[str]:
        return self.at_or_empty(ts).expected_reviewers(paths)


def from_files(items: Iterable[tuple[int, str | Path]]) -> MaintainersHistory:
    """A history from MAINTAINERS files on disk, each with the date it took effect."""
    versions: list[tuple[int, Maintainers | Callable[[], Maintainers]]] = []
    for ts, path in items:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
        versions.append((int(ts), Maintainers.from_text(text)))
    return MaintainersHistory(versions)


def from_history(versions: Iterable[tuple[int, Callable[[], str] | None]]) -> MaintainersHistory:
    """A history from dated versions of the file's text, each read on first use (a loader), or
    None where the file was deleted (an empty version). `sources.filehistory` gives these
    from a repository."""

    def parsed(load: Callable[[], str]) -> Callable[[], Maintainers]:
        return lambda: Maintainers.from_text(load())

    return MaintainersHistory(
        (ts, _EMPTY if load is None else parsed(load)) for ts, load in versions
    )
