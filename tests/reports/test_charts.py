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


def test_two_or_more_thin_slices_are_grouped_into_other_and_one_says_its_share():
    """A pie slice of GBP 8,818 in GBP 3.3m cannot be seen: it is grouped, or pulled out and labelled."""
    from decimal import Decimal

    colours = charts.SERIES[:4]
    labels, amounts, shown = charts.pie_slices(
        ["Government", "Company", "Civil society", "Individual"], ["3000000.00", "300000.00", "8818.00", "5000.00"],
        colours,
    )  # fmt: skip
    assert labels == ["Government", "Company", "Other (2)"]
    assert amounts == [Decimal("3000000.00"), Decimal("300000.00"), Decimal("13818.00")]
    assert shown == [colours[0], colours[1], charts.OTHER_COLOUR]

    labels, amounts, _ = charts.pie_slices(["Government", "Civil society"], ["3000000.00", "8818.00"], colours[:2])
    assert labels == ["Government", "Civil society (0.3%)"]
    pie = charts.pie_chart(["Government", "Civil society"], ["3000000.00", "8818.00"]).contents[0]
    assert pie.slices[1].popout > 0 and not pie.slices[0].popout


def test_a_one_or_two_bar_chart_is_low():
    """A one-bar "received by year" chart filled half a page."""
    from reportlab.lib.units import mm

    assert charts.bar_chart(["2025"], [["3342317.83"]]).height <= 40 * mm
    assert charts.bar_chart([str(y) for y in range(2019, 2026)], [["1.00"] * 7]).height == 60 * mm


@pytest.mark.parametrize(("top", "steps", "step"), [(400938.27, 5, 100000), (400938.27, 2, 250000), (8.5, 4, 2.5)])
def test_a_value_axis_has_no_more_labels_than_room(top, steps, step):
    assert charts.value_step(top, steps) == step
    assert top / step <= steps


def test_a_short_value_axis_gets_few_ticks_that_do_not_overlap():
    from reportlab.lib.units import mm

    drawing = charts.bar_chart(["A", "B", "C"], [["364794.79", "158068.07", "400938.27"]], horizontal=True,
                               width=94 * mm, height=38 * mm)  # fmt: skip
    axis = drawing.contents[0].valueAxis
    axis.configure(drawing.contents[0].data)
    ticks = axis._tickValues
    assert 2 <= len(ticks) <= 6 and ticks[-1] >= 400938.27
    room = drawing.contents[0].width / (len(ticks) - 1)  # between two labels
    assert all(len(charts.axis_label(t)) * 7 * 0.6 < room for t in ticks)
