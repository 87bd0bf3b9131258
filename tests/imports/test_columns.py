"""Each kind's columns are said in one place, the importer's column definitions: the import page's
table, the template file and docs/imports.md come from them."""

import re
from html import unescape
from io import StringIO
from pathlib import Path

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.urls import reverse

from tests.factories import role_user
from transfers.admin import TransferAdminMixin
from transfers.columns import column_docs, markdown
from transfers.registry import KINDS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "imports.md"
IMPORT_ADMINS = {
    kind: model_admin
    for model_admin in admin.site._registry.values()
    if isinstance(model_admin, TransferAdminMixin)
    for kind, importer in KINDS.items()
    if importer is model_admin.resource_classes[0].importer_class
}


def test_every_kind_but_instalments_has_an_import_page():
    # A pledge's instalments are entered on the pledge page; their file is imported from the command line.
    assert set(KINDS) - set(IMPORT_ADMINS) == {"instalments"}


@pytest.mark.parametrize("kind", sorted(IMPORT_ADMINS))
def test_the_import_page_documents_each_column_and_serves_the_template(kind, client, superuser):
    client.force_login(superuser)
    opts = IMPORT_ADMINS[kind].opts
    html = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_import")).content.decode()
    body = re.search(r'<table id="import-columns">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    rows = [
        [unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]
    importer = KINDS[kind]
    assert [row[0] for row in rows] == importer.export_names()
    for row, column in zip(rows, importer.columns, strict=False):
        assert row[1] == ("yes" if column.required else "no")
        assert row[3] and row[4] == column.example, column.name

    template_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_import_template")
    assert f'href="{template_url}"' in html
    response = client.get(template_url)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{kind}-template.csv"'
    assert response.content == (",".join(importer.column_names()) + "\r\n").encode()


def test_the_template_needs_the_import_permission(db, client):
    client.force_login(role_user("Auditor"))
    assert client.get(reverse("admin:donors_donation_import_template")).status_code == 403


def test_the_command_line_writes_every_kinds_template(db, tmp_path):
    for kind, importer in KINDS.items():
        path = tmp_path / f"{kind}.csv"
        call_command("export_data", kind, "--template", "--out", str(path), stderr=StringIO())
        assert path.read_bytes() == (",".join(importer.column_names()) + "\r\n").encode()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_example_is_accepted_by_its_own_column(kind):
    for column in KINDS[kind].columns:
        assert column.example, f"{kind}.{column.name} has no example"
        column.parse(column.example)  # raises CellError if the example breaks the column's rule


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_docs_list_every_column_as_the_definitions_say(kind):
    """docs/imports.md holds each kind's table as transfers.columns.markdown writes it: a column
    added, renamed or changed in the code and not in the docs fails here, with the table to paste."""
    expected = markdown(KINDS[kind])
    assert expected in DOCS.read_text(encoding="utf-8"), f"docs/imports.md, {kind}: paste\n{expected}"
    assert len(column_docs(KINDS[kind])) == expected.count("\n") - 2
