"""Who may import and export which kind of record.

The permissions live on one unmanaged model (no table) so that the donors and grants apps
keep their own migrations; `backoffice.roles` hands them to the roles.
"""

from django.db import models

KINDS = ("donor", "contact", "pledge", "instalment", "donation", "exchangerate", "output", "indicator", "allocation")


class Transfer(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(f"import_{kind}", f"Can import {kind} files") for kind in KINDS] + [
            (f"export_{kind}", f"Can export {kind} files") for kind in KINDS
        ]
