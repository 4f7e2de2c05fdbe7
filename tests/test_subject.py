"""Tests for patchlens.mail.subject: every documented subject form, plus whole real archives.

The unit cases compare the complete parsed ``Subject`` (every field), so a change in any
convention shows up as a failing case rather than as a silent drift in the matcher downstream.
"""

from __future__ import annotations

import dataclasses
import gzip
import re
import subprocess
import time
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from pathlib import Path

import pytest

from patchlens.mail.subject import Subject, as_sent, normalize_title, parse_subject
from tests.conftest import DATA as DATA_DIR  # ../shared/data, or $PATCHLENS_DATA
from tests.helpers.subjects import expect

EROFS_BUNDLE = DATA_DIR / "erofs" / "linux-erofs-archive.0.bundle"
XEN_MBOX = DATA_DIR / "xen" / "xen-devel-posted-patches-2019-2020.mbox.gz"

KNOWN_FLAGS = {
    "RFC",
    "RFT",
    "RESEND",
    "PULL",
    "GIT PULL",
    "WIP",
    "AUTOSEL",
    "FYI",
    "DRAFT",
    "UNTESTED",
    "POC",
    "REBASED",
    "SUBSET",
    "COMMITTED",
    "PUSHED",
    "APPLIED",
}


FOO = ("xen: fix foo", "xen:fix foo")

