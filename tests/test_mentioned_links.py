"""A changelog's link to the previous version, alone on the line after the one naming the
version ("* v4 patch series at :" and then the lore URL): Elinor Montmasson's v5 of the
fsl-asoc-card S/PDIF series was a series of its own, its v2-v4 another, and the alsa-devel
audit found the merge of the one counted against the other."""

from __future__ import annotations

import pytest

from patchlens.review.model import mentioned_ids

V4 = "20240515135411.343333-1-elinor@example.com"


@pytest.mark.parametrize(
    ("body", "found"),
    [
        (
            f"v4 -> v5:\n* fixes\n\n* v4 patch series at :\nhttps://lore.kernel.org/all/{V4}/\n",
            {V4},
        ),
        (f"Changes in v2:\n\n<https://lore.kernel.org/r/{V4}>\n", {V4}),
        (f"v1: https://lore.kernel.org/r/{V4}\n", {V4}),
        # A link after other words, or after a line that names no version, is other work.
        (f"Changes since v1:\n- depends on https://lore.kernel.org/r/{V4}\n", set()),
        (f"Reported-by: A <a@example.com>\nhttps://lore.kernel.org/r/{V4}\n", set()),
        (f"v2:\n- reworded\nhttps://lore.kernel.org/r/{V4}\n", set()),
    ],
)
def test_links_to_the_previous_version(body: str, found: set[str]) -> None:
    assert mentioned_ids(body) == found
