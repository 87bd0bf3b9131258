from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IatiConfig(AppConfig):
    name = "iati"
    verbose_name = "IATI publishing"

    def ready(self):
        from backoffice import roles

        # This app's permissions are created after backoffice's post_migrate has synced the
        # role groups, so sync them again once they exist.
        post_migrate.connect(roles.groups_sync_on_migrate, sender=self)