CASES: list[Subject] = [
    # --- the forms required by the brief ---
    expect("[PATCH] xen: fix foo", *FOO),
    expect("[PATCH v3 2/7] xen: fix foo", *FOO, version=3, version_str="3", index=2, total=7),
    expect("[PATCHv2] xen: fix foo", *FOO, version=2, version_str="2"),
    # A slip after the number (linux-bluetooth's "[PATCH BlueZ v2.. 0/7]", split from its v1).
    expect(
        "[PATCH BlueZ v2.. 0/7] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=0,
        total=7,
        prefixes=("BlueZ",),
    ),
    expect("[PATCH v2, 1/3] xen: fix foo", *FOO, version=2, version_str="2", index=1, total=3),
    # A committed patch posted for the record: a flag, not a list tag (LTP).
    expect(
        "[LTP] [COMMITTED] [PATCH] xen: fix foo", *FOO, flags=("COMMITTED",), list_tags=("LTP",)
    ),
    expect("[PATCH 2/7 v3] xen: fix foo", *FOO, version=3, version_str="3", index=2, total=7),
    expect(
        "[RFC PATCH v2 0/3] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=0,
        total=3,
        rfc=True,
        flags=("RFC",),
    ),
    expect("[PATCH RFC] xen: fix foo", *FOO, rfc=True, flags=("RFC",)),
    expect("[PATCH RESEND] xen: fix foo", *FOO, resend=True, flags=("RESEND",)),
    expect("[PATCH, RESEND] xen: fix foo", *FOO, resend=True, flags=("RESEND",)),
    expect(
        "[PATCH net-next v2] xen: fix foo", *FOO, version=2, version_str="2", prefixes=("net-next",)
    ),
    expect("[PATCH v5.1 3/7] xen: fix foo", *FOO, version=5, version_str="5.1", index=3, total=7),
    expect("[PULL 05/22] xen: fix foo", *FOO, index=5, total=22, pull=True, flags=("PULL",)),
    expect(
        "[GIT PULL] erofs updates for 6.8-rc1",
        "erofs updates for 6.8-rc1",
        "erofs updates for 6.8-rc1",
        pull=True,
        flags=("GIT PULL",),
    ),
    expect(
        "[LTP] [PATCH v2 1/3] syscalls/open: fix foo",
        "syscalls/open: fix foo",
        "syscalls/open:fix foo",
        version=2,
        version_str="2",
        index=1,
        total=3,
        list_tags=("LTP",),
    ),
    expect("[XEN PATCH v2] xen: fix foo", *FOO, version=2, version_str="2", prefixes=("XEN",)),
    expect(
        "[PATCH for-4.19 v2] xen: fix foo", *FOO, version=2, version_str="2", prefixes=("for-4.19",)
    ),
    expect(
        "[PATCH-for-9.1] hw/xen: fix foo",
        "hw/xen: fix foo",
        "hw/xen:fix foo",
        prefixes=("for-9.1",),
    ),
    expect("Re: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("RE: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Aw: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("AW: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Antw: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Sv: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Fwd: [PATCH] xen: fix foo", *FOO, is_reply=True, is_forward=True),
    expect("Fw: [PATCH] xen: fix foo", *FOO, is_reply=True, is_forward=True),
    expect("WG: [PATCH] xen: fix foo", *FOO, is_reply=True, is_forward=True),
    expect("Re[2]: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("re: RE:Re: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Re: Re: [PATCH] xen: fix foo", *FOO, is_reply=True),
    expect("Re: Fwd: [PATCH] xen: fix foo", *FOO, is_reply=True, is_forward=True),
    expect(
        "Re: [Xen-devel] [PATCH v2] xen: fix foo",
        *FOO,
        is_reply=True,
        version=2,
        version_str="2",
        list_tags=("Xen-devel",),
    ),
    # --- the seven real subjects that broke a previous tool (exact titles) ---
    expect(
        "[PATCHv1 net] xen-netfront: request Tx response events more often",
        "xen-netfront: request Tx response events more often",
        "xen-netfront:request tx response events more often",
        version=1,
        version_str="1",
        prefixes=("net",),
    ),
    expect(
        "[PATCH v8 0/<VARIOUS>] Begin to  disentangle libxenctrl and provide some stable libraries",
        "Begin to disentangle libxenctrl and provide some stable libraries",
        "begin to disentangle libxenctrl and provide some stable libraries",
        version=8,
        version_str="8",
        index=0,
        total=None,
    ),
    expect(
        "[PATCH RFC] xen/Kconfig: Use olddefconfig not silentoldconfig to update .config",
        "xen/Kconfig: Use olddefconfig not silentoldconfig to update .config",
        "xen/kconfig:use olddefconfig not silentoldconfig to update.config",
        rfc=True,
        flags=("RFC",),
    ),
    expect(
        "[PATCH LIBVIRT v2] libxl: Support cmdline= in xl config files",
        "libxl: Support cmdline= in xl config files",
        "libxl:support cmdline=in xl config files",
        version=2,
        version_str="2",
        prefixes=("LIBVIRT",),
    ),
    expect(
        "Re: [PATCH V13 3/5] libxl: add pvusb API",
        "libxl: add pvusb API",
        "libxl:add pvusb api",
        is_reply=True,
        version=13,
        version_str="13",
        index=3,
        total=5,
    ),
    expect(
        "[PATCH v5 for Xen 4.7 0/4] Enable per-VCPU parameter settings for RTDS scheduler",
        "Enable per-VCPU parameter settings for RTDS scheduler",
        "enable per-vcpu parameter settings for rtds scheduler",
        version=5,
        version_str="5",
        index=0,
        total=4,
        prefixes=("for Xen 4.7",),
    ),
    expect(
        "[PATCH, RESEND] xen: allocate gntdev_copy_batch dynamically",
        "xen: allocate gntdev_copy_batch dynamically",
        "xen:allocate gntdev_copy_batch dynamically",
        resend=True,
        flags=("RESEND",),
    ),
    # --- more real forms ---
    expect("[PATCH 00/10] xen: fix foo", *FOO, index=0, total=10),
    expect(
        "[PATCH v2 RESEND 1/2] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=1,
        total=2,
        resend=True,
        flags=("RESEND",),
    ),
    expect(
        "[RESEND PATCH v3] xen: fix foo",
        *FOO,
        version=3,
        version_str="3",
        resend=True,
        flags=("RESEND",),
    ),
    expect(
        "[RESEND,PATCH v2 1/2] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=1,
        total=2,
        resend=True,
        flags=("RESEND",),
    ),
    expect("[PATCH -next] xen: fix foo", *FOO, prefixes=("next",)),
    expect("[PATCH-next v2] xen: fix foo", *FOO, version=2, version_str="2", prefixes=("next",)),
    expect(
        "[PATCH v2][RFC] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        rfc=True,
        flags=("RFC",),
    ),
    expect("[PATCH 1/2 v2] xen: fix foo", *FOO, version=2, version_str="2", index=1, total=2),
    expect("[PATCH v3 07/15] xen: fix foo", *FOO, version=3, version_str="3", index=7, total=15),
    expect(
        "[PATCH net v2 3/4] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=3,
        total=4,
        prefixes=("net",),
    ),
    expect("[PATCH] [RFC] xen: fix foo", *FOO, rfc=True, flags=("RFC",)),
    expect(
        "[PULL v2 00/10] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=0,
        total=10,
        pull=True,
        flags=("PULL",),
    ),
    expect("[PULL REQUEST] xen: fix foo", *FOO, pull=True, flags=("PULL",)),
    expect("[GIT PULL REQUEST] xen: fix foo", *FOO, pull=True, flags=("GIT PULL",)),
    expect("[RFC][PATCH 2/3] xen: fix foo", *FOO, index=2, total=3, rfc=True, flags=("RFC",)),
    expect("[RFC/PATCH] xen: fix foo", *FOO, rfc=True, flags=("RFC",)),
    expect(
        "[RFCv3 1/2] xen: fix foo",
        *FOO,
        version=3,
        version_str="3",
        index=1,
        total=2,
        rfc=True,
        flags=("RFC",),
    ),
    expect("[PATCH xen-unstable] xen: fix foo", *FOO, prefixes=("xen-unstable",)),
    expect("[PATCH for-next 1/1] xen: fix foo", *FOO, index=1, total=1, prefixes=("for-next",)),
    expect("[patch v2] xen: fix foo", *FOO, version=2, version_str="2"),
    expect("[Patch V2] xen: fix foo", *FOO, version=2, version_str="2"),
    expect(
        "[PATCH v2 1/3] erofs-utils: lib: fix foo",
        "erofs-utils: lib: fix foo",
        "erofs-utils:lib:fix foo",
        version=2,
        version_str="2",
        index=1,
        total=3,
    ),
    expect(
        "[PATCH] xen: fix [foo] handling",
        "xen: fix [foo] handling",
        "xen:fix[foo]handling",
    ),
    expect("[PATCH] [net-next] xen: fix foo", *FOO, prefixes=("net-next",)),
    expect(
        "[PATCH 1/2][next] xen: fix foo",
        *FOO,
        index=1,
        total=2,
        prefixes=("next",),
    ),
    expect(
        "[PATCH] [PATCH v2] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
    ),
    expect(
        "Re: [PATCH v4][ 1/2] erofs-utils: introduce fixed UNIX timestamp",
        "erofs-utils: introduce fixed UNIX timestamp",
        "erofs-utils:introduce fixed unix timestamp",
        is_reply=True,
        version=4,
        version_str="4",
        index=1,
        total=2,
    ),
    expect(
        "[[PATCH v2 1/2] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=1,
        total=2,
    ),
    expect("[PATCH 1 / 3] xen: fix foo", *FOO, index=1, total=3),
    expect("[PATCH 2/n] xen: fix foo", *FOO, index=2, total=None),
    expect("[PATCH]: xen: fix foo", *FOO),
    # a keyword-less group directly followed by ":" is the title's subsystem, not a prefix
    expect(
        "[PATCH RFC PKS/PMEM 58/58] [dax|pmem]: Enable stray access protection",
        "[dax|pmem]: Enable stray access protection",
        "[dax|pmem]:enable stray access protection",
        index=58,
        total=58,
        rfc=True,
        flags=("RFC",),
        prefixes=("PKS/PMEM",),
    ),
    expect(
        "[PATCH RFC v2 for-6.8/block 01/18] block: add a bdev_file_open_by_dev helper",
        "block: add a bdev_file_open_by_dev helper",
        "block:add a bdev_file_open_by_dev helper",
        version=2,
        version_str="2",
        index=1,
        total=18,
        rfc=True,
        flags=("RFC",),
        prefixes=("for-6.8/block",),
    ),
    expect(
        "[PATCH AUTOSEL 6.6 21/43] erofs: reliably distinguish block based and fscache mode",
        "erofs: reliably distinguish block based and fscache mode",
        "erofs:reliably distinguish block based and fscache mode",
        index=21,
        total=43,
        flags=("AUTOSEL",),
        prefixes=("6.6",),
    ),
    expect(
        "[PATCH v2 00/27 5.10.y] Backport minmax.h updates from v6.17-rc7",
        "Backport minmax.h updates from v6.17-rc7",
        "backport minmax.h updates from v6.17-rc7",
        version=2,
        version_str="2",
        index=0,
        total=27,
        prefixes=("5.10.y",),
    ),
    expect(
        "[PATCH v2-rebased] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        flags=("REBASED",),
    ),
    expect(
        "[WIP] [PATCH v2 1/3] xen: fix foo",
        *FOO,
        version=2,
        version_str="2",
        index=1,
        total=3,
        flags=("WIP",),
    ),
    expect(
        "[GSoC 2026 + PATCH erofs-rs] chunk index (8-byte) layout support",
        "chunk index (8-byte) layout support",
        "chunk index(8-byte)layout support",
        prefixes=("GSoC 2026", "erofs-rs"),
    ),
    # reply prefixes and list tags interleaved, as Mailman and corporate gateways write them
    expect(
        "[Xen-devel] Re: [PATCH v2] xen: fix foo",
        *FOO,
        is_reply=True,
        version=2,
        version_str="2",
        list_tags=("Xen-devel",),
    ),
    expect(
        "Re: [External Mail]Re: [PATCH v5] erofs-utils: fsck: introduce exporting xattrs",
        "erofs-utils: fsck: introduce exporting xattrs",
        "erofs-utils:fsck:introduce exporting xattrs",
        is_reply=True,
        version=5,
        version_str="5",
        list_tags=("External Mail",),
    ),
    expect(
        "答复: [External Mail][PATCH] erofs: fix wrong primary bvec selection",
        "erofs: fix wrong primary bvec selection",
        "erofs:fix wrong primary bvec selection",
        is_reply=True,
        list_tags=("External Mail",),
    ),
    expect(
        "撤回: [PATCH 2/2] erofs-utils: support 128-bit filesystem UUID",
        "erofs-utils: support 128-bit filesystem UUID",
        "erofs-utils:support 128-bit filesystem uuid",
        is_reply=True,
        index=2,
        total=2,
    ),
    expect(
        "Re: (subset) [PATCH v14 00/10] erofs: Introduce page cache sharing feature",
        "erofs: Introduce page cache sharing feature",
        "erofs:introduce page cache sharing feature",
        is_reply=True,
        version=14,
        version_str="14",
        index=0,
        total=10,
        flags=("SUBSET",),
    ),
    expect(
        "Subject: [PATCH] tests: add basic smoke/integration test script",
        "tests: add basic smoke/integration test script",
        "tests:add basic smoke/integration test script",
    ),
    # --- not patches ---
    expect(
        "[syzbot] [erofs?] KASAN: use-after-free Read in z_erofs_decompress",
        "KASAN: use-after-free Read in z_erofs_decompress",
        "kasan:use-after-free read in z_erofs_decompress",
        is_patch=False,
        list_tags=("syzbot", "erofs?"),
    ),
    expect(
        "[xiang-erofs:dev-test 10/10] ERROR: modpost: undefined!",
        "ERROR: modpost: undefined!",
        "error:modpost:undefined!",
        is_patch=False,
        list_tags=("xiang-erofs:dev-test 10/10",),
    ),
    expect(
        "[v2] erofs: get rid of erofs_kmap_type",
        "erofs: get rid of erofs_kmap_type",
        "erofs:get rid of erofs_kmap_type",
        is_patch=False,
        version=2,
        version_str="2",
    ),
    expect(
        "Re: don't merge bios, was: Re: [PATCH] erofs:  prevent merges",
        "don't merge bios, was: Re: [PATCH] erofs: prevent merges",
        "don't merge bios,was:re:[patch]erofs:prevent merges",
        is_reply=True,
        is_patch=False,
    ),
    expect(
        'Patch "erofs: fix PSI memstall accounting" has been added to the 6.1-stable tree',
        'Patch "erofs: fix PSI memstall accounting" has been added to the 6.1-stable tree',
        'patch"erofs:fix psi memstall accounting"has been added to the 6.1-stable tree',
        is_patch=False,
    ),
    expect(
        "no brackets here at all",
        "no brackets here at all",
        "no brackets here at all",
        is_patch=False,
    ),
    expect(
        "Request for Assistance: GSoC",
        "Request for Assistance: GSoC",
        "request for assistance:gsoc",
        is_patch=False,
    ),
    expect(
        "Proposal Documentation Available â€“ Project Details Included",
        "Proposal Documentation Available â€“ Project Details Included",
        "proposal documentation available â€“project details included",
        is_patch=False,
    ),
    expect("", "", "", is_patch=False),
    expect("Re:", "", "", is_reply=True, is_patch=False),
    expect("[PATCH v2", "[PATCH v2", "[patch v2", is_patch=False),
]


@pytest.mark.parametrize("expected", [pytest.param(c, id=c.raw or "<empty>") for c in CASES])
def test_parse_subject_forms(expected: Subject) -> None:
    got = parse_subject(expected.raw)
    assert dataclasses.asdict(got) == dataclasses.asdict(expected)
    assert got == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\t\n",
        "[",
        "]",
        "[]",
        "[[[[[",
        "]]]] [PATCH]",
        "[PATCH]",
        "Re: Re: Re:",
        "Re: [",
        "[PATCH 99999999999999999999/3] huge index",
        "[PATCH v99999999999999999999] huge version",
        "[PATCH v2.3.4.5] deep version",
        "[PATCH 0/0] zero",
        "=?UTF-8?B?W1BBVENIXQ==?= undecoded",
        "\udcff\udcfe surrogate-escaped bytes [PATCH]",
        "\x00\x01 control [PATCH\x00] chars",
        "Ã¤Ã¶Ã¼ mojibake [PATCH] Ã©",
        "［PATCH］ full-width brackets",
        "[PATCH " + "x " * 5000 + "] very long group",
        "Re: " * 2000 + "[PATCH] many replies",
    ],
)
def test_never_raises(raw: str) -> None:
    got = parse_subject(raw)
    assert got.raw == raw
    assert got.title == " ".join(got.title.split())
    assert got.normalized_title == normalize_title(got.title)


