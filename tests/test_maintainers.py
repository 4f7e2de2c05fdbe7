"""MAINTAINERS parsing and path-to-subsystem assignment, checked by hand against real files.

The Xen files (2019 and 2026) are read from ../shared/data; expected sections below were
written from reading those files, not from running the code.
"""

from __future__ import annotations

import collections
import gzip
import itertools
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from patchlens.identity.maintainers import (
    Maintainers,
    MaintainersHistory,
    Person,
    from_files,
    from_history,
    parse_maintainers,
    parse_person,
    pattern_depth,
)
from patchlens.mail.diff import file_stats
from patchlens.mail.parse import parse_message
from patchlens.sources.filehistory import file_history
from tests.conftest import data_path

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "maintainers"

X86 = "X86 ARCHITECTURE"
ARM = "ARM (W/ VIRTUALISATION EXTENSIONS) ARCHITECTURE"
REST = "THE REST"


def fixture(name: str) -> Maintainers:
    return Maintainers.from_text((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def xen2019() -> Maintainers:
    return Maintainers.from_text(data_path("xen", "MAINTAINERS-2019-06").read_text("utf-8"))


@pytest.fixture(scope="module")
def xen2026() -> Maintainers:
    return Maintainers.from_text(data_path("xen", "MAINTAINERS-2026").read_text("utf-8"))


def titles(sections) -> list[str]:
    return [s.title for s in sections]


# ---------------------------------------------------------------------------------------
# Parsing the real Xen files


def test_xen_2019_sections(xen2019: Maintainers) -> None:
    secs = xen2019.sections
    assert len(secs) == 46
    assert secs[0].title == "ACPI"  # the preamble and its legend are not sections
    assert secs[-1].title == REST
    assert [s.title for s in secs if s.is_catch_all] == [REST]
    assert xen2019.invalid_patterns == []

    arm = xen2019.section(ARM)
    assert arm is not None
    assert arm.maintainers == (
        Person("Stefano Stabellini", "sstabellini@kernel.org"),
        Person("Julien Grall", "julien.grall@arm.com"),
    )
    assert arm.reviewers == ()
    assert arm.status == "Supported"
    assert arm.lists == ("xen-devel@lists.xenproject.org",)
    assert arm.files == (
        "docs/misc/arm/",
        "xen/arch/arm/",
        "xen/drivers/char/arm-uart.c",
        "xen/drivers/char/cadence-uart.c",
        "xen/drivers/char/exynos4210-uart.c",
        "xen/drivers/char/meson-uart.c",
        "xen/drivers/char/mvebu-uart.c",
        "xen/drivers/char/omap-uart.c",
        "xen/drivers/char/pl011.c",
        "xen/drivers/char/scif-uart.c",
        "xen/drivers/passthrough/arm/",
        "xen/include/asm-arm/",
        "xen/include/public/arch-arm/",
        "xen/include/public/arch-arm.h",
    )
    assert not arm.is_catch_all

    x86 = xen2019.section(X86)
    assert x86 is not None
    assert x86.maintainers == (
        Person("Jan Beulich", "jbeulich@suse.com"),
        Person("Andrew Cooper", "andrew.cooper3@citrix.com"),
    )
    assert x86.reviewers == (
        Person("Wei Liu", "wl@xen.org"),
        Person("Roger Pau Monné", "roger.pau@citrix.com"),
    )
    assert x86.files == (
        "xen/arch/x86/",
        "xen/include/asm-x86/",
        "xen/include/public/arch-x86/",
        "xen/include/xen/lib/x86",
        "xen/lib/x86",
        "tools/firmware/hvmloader/",
        "tools/firmware/rombios/",
        "tools/firmware/vgabios/",
        "tools/tests/x86_emulator/",
        "tools/fuzz/x86_instruction_emulator/",
    )

    iommu = xen2019.section("IOMMU VENDOR INDEPENDENT CODE")
    assert iommu is not None
    assert iommu.files == ("xen/drivers/passthrough/", "xen/include/xen/iommu.h")
    assert iommu.excludes == (
        "xen/drivers/passthrough/amd/",
        "xen/drivers/passthrough/arm/",
        "xen/drivers/passthrough/vtd/",
        "xen/drivers/passthrough/device_tree.c",
    )

    svm = xen2019.section("AMD SVM")
    assert svm is not None
    assert svm.reviewers == (Person("Brian Woods", "brian.woods@amd.com"),)
    assert len(svm.maintainers) == 2

    paging = xen2019.section("X86 MEMORY PAGING")
    assert paging is not None
    assert paging.maintainers == () and paging.status == "Orphaned"

    ovmf = xen2019.section("OVMF UPSTREAM")
    assert ovmf is not None
    assert ovmf.files == ()
    assert ovmf.values("T") == ("git https://xenbits.xenproject.org/git-http/ovmf.git",)

    rest = xen2019.section(REST)
    assert rest is not None and rest.is_catch_all
    assert rest.files == ("*", "*/")
    assert len(rest.maintainers) == 9
    assert Person("George Dunlap", "George.Dunlap@eu.citrix.com") in rest.maintainers


def test_xen_2026_sections(xen2026: Maintainers) -> None:
    secs = xen2026.sections
    assert len(secs) == 57
    assert secs[0].title == "9PFSD"
    assert [s.title for s in secs if s.is_catch_all] == [REST]

    arm = xen2026.section(ARM)
    assert arm is not None
    assert [p.email for p in arm.maintainers] == [
        "sstabellini@kernel.org",
        "julien@xen.org",
        "bertrand.marquis@arm.com",
        "michal.orzel@amd.com",
    ]
    assert arm.reviewers == (Person("Volodymyr Babchuk", "Volodymyr_Babchuk@epam.com"),)
    assert "xen/include/asm-arm/" not in arm.files  # moved under xen/arch/arm/include

    x86 = xen2026.section(X86)
    assert x86 is not None
    assert x86.maintainers == (
        Person("Jan Beulich", "jbeulich@suse.com"),
        Person("Andrew Cooper", "andrew.cooper3@citrix.com"),
        Person("Roger Pau Monné", "roger@xenproject.org"),
    )
    assert x86.reviewers == (Person("Teddy Astie", "teddy.astie@vates.tech"),)
    assert len(x86.files) == 14 and x86.files[1] == "xen/drivers/passthrough/vtd/"

    flask = xen2026.section("XSM/FLASK")
    assert flask is not None
    assert flask.keywords == ("xsm_.*", r"\b(xsm|XSM)\b")

    nxp = xen2026.section("NXP S32G3 PROCESSORS FAMILY SUPPORT")
    assert nxp is not None
    assert nxp.status is None
    assert nxp.lists == ("NXP S32 Linux Team <s32@nxp.com>",)

    imx = xen2026.section("IMX8M SUPPORT")
    assert imx is not None
    assert imx.maintainers == () and imx.reviewers == (Person("Wig Cheng", "onlywig@gmail.com"),)

    rest = xen2026.section(REST)
    assert rest is not None
    assert rest.values("V") == ("xen-maintainers-1",)
    assert len(rest.maintainers) == 7


# ---------------------------------------------------------------------------------------
# Path assignment on the Xen files, expected titles read off the files by hand

XEN_2019_PATHS = {
    "xen/arch/arm/p2m.c": [ARM, REST],
    "xen/arch/x86/hvm/vmx/vmx.c": ["INTEL(R) VT FOR X86 (VT-X)", X86, REST],
    "xen/arch/x86/mm/p2m-ept.c": [
        "INTEL(R) VT FOR X86 (VT-X)",
        "X86 MEMORY MANAGEMENT",
        X86,
        REST,
    ],
    "tools/libxl/libxl.c": ["TOOLSTACK", REST],
    # 2019's `F: xen/common/sched*` has no trailing slash: it does not reach into the
    # xen/common/sched/ directory that the scheduler moved to in 2020.
    "xen/common/sched/credit2.c": [REST],
    "xen/common/sched_credit2.c": ["SCHEDULING", REST],
    "docs/misc/xen-command-line.pandoc": [REST],
    "tools/xenstore/xenstored_core.c": ["TOOLSTACK", REST],
    "README": [REST],
    "xen/arch/x86/mm/shadow/multi.c": [
        "X86 SHADOW PAGETABLES",
        "X86 MEMORY MANAGEMENT",
        X86,
        REST,
    ],
    # X: xen/arch/x86/acpi/boot.c takes POWER MANAGEMENT out; ACPI keeps it.
    "xen/arch/x86/acpi/boot.c": ["ACPI", X86, REST],
    "xen/arch/x86/acpi/power.c": ["ACPI", "POWER MANAGEMENT", X86, REST],
    # X: xen/drivers/passthrough/vtd/ takes the vendor-independent section out.
    "xen/drivers/passthrough/vtd/iommu.c": ["INTEL(R) VT FOR DIRECTED I/O (VT-D)", REST],
    "xen/drivers/passthrough/pci.c": ["IOMMU VENDOR INDEPENDENT CODE", REST],
    "xen/drivers/passthrough/device_tree.c": ["DEVICE TREE", REST],
    "xen/common/kexec.c": ["KEXEC", REST],  # F: xen/common/{kexec,kimage}.c
    "docs/misc/kconfig-language.txt": ["KCONFIG", REST],  # F: docs/misc/kconfig{,-language}.txt
    "xen/arch/arm/livepatch.c": ["LIVEPATCH", ARM, REST],  # F: xen/arch/*/livepatch*
    "xen/include/xen/lib/x86/cpuid.h": [X86, REST],  # F: xen/include/xen/lib/x86 (a dir)
    "tools/python/setup.py": ["PYTHON BINDINGS", "TOOLSTACK", REST],  # F: tools/python
    "tools/configure.ac": ["TOOLSTACK", REST],
    "xen/arch/x86/mm/mem_paging.c": ["X86 MEMORY PAGING", "X86 MEMORY MANAGEMENT", X86, REST],
}

XEN_2026_PATHS = {
    "xen/arch/arm/p2m.c": [ARM, REST],
    "xen/arch/x86/hvm/vmx/vmx.c": [X86, REST],  # no VT-X section any more
    "tools/libs/light/libxl.c": ["LIBS", "TOOLSTACK", REST],
    "tools/libxl/libxl.c": ["TOOLSTACK", REST],
    "xen/common/sched/credit2.c": ["SCHEDULING", REST],
    "xen/common/sched_credit2.c": [REST],
    "docs/misc/xen-command-line.pandoc": [REST],
    "tools/xenstored/core.c": ["XENSTORE", "TOOLSTACK", REST],
    "tools/xenstore/xenstored_core.c": ["TOOLSTACK", REST],
    "docs/misc/xenstore.txt": ["XENSTORE", REST],  # F: docs/*/xenstore*
    "xen/drivers/passthrough/vtd/iommu.c": [X86, REST],
    "xen/arch/x86/mm/mem_sharing.c": ["X86 MEMORY SHARING", X86, REST],
    "xen/arch/x86/mm/mem_access.c": ["VM EVENT, MEM ACCESS and MONITOR", X86, REST],
    "xen/arch/x86/acpi/boot.c": ["ACPI", X86, REST],
}


@pytest.mark.parametrize(("path", "expected"), XEN_2019_PATHS.items())
def test_xen_2019_paths(xen2019: Maintainers, path: str, expected: list[str]) -> None:
    assert titles(xen2019.sections_for_file(path)) == expected


@pytest.mark.parametrize(("path", "expected"), XEN_2026_PATHS.items())
def test_xen_2026_paths(xen2026: Maintainers, path: str, expected: list[str]) -> None:
    assert titles(xen2026.sections_for_file(path)) == expected


def test_xen_depths_and_union(xen2019: Maintainers) -> None:
    got = [(s.title, d) for s, d in xen2019.matches_for_file("xen/arch/x86/mm/shadow/multi.c")]
    assert got == [
        ("X86 SHADOW PAGETABLES", 5),
        ("X86 MEMORY MANAGEMENT", 4),
        (X86, 3),
        (REST, -1),
    ]
    union = xen2019.sections_for_files(
        ["xen/arch/arm/p2m.c", "xen/arch/x86/mm/shadow/multi.c", "README"]
    )
    assert titles(union) == ["X86 SHADOW PAGETABLES", "X86 MEMORY MANAGEMENT", ARM, X86, REST]


def test_xen_expected_reviewers(xen2019: Maintainers) -> None:
    shadow = ["xen/arch/x86/mm/shadow/multi.c"]
    assert xen2019.expected_reviewers(shadow) == {
        "tim@xen.org",
        "george.dunlap@eu.citrix.com",
        "jbeulich@suse.com",
        "andrew.cooper3@citrix.com",
        "wl@xen.org",
        "roger.pau@citrix.com",
    }
    assert xen2019.expected_reviewers(shadow, nearest=True) == {"tim@xen.org"}
    # The most specific section is orphaned (no M:): the nearest one naming someone counts.
    assert xen2019.expected_reviewers(["xen/arch/x86/mm/mem_paging.c"], nearest=True) == {
        "george.dunlap@eu.citrix.com"
    }
    rest = {
        "andrew.cooper3@citrix.com",
        "george.dunlap@eu.citrix.com",
        "ian.jackson@eu.citrix.com",
        "jbeulich@suse.com",
        "julien.grall@arm.com",
        "konrad.wilk@oracle.com",
        "sstabellini@kernel.org",
        "tim@xen.org",
        "wl@xen.org",
    }
    assert xen2019.expected_reviewers(["docs/misc/xen-command-line.pandoc"]) == rest
    # THE REST is added only for the file that nothing else covers.
    assert xen2019.expected_reviewers(["xen/common/kexec.c"]) == {"andrew.cooper3@citrix.com"}
    both = xen2019.expected_reviewers(["xen/common/kexec.c", "README"])
    assert both == rest


def test_xen_keywords(xen2019: Maintainers, xen2026: Maintainers) -> None:
    patch = (
        "Subject: [PATCH] flask: fix a leak\n\n"
        "Signed-off-by: A <a@example.org>\n---\n"
        "diff --git a/xen/common/domain.c b/xen/common/domain.c\n"
        "--- a/xen/common/domain.c\n+++ b/xen/common/domain.c\n"
        "@@ -1,3 +1,3 @@\n"
        " context\n-    rc = xsm_domain_create(XSM_HOOK, d);\n+    rc = 0;\n"
    )
    assert xen2019.sections_for_keywords(patch) == []  # 2019 has no K: lines
    assert titles(xen2026.sections_for_keywords(patch)) == ["XSM/FLASK"]
    assert xen2026.expected_reviewers(["xen/common/domain.c"], text=patch) == (
        {p.email.lower() for p in xen2026.section(REST).maintainers}
        | {"dpsmith@apertussolutions.com"}
    )
    # A context line is not part of the change: no keyword match.
    ctx = patch.replace("-    rc = xsm_domain_create(XSM_HOOK, d);\n", " xsm_x();\n")
    assert xen2026.sections_for_keywords(ctx) == []


# ---------------------------------------------------------------------------------------
# Pattern semantics on a hand-written Linux-format file


def test_fixture_parse_skips_preamble_and_keeps_tags() -> None:
    m = fixture("linux-style.MAINTAINERS")
    assert titles(m.sections) == [
        "NETWORKING DRIVERS",
        "NETWORKING DRIVERS (TOP LEVEL ONLY)",
        "ANY NET DIRECTORY",
        "NET CORE",
        "WIRELESS",
        "TEGRA ARCHITECTURE SUPPORT",
        "PRINTK",
        "KEXEC",
        "BROKEN REGEX",
        "ORPHANED DRIVER",
        REST,
    ]
    wifi = m.section("WIRELESS")
    assert wifi is not None
    assert wifi.maintainers == (Person("Wifi, Person", "wifi@example.org"),)
    kexec = m.section("KEXEC")
    assert kexec is not None
    assert kexec.values("Q") == ("https://patchwork.example.org/project/kexec/list/",)
    assert kexec.values("C") == ("irc://irc.example.org/kexec",)
    assert kexec.values("B") == ("https://bugs.example.org/kexec",)
    assert kexec.values("P") == ("Documentation/process/kexec-profile.rst",)
    assert kexec.values("Z") == ("an unknown tag, kept as it is",)
    tegra = m.section("TEGRA ARCHITECTURE SUPPORT")
    assert tegra is not None
    assert tegra.regexes == ("[^a-z]tegra",) and tegra.keywords == (r"(?i)nvidia\ tegra",)
    # A regex Python cannot compile is reported, not fatal.
    assert m.invalid_patterns == ["BROKEN REGEX N: (unclosed"]
    rest = m.section(REST)
    assert rest is not None and rest.is_catch_all and rest.status == "Buried alive in reporters"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        # trailing slash: the directory and everything below it
        ("drivers/net/ethernet/intel/e1000/e1000_main.c", ["NETWORKING DRIVERS", REST]),
        # `drivers/net/*` (depth 3) beats `drivers/net/` (depth 2); `*/net/*` is depth -1
        (
            "drivers/net/dummy.c",
            [
                "NETWORKING DRIVERS (TOP LEVEL ONLY)",
                "NETWORKING DRIVERS",
                "ANY NET DIRECTORY",
                REST,
            ],
        ),
        # `*` stays within one component: `*/net/*` needs exactly two slashes
        ("include/net/sock.h", ["ANY NET DIRECTORY", REST]),
        ("fs/a/net/x.c", [REST]),
        # a directory named without trailing slash covers what is below it
        ("net/core/dev.c", ["NET CORE", REST]),
        ("net/Kconfig", ["NET CORE", REST]),
        # ... but not a sibling that only shares the prefix
        ("network/x.c", [REST]),
        # X: wins over F: in the same section, and over N:
        ("drivers/net/wireless/ath/ath9k/main.c", ["WIRELESS", REST]),
        ("drivers/net/wireless/legacy/ray_cs.c", [REST]),
        # N: regex on the path (depth 0), F: deeper
        ("drivers/gpu/drm/tegra/dc.c", ["TEGRA ARCHITECTURE SUPPORT", REST]),
        ("arch/arm/mach-tegra/board.c", ["TEGRA ARCHITECTURE SUPPORT", REST]),
        ("drivers/integrator/core.c", [REST]),  # "integrator" is not [^a-z]tegra
        # braces and `?`
        ("kernel/kexec.c", ["KEXEC", REST]),
        ("kernel/kimage.c", ["KEXEC", REST]),
        ("kernel/kexe.c", [REST]),
        ("include/linux/kexec2.h", ["KEXEC", REST]),
        ("include/linux/kexec.h", [REST]),
        # the catch-all: `*` for top-level files, `*/` for everything below
        ("Makefile", [REST]),
        ("./Makefile", [REST]),
    ],
)
def test_fixture_paths(path: str, expected: list[str]) -> None:
    assert titles(fixture("linux-style.MAINTAINERS").sections_for_file(path)) == expected


