from django.apps import AppConfig


class SpendingConfig(AppConfig):
    name = "spending"
    verbose_name = "Agreements and money out"
