"""Who may open a page outside the admin: one rule per page, used by the page itself, by the navigation
(a role is never shown a link it would be refused) and by the refusal, which names the roles it lets in."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from .roles import ROLE_PERMISSIONS, ROLES

HasPerm = Callable[[str], bool]


def roles_phrase(roles: list[str]) -> str:
    """'the Finance role', 'the Finance and Leadership roles', 'the Finance, Leadership and Auditor roles'."""
    if not roles:
        return "no role"
    if len(roles) == 1:
        return f"the {roles[0]} role"
    return f"the {', '.join(roles[:-1])} and {roles[-1]} roles"


@dataclass(frozen=True)
class PageAccess:
    """`rule` is given a permission test (`user.has_perm`, or a role's permissions) and says yes or no."""

    name: str  # as the navigation shows it: "Dashboard"
    about: str  # one sentence a refused user reads: what the page is for
    rule: Callable[[HasPerm], bool]

    def allows(self, user) -> bool:
        return user.is_active and self.rule(user.has_perm)

    def roles(self) -> list[str]:
        """The roles of backoffice/roles.py the rule lets in, in their order there."""
        return [role for role in ROLES if self.rule(ROLE_PERMISSIONS[role].__contains__)]

    def refusal(self) -> PermissionDenied:
        return PermissionDenied(f"{self.about} It is open to {roles_phrase(self.roles())} and to administrators.")

    def check(self, user) -> None:
        if not self.allows(user):
            raise self.refusal()
