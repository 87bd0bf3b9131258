from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    name = "backoffice"
    verbose_name = "Fundtrace"

    def ready(self):
        from . import checks, models, roles  # noqa: F401 (checks registers the system checks)

        post_migrate.connect(roles.groups_sync_on_migrate, sender=self)
        post_migrate.connect(models.organisation_ensure_on_migrate, sender=self)