def test_subject_is_frozen_and_hashable() -> None:
    s = parse_subject("[PATCH v2 1/3] xen: fix foo")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.version = 3  # type: ignore[misc]
    assert hash(s) == hash(parse_subject("[PATCH v2 1/3] xen: fix foo"))
    assert not hasattr(s, "__dict__")  # slots


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("erofs: fix foo", "erofs:fix foo"),
        ("erofs: fix foo", "EROFS : Fix  foo"),
        ("erofs: fix foo.", "erofs: fix foo"),
        ("erofs：fix foo", "erofs: fix foo"),  # full-width colon from CJK input methods
        ("fix foo( bar )", "fix foo(bar)"),
        ("erofs:  prevent buffered read", "erofs: prevent buffered read"),
    ],
)
def test_normalized_title_matches_variants(a: str, b: str) -> None:
    assert normalize_title(a) == normalize_title(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("erofs: fix foo", "erofs: fix bar"),
        ("erofs: fix foo bar", "erofs: fix foobar"),
    ],
)
def test_normalized_title_keeps_words_apart(a: str, b: str) -> None:
    assert normalize_title(a) != normalize_title(b)


def _require(path: Path) -> Path:
    """Fail (not skip) when shared real data is missing: these tests are the robustness gate."""
    if not path.exists():
        pytest.fail(
            f"real data missing: {path} (expected the shared data dir at {DATA_DIR}; "
            "see ../shared/data/README.md)"
        )
    return path