def test_fixture_depths_and_ordering() -> None:
    m = fixture("linux-style.MAINTAINERS")
    assert [(s.title, d) for s, d in m.matches_for_file("drivers/gpu/drm/tegra/dc.c")] == [
        ("TEGRA ARCHITECTURE SUPPORT", 0),
        (REST, -1),
    ]
    assert [(s.title, d) for s, d in m.matches_for_file("arch/arm/mach-tegra/board.c")] == [
        ("TEGRA ARCHITECTURE SUPPORT", 3),  # F: beats N: (the deeper match counts)
        (REST, -1),
    ]
    union = m.sections_for_files(["Makefile", "net/core/dev.c", "drivers/net/dummy.c"])
    assert titles(union) == [
        "NETWORKING DRIVERS (TOP LEVEL ONLY)",
        "NETWORKING DRIVERS",
        "NET CORE",  # `net` has depth 1
        "ANY NET DIRECTORY",  # `*/net/*` starts with a wildcard: -1, still before THE REST
        REST,
    ]


def test_pattern_depth() -> None:
    assert pattern_depth("drivers/net/") == 2
    assert pattern_depth("drivers/net") == 2  # same as the directory it names
    assert pattern_depth("drivers/net/*") == 3
    assert pattern_depth("xen/common/sched*") == 3
    assert pattern_depth("*") == -1
    assert pattern_depth("*/") == -1
    assert pattern_depth("*/net/*") == -1


