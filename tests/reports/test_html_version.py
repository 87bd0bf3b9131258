"""The accessible HTML version of each report: drawn from the run's snapshot, with every figure of
its PDF, tables with header cells, charts with text alternatives; open to the roles that may
download the PDF; valid HTML."""

import pytest
from django.urls import reverse
from lxml import html as lxml_html

from donors.models import Donor
from reports.models import ReportRun
from reports.renderers.base import fmt_date, fmt_money
from tests.factories import role_user
from tests.html_checker import html_errors
from tests.reports.html_pages import END, START, money_in, page_text, runs_made, table_rows

KINDS = ["donor_summary", "portfolio", "output_statement"]


@pytest.fixture
def runs(demo):
    return runs_made()


@pytest.fixture
def client(client, db):
    client.force_login(role_user("Finance", username="finance-reader"))
    return client


def page(client, run):
    response = client.get(reverse("reports:run_html", args=[run.pk]))
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("kind", KINDS)
def test_the_page_shows_every_amount_of_the_snapshot_as_the_pdf_prints_it(client, runs, kind):
    run = runs[kind]
    text = page_text(page(client, run).content)
    amounts = money_in(run.snapshot)
    assert len(amounts) > 5
    assert sorted(a for a in amounts if a not in text) == []


@pytest.mark.parametrize("kind", KINDS)
def test_headline_figures_are_a_table_with_a_header_cell_for_each_row(client, runs, kind):
    run = runs[kind]
    content = page(client, run).content
    rows = table_rows(content, "//table[contains(@class, 'figures')]")
    converted = run.snapshot.get("currency", run.snapshot["base_currency"]) != run.snapshot["base_currency"]
    expected = [
        [f["label"], fmt_money(f["value"]), *([fmt_money(f["base"])] if converted else [])]
        for f in run.snapshot["figures"]
    ]
    assert rows[1:] == expected
    tree = lxml_html.fromstring(content)
    assert tree.xpath("//table[contains(@class, 'figures')]/tbody/tr/th[@scope='row']")
    # Every table has column headers.
    assert all(t.xpath("./thead/tr/th[@scope='col']") for t in tree.xpath("//table"))


@pytest.mark.parametrize(("kind", "charts"), [("donor_summary", 1), ("portfolio", 3), ("output_statement", 1)])
def test_each_chart_is_a_titled_image_with_a_caption_and_its_table(client, runs, kind, charts):
    tree = lxml_html.fromstring(page(client, runs[kind]).content)
    figures = tree.xpath("//figure")
    assert len(figures) == charts
    for figure in figures:
        svg = figure.xpath("./svg[@role='img']")
        assert svg, "a chart is an image to assistive technology"
        title = figure.xpath(f"//*[@id='{svg[0].get('aria-labelledby')}']")
        assert title and title[0].text_content().strip()
        caption = " ".join(figure.xpath("./figcaption")[0].text_content().split())
        assert runs[kind].snapshot["base_currency"] in caption
        assert figure.getnext().xpath("./table"), "the chart's figures follow it as a table"


def test_the_donor_summary_chart_caption_reads_out_each_programme(client, runs):
    run = runs["donor_summary"]
    caption = " ".join(lxml_html.fromstring(page(client, run).content).xpath("//figcaption")[0].text_content().split())
    for row in run.snapshot["by_programme"]:
        assert f"{row['label']} {fmt_money(row['amount'])}" in caption


@pytest.mark.parametrize("kind", KINDS)
def test_the_page_shows_the_fingerprint_and_the_as_of_date(client, runs, kind):
    run = runs[kind]
    tree = lxml_html.fromstring(page(client, run).content)
    footer = " ".join(tree.xpath("//footer")[0].text_content().split())
    assert run.fingerprint in footer and len(run.fingerprint) == 12
    as_of = run.snapshot.get("as_of") or run.snapshot["period"]["end"]
    assert fmt_date(as_of).replace("Dec", "December") in footer
    assert tree.xpath(f"//a[@href='{reverse('reports:run_download', args=[run.pk])}']")


def test_the_page_shows_the_snapshot_not_the_ledger_as_it_is_now(client, runs):
    run = runs["donor_summary"]
    Donor.objects.filter(pk=run.donor_id).update(name="Renamed Since")
    text = page_text(page(client, run).content)
    assert run.snapshot["donor"]["name"] in text and "Renamed Since" not in text


@pytest.mark.parametrize("role", ["Finance", "Leadership", "Auditor"])
def test_roles_that_may_download_the_pdf_may_read_the_html(client, runs, role):
    client.force_login(role_user(role, username=f"{role.lower()}-2"))
    page(client, runs["portfolio"])
    listing = client.get(reverse("reports:run_list")).content.decode()
    assert f'href="{reverse("reports:run_html", args=[runs["portfolio"].pk])}"' in listing


def test_programme_is_refused(client, runs):
    client.force_login(role_user("Programme", username="programme-2"))
    assert client.get(reverse("reports:run_html", args=[runs["portfolio"].pk])).status_code == 403


def test_anonymous_is_sent_to_login(client, runs):
    client.logout()
    assert client.get(reverse("reports:run_html", args=[runs["portfolio"].pk])).status_code == 302


def test_a_run_not_done_has_no_html_version(client, demo):
    run = ReportRun.objects.create(kind="portfolio", period_start=START, period_end=END)
    assert client.get(reverse("reports:run_html", args=[run.pk])).status_code == 404


def test_every_html_version_passes_the_html_checker(client, runs):
    pages = {kind: page(client, runs[kind]).content.decode() for kind in KINDS}
    assert html_errors(pages) == []
