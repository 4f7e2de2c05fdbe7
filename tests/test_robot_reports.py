"""A robot's report that carries a diff but no patch keyword in its subject is no posting: in
the million-message corpus kernelci.org's bisection reports ("next/master boot bisection:
...", the culprit commit's diff included) and bugzilla's comments ("[Bug 220013] ...", a
patch attached) were 112 series "by" the robots. A robot's own patch ("[PATCH] iio: fix
semicolon.cocci warnings" from the kernel test robot) is one."""

from __future__ import annotations

import pytest

from patchlens.review.analysis import analyze

DIFF = "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1 @@\n-a\n+b\n"


@pytest.mark.parametrize(
    ("subject", "sender", "posting"),
    [
        (
            "next/master boot bisection: next-20190513 on rk3288-veyron-jaq",
            "bot@kernelci.org",
            False,
        ),
        ("[Bug 220013] [REGRESSION] acpi-cpufreq: boost", "bugzilla-daemon@kernel.org", False),
        ("[PATCH] iio: common: fix semicolon.cocci warnings", "lkp@intel.com", True),
        ("[RFC] x: a robot's proposal", "bot@kernelci.org", True),
        # People's mails with a diff and no keyword stay postings ("[committed]", a bare fix).
        ("[committed] Fix PR middle-end/123", "someone@gcc.gnu.org", True),
        ("a fix for the build", "someone@example.org", True),
    ],
)
def test_robot_reports(subject: str, sender: str, posting: bool) -> None:
    assert analyze(1, subject, "Report.\n", DIFF, True, False, sender).row["is_posting"] is posting