def test_fixture_keywords_and_reviewers() -> None:
    m = fixture("linux-style.MAINTAINERS")
    patch = (
        "Subject: [PATCH] gpu: fix the NVIDIA Tegra display\n\n"
        "Some text.\n---\n"
        " drivers/gpu/x.c | 2 +-\n\n"
        "--- a/drivers/gpu/x.c\n+++ b/drivers/gpu/x.c\n"
        "@@ -1,3 +1,3 @@\n"
        ' printk(KERN_INFO "context only");\n'
        "-\tfoo();\n"
        '+\tpr_info("bar");\n'
    )
    assert titles(m.sections_for_keywords(patch)) == ["TEGRA ARCHITECTURE SUPPORT", "PRINTK"]
    context_only = patch.replace("+\tpr_info", "+\tpr_notice")
    assert titles(m.sections_for_keywords(context_only)) == ["TEGRA ARCHITECTURE SUPPORT"]
    # A file's content is searched whole.
    assert titles(m.sections_for_keywords("x = printk;\n", patch=False)) == ["PRINTK"]

    # Per path: the catch-all only where no other section names anyone.
    assert m.expected_reviewers(["drivers/net/dummy.c"]) == {
        "top@example.org",
        "net@example.org",
        "anynet@example.org",
    }
    assert m.expected_reviewers(["drivers/net/dummy.c"], nearest=True) == {"top@example.org"}
    assert m.expected_reviewers(["drivers/orphan/x.c"]) == {"torvalds@example.org"}
    assert m.expected_reviewers(["drivers/net/dummy.c", "Makefile"], text=patch) == {
        "top@example.org",
        "net@example.org",
        "anynet@example.org",
        "torvalds@example.org",
        "tegra@example.org",
        "printk@example.org",
    }


