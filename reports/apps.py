from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports"

    def ready(self):
        from backoffice import roles

        # The roles sync on backoffice's post_migrate runs before this app's permissions
        # exist (backoffice comes first in INSTALLED_APPS); sync again once they do.
        post_migrate.connect(roles.groups_sync_on_migrate, sender=self, dispatch_uid="reports_roles_sync")
