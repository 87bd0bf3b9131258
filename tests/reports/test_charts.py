import pytest

from reports import charts


@pytest.mark.parametrize(
    ("text", "limit", "shown"),
    [
        ("Research brief: livestreamed child sexual abuse", 38, "Research brief: livestreamed child…"),
        ("Model National Response framework, second edition", 38, "Model National Response framework…"),
        ("Global Summit 2026", 38, "Global Summit 2026"),
        ("Exactly ten", 11, "Exactly ten"),
        ("Cut before space here", 11, "Cut before…"),  # the limit falls just before a space: the word is whole
        ("Supercalifragilistic summit", 10, "Supercali…"),  # one word longer than the limit: nothing else fits
    ],
)
def test_labels_are_shortened_at_word_boundaries(text, limit, shown):
    assert charts.label_shorten(text, limit) == shown
    assert len(shown) <= limit


def test_a_kind_keeps_its_colour_whichever_kinds_are_shown():
    kinds = ["Civil society", "Company", "Foundation"]
    assert charts.palette_colour("Company", kinds) == charts.SERIES[1]
    assert len({charts.palette_colour(k, kinds) for k in kinds}) == len(kinds)