def test_old_style_preamble_is_not_a_section() -> None:
    """Old Linux files list "P: Person / M: Mail patches to" in column 0 of the preamble."""
    secs = parse_maintainers((FIXTURES / "old-preamble.MAINTAINERS").read_text("utf-8"))
    assert titles(secs) == ["3C359 NETWORK DRIVER", "CRAMFS FILESYSTEM"]
    assert secs[0].maintainers == (Person("", "mikep@linuxtr.net"),)
    assert secs[0].values("P") == ("Mike Phillips",)
    assert secs[1].status == "Orphan" and secs[1].maintainers == ()


def test_qemu_style_underlined_titles_and_catch_all() -> None:
    m = fixture("qemu-style.MAINTAINERS")
    assert titles(m.sections) == ["General Project Administration", "All patches CC here", "Xen"]
    assert [s.is_catch_all for s in m.sections] == [False, True, False]
    # `F: */xen*` keeps `*` in one component: one directory level, then a name "xen...".
    assert titles(m.sections_for_file("accel/xen/xen-all.c")) == ["All patches CC here"]
    assert titles(m.sections_for_file("accel/xen-all.c")) == ["Xen", "All patches CC here"]
    assert titles(m.sections_for_file("include/hw/xen/xen.h")) == ["Xen", "All patches CC here"]
    assert titles(m.sections_for_file("hw/9pfs/xen-9p-backend.c")) == [
        "Xen",
        "All patches CC here",
    ]
    assert titles(m.sections_for_file("hw/arm/virt.c")) == ["All patches CC here"]


