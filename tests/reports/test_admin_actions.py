from django.contrib import admin
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from grants.models import Output
from reports.admin_actions import generate_output_statement
from reports.models import ReportRun
from tests.factories import OutputFactory, role_user


def request_for(user):
    request = RequestFactory().post("/admin/grants/output/")
    request.user = user
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_output_statement_action_generates_for_finance(db, django_capture_on_commit_callbacks):
    output = OutputFactory(title="Threat assessment")
    modeladmin = admin.ModelAdmin(Output, admin.site)
    with django_capture_on_commit_callbacks(execute=True):
        generate_output_statement(modeladmin, request_for(role_user("Finance")), Output.objects.all())
    run = ReportRun.objects.get()
    assert (run.kind, run.output, run.status, run.external) == ("output_statement", output, "done", True)


def test_output_statement_action_refuses_programme_staff(db):
    OutputFactory()
    modeladmin = admin.ModelAdmin(Output, admin.site)
    request = request_for(role_user("Programme"))
    generate_output_statement(modeladmin, request, Output.objects.all())
    assert not ReportRun.objects.exists()
    assert "permission" in str(list(request._messages)[0])