@pytest.fixture(scope="module")
def erofs_subjects(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """All commit subjects of the EROFS public-inbox epoch, i.e. every message's subject."""
    bundle = _require(EROFS_BUNDLE)
    repo = tmp_path_factory.mktemp("erofs") / "archive.git"
    try:
        subprocess.run(
            ["git", "clone", "--quiet", "--bare", str(bundle), str(repo)],
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            ["git", "-C", str(repo), "log", "--format=%s"],
            check=True,
            capture_output=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.fail(f"cannot read {bundle} with git: {exc}")
    return out.decode("utf-8", "surrogateescape").split("\n")[:-1]


@pytest.mark.slow
def test_erofs_archive_subjects(erofs_subjects: list[str]) -> None:
    subjects = erofs_subjects
    assert len(subjects) >= 15_000, "the archive holds 15,218 messages"

    start = time.perf_counter()
    parsed = [parse_subject(s) for s in subjects]
    elapsed = time.perf_counter() - start
    rate = len(subjects) / elapsed
    print(f"\nparsed {len(subjects)} EROFS subjects in {elapsed:.3f}s ({rate:,.0f}/s)")
    # A generous floor (the parser does >100k/s): catches accidental quadratic behaviour only.
    assert rate > 10_000

    for p in parsed:
        assert p.title == " ".join(p.title.split())
        assert p.normalized_title == normalize_title(p.title)
        assert set(p.flags) <= KNOWN_FLAGS
        assert p.rfc == ("RFC" in p.flags)
        assert p.resend == ("RESEND" in p.flags)
        assert p.pull == ("PULL" in p.flags or "GIT PULL" in p.flags)
        assert p.is_reply or not p.is_forward
        assert p.version >= 0
        if p.version_str:
            assert p.version == int(p.version_str.split(".")[0])
        else:
            assert p.version == 1
        if p.total is not None:
            assert p.index is not None and p.total >= 0
        if p.is_patch and not p.is_reply:
            assert p.title, p.raw

    # index <= total, except real "one more patch" follow-ups such as "[PATCH 4/3]"
    over = [p for p in parsed if p.index is not None and p.total is not None and p.index > p.total]
    assert len(over) <= 20, [p.raw for p in over]
    assert all(p.index - p.total <= 3 for p in over), [p.raw for p in over]  # type: ignore[operator]

    # Every "[PATCH" subject is a patch, unless it was renamed ("new topic, was: Re: [PATCH]").
    renamed = re.compile(r"\bwas\b.*\[patch", re.IGNORECASE)
    missed = [p.raw for p in parsed if "[patch" in p.raw.casefold() and not p.is_patch]
    assert all(renamed.search(raw) for raw in missed), missed
    assert len(missed) < 30

    # Shape of the archive: ~6,700 patch postings (README), most of the rest replies to them.
    frac = sum(p.is_patch for p in parsed) / len(parsed)
    assert 0.85 < frac < 0.93, frac
    postings = sum(p.is_patch and not p.is_reply for p in parsed)
    assert 6_400 < postings < 7_200, postings
    replies = sum(p.is_reply for p in parsed)
    assert 0.45 < replies / len(parsed) < 0.70
    # Real list tags are recognised, and kernel test robot reports are not patches.
    tags = {t for p in parsed for t in p.list_tags}
    assert {"syzbot", "Linux-cachefs", "xiang-erofs:dev"} <= tags
    assert not any(p.is_patch for p in parsed if p.raw.startswith("[xiang-erofs:"))


def _mbox_subjects(path: Path) -> list[str]:
    """Decoded Subject headers of a gzipped mbox (stdlib only; headers are all we need)."""
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    parser = BytesHeaderParser()
    subjects = []
    for chunk in re.split(rb"^From .*\n", data, flags=re.MULTILINE):
        if not chunk.strip():
            continue
        raw = parser.parsebytes(chunk).get("Subject")
        if raw is not None:
            subjects.append(str(make_header(decode_header(raw))))
    return subjects


@pytest.mark.slow
def test_xen_posted_patches_are_all_patches() -> None:
    """Patchew's export holds only postings: every subject must parse as a non-reply patch."""
    subjects = _mbox_subjects(_require(XEN_MBOX))
    assert len(subjects) == 3_744
    parsed = [parse_subject(s) for s in subjects]
    assert [p.raw for p in parsed if not p.is_patch or p.is_reply] == []
    assert all(p.title for p in parsed)
    series = [p for p in parsed if p.total is not None]
    assert series and all(p.index is not None and 0 < p.index <= p.total for p in series)


@pytest.mark.parametrize(
    ("subject", "index", "total", "version"),
    [
        # stgit's patchsets (Darrick Wong's on linux-xfs): the numbers count the patchsets
        # sent together; each is the cover letter of the patches threaded under it.
        ("[PATCHSET 1/2] xfs: bug fixes for 7.0", 0, None, ""),
        ("[PATCHSET v2.0 06/17] xfsprogs: shard the realtime section", 0, None, "2.0"),
        ("[PATCHSETv3 2/5] xfs: online repair", 0, None, "3"),
        ("[PATCHSET] xfs: a patchset of one", 0, None, ""),
        ("[PATCHSET v11 00/10] xfs: parent pointers", 0, 10, "11"),
        ("[PATCH 1/6] xfs: a patch under it", 1, 6, ""),
    ],
)
def test_a_patchset_is_a_cover_letter(
    subject: str, index: int, total: int | None, version: str
) -> None:
    s = as_sent(parse_subject(subject), has_patch=False)
    assert (s.index, s.total, s.version_str, s.is_patch) == (index, total, version, True)


def test_a_patchset_with_a_diff_is_a_patch() -> None:
    """Read as sent: with a diff, the numbers are a patch's (the review helper's case)."""
    s = parse_subject("[PATCHSET 9/8] unwritten_sync: convert to ftruncate")
    assert s.patchset and (as_sent(s, has_patch=True).index, s.index, s.total) == (9, 9, 8)
    assert not parse_subject("[PATCH 1/6] xfs: y").patchset