def test_parse_person() -> None:
    assert parse_person("Jan Beulich <jbeulich@suse.com>") == Person(
        "Jan Beulich", "jbeulich@suse.com"
    )
    assert parse_person('"Doe, John" <jd@example.org>') == Person("Doe, John", "jd@example.org")
    assert parse_person("<a@b.c>") == Person("", "a@b.c")
    assert parse_person("a@b.c") == Person("", "a@b.c")
    assert parse_person("Mail patches to") == Person("Mail patches to", "")


# ---------------------------------------------------------------------------------------
# No MAINTAINERS, and history


def test_empty_degrades_gracefully() -> None:
    assert parse_maintainers("") == []
    assert parse_maintainers("Just a README\n\twith text\n") == []
    empty = Maintainers([])
    assert empty.sections_for_file("a/b.c") == []
    assert empty.sections_for_files(["a/b.c", "README"]) == []
    assert empty.expected_reviewers(["a/b.c"], text="+printk") == set()
    assert empty.sections_for_keywords("+printk") == []
    history = MaintainersHistory()
    assert len(history) == 0
    assert history.at(1_600_000_000) is None
    assert history.at_or_empty(1_600_000_000).sections == []
    assert history.sections_for_files(1_600_000_000, ["a/b.c"]) == []
    assert history.expected_reviewers(1_600_000_000, ["a/b.c"]) == set()


