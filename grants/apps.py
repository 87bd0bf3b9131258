from django.apps import AppConfig


class GrantsConfig(AppConfig):
    name = "grants"
    verbose_name = "Programmes, outputs and funding"

    def ready(self):
        from donors.signals import donation_reversed

        from .services import allocations_reverse_for_donation

        def reverse_allocations(sender, *, donation, by, **kwargs):
            allocations_reverse_for_donation(donation=donation, by=by)

        donation_reversed.connect(reverse_allocations, weak=False, dispatch_uid="grants.reverse_allocations")