def test_history_from_files() -> None:
    june_2019, jan_2026 = 1_559_347_200, 1_767_225_600
    history = from_files(
        [
            (jan_2026, data_path("xen", "MAINTAINERS-2026")),
            (june_2019, data_path("xen", "MAINTAINERS-2019-06")),
        ]
    )
    assert history.dates == [june_2019, jan_2026]
    assert len(history.at(1_500_000_000).sections) == 46  # before any: the oldest
    assert len(history.at(june_2019).sections) == 46
    assert len(history.at(1_600_000_000).sections) == 46
    assert len(history.at(jan_2026).sections) == 57
    path = ["xen/common/sched/credit2.c"]
    assert titles(history.sections_for_files(1_600_000_000, path)) == [REST]
    assert titles(history.sections_for_files(jan_2026 + 1, path)) == ["SCHEDULING", REST]


def _git(repo: Path, *args: str, date: int | None = None) -> None:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "T",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "T",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    if date is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{date} +0000"
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def _version(owner: str) -> str:
    return f"CORE\nM:\t{owner} <{owner}@example.org>\nF:\tcore/\n\nTHE REST\nF:\t*\nF:\t*/\n"


def test_history_from_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "MAINTAINERS").write_text(_version("alice"))
    _git(repo, "add", "MAINTAINERS")
    _git(repo, "commit", "-q", "-m", "v1", date=1000)
    (repo / "MAINTAINERS").write_text(_version("bob"))
    _git(repo, "commit", "-q", "-am", "v2", date=2000)
    (repo / "other.c").write_text("x")
    _git(repo, "add", "other.c")
    _git(repo, "commit", "-q", "-m", "unrelated", date=2500)
    # A side branch changes the file at 2600; it takes effect when merged, at 3000.
    _git(repo, "checkout", "-q", "-b", "side")
    (repo / "MAINTAINERS").write_text(_version("carol"))
    _git(repo, "commit", "-q", "-am", "v3 on a side branch", date=2600)
    _git(repo, "checkout", "-q", "main")
    _git(repo, "merge", "-q", "--no-ff", "-m", "merge side", "side", date=3000)
    _git(repo, "rm", "-q", "MAINTAINERS")
    _git(repo, "commit", "-q", "-m", "drop", date=4000)

    history = from_history(file_history(repo, "MAINTAINERS", "main"))
    assert history.dates == [1000, 2000, 3000, 4000]

    def who(ts: int) -> set[str]:
        return history.expected_reviewers(ts, ["core/x.c"])

    assert who(500) == {"alice@example.org"}  # before the first version: the oldest
    assert who(1999) == {"alice@example.org"}
    assert who(2000) == {"bob@example.org"}
    assert who(2700) == {"bob@example.org"}  # the side branch is not merged yet
    assert who(3000) == {"carol@example.org"}
    assert who(4000) == set()  # deleted: no file, no expectations
    assert history.sections_for_files(5000, ["core/x.c"]) == []

    bare = tmp_path / "none"
    bare.mkdir()
    _git(bare, "init", "-q", "-b", "main")
    (bare / "README").write_text("no maintainers here")
    _git(bare, "add", "README")
    _git(bare, "commit", "-q", "-m", "init", date=1000)
    empty = from_history(file_history(bare, "MAINTAINERS"))
    assert len(empty) == 0
    assert empty.at(2000) is None
    assert empty.sections_for_files(2000, ["README"]) == []
    assert empty.expected_reviewers(2000, ["README"]) == set()


# ---------------------------------------------------------------------------------------
# The whole xen-devel 2019-2020 patch archive

# git format-patch separators. The file also has six unescaped body lines starting with
# "From " (e.g. "From the TRM documents of ..."), so a generic mbox splitter finds 3,750.
_SEP = re.compile(rb"^From [0-9a-f]{40} Mon Sep 17 00:00:00 2001\n", re.M)


def _xen_patches() -> list[tuple[str, list[str]]]:
    data = gzip.decompress(
        data_path("xen", "xen-devel-posted-patches-2019-2020.mbox.gz").read_bytes()
    )
    starts = [m.start() for m in _SEP.finditer(data)] + [len(data)]
    out = []
    for s, e in itertools.pairwise(starts):
        msg = parse_message(data[s:e].split(b"\n", 1)[1])
        paths: list[str] = []
        for st in file_stats(msg.diff or ""):
            paths.append(st.path)
            if st.old_path:
                paths.append(st.old_path)  # a rename touches both places, as get_maintainer
        out.append((msg.subject, paths))
    return out


def _assign(m: Maintainers, patches: list[tuple[str, list[str]]]) -> dict[str, object]:
    t0 = time.perf_counter()
    results = [m.sections_for_files(paths) for _, paths in patches]
    elapsed = time.perf_counter() - t0
    real = sum(1 for r in results if any(not s.is_catch_all for s in r))
    only_rest = sum(1 for r in results if r and all(s.is_catch_all for s in r))
    none = sum(1 for r in results if not r)
    top = collections.Counter(s.title for r in results for s in r if not s.is_catch_all)
    return {
        "real": real,
        "only_rest": only_rest,
        "none": none,
        "top": top.most_common(10),
        "seconds": elapsed,
    }


def _band(value: int, measured: int, tolerance: float = 0.03) -> bool:
    return abs(value - measured) <= max(3, measured * tolerance)


@pytest.mark.slow
def test_xen_devel_patches_by_subsystem(capsys: pytest.CaptureFixture[str]) -> None:
    patches = _xen_patches()
    assert len(patches) == 3744
    n_paths = sum(len(p) for _, p in patches)
    assert _band(n_paths, 11923)

    texts = {
        "2019": data_path("xen", "MAINTAINERS-2019-06").read_text("utf-8"),
        "2026": data_path("xen", "MAINTAINERS-2026").read_text("utf-8"),
    }
    got = {}
    for year, text in texts.items():
        t0 = time.perf_counter()
        m = Maintainers.from_text(text)  # fresh: no cached paths
        build = time.perf_counter() - t0
        got[year] = _assign(m, patches)
        got[year]["build"] = build
    with capsys.disabled():
        print(f"\nxen-devel 2019-2020: {len(patches)} patches, {n_paths} file paths")
        for year, r in got.items():
            print(
                f"  MAINTAINERS {year}: real subsystem {r['real']}, only THE REST "
                f"{r['only_rest']}, none {r['none']}; parse {r['build'] * 1000:.1f} ms, "
                f"assign all {r['seconds'] * 1000:.1f} ms"
            )
            for title, n in r["top"]:
                print(f"      {n:5d}  {title}")

    # Measured: 2019 file 3154 / 590 / 0; 2026 file 3022 / 722 / 0.
    r19, r26 = got["2019"], got["2026"]
    assert _band(r19["real"], 3154) and _band(r19["only_rest"], 590) and r19["none"] == 0
    assert _band(r26["real"], 3022) and _band(r26["only_rest"], 722) and r26["none"] == 0
    assert r19["real"] + r19["only_rest"] == len(patches)
    top19 = dict(r19["top"])
    assert [t for t, _ in r19["top"][:3]] == [X86, "TOOLSTACK", ARM]
    assert _band(top19[X86], 1428) and _band(top19["TOOLSTACK"], 972)
    assert _band(top19[ARM], 655) and _band(top19["X86 MEMORY MANAGEMENT"], 234)
    assert _band(top19["SCHEDULING"], 161)
    top26 = dict(r26["top"])
    assert [t for t, _ in r26["top"][:3]] == [X86, "TOOLSTACK", ARM]
    # The 2026 file knows tools/libs/ (LIBS) and no longer lists xen/include/asm-arm/.
    assert _band(top26["LIBS"], 140) and _band(top26[ARM], 562)
    assert "X86 MEMORY MANAGEMENT" not in top26
    # Thousands of paths in well under a second (measured: about 15 ms).
    assert r19["seconds"] < 1.0 and r26["seconds"] < 1.0
