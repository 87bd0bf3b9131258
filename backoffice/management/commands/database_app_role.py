"""Give a database role exactly what the web process and the workers need, and nothing more.

The role that runs `migrate` owns the tables, and an owner (like a superuser) can TRUNCATE them,
disable their triggers or alter them. The application itself should log in as another role: one that
owns nothing, is not a superuser, and may only read and write rows. Run this as the owner after
`migrate`; it creates the role when it is missing (without a password: set one, or use the server's
own authentication), then makes its privileges on this database's tables and sequences exactly
SELECT, INSERT, UPDATE, DELETE and USAGE, including on tables that later migrations create.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from psycopg import sql

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


class Command(BaseCommand):
    help = "Create or restrict the database role the application runs as (rows only: no TRUNCATE, no DDL)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="The role's name, e.g. fundtrace_app.")

    @transaction.atomic
    def handle(self, *, role, **options):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, current_schema()")
            owner, schema = cursor.fetchone()
            if role == owner:
                raise CommandError(f"{role} runs this command and owns the tables: name another role.")
            cursor.execute(
                "SELECT rolsuper, pg_has_role(rolname, %s, 'MEMBER') FROM pg_roles WHERE rolname = %s", [owner, role]
            )
            found = cursor.fetchone()
            if found and found[0]:
                raise CommandError(f"{role} is a superuser, which no privilege can restrict: name another role.")
            if found and found[1]:
                raise CommandError(f"{role} is a member of {owner}, the tables' owner: name a role outside it.")
            cursor.execute("SELECT count(*) FROM pg_class WHERE relowner = to_regrole(%s)", [role])
            if cursor.fetchone()[0]:
                raise CommandError(f"{role} owns tables or sequences, and an owner can truncate and alter them.")

            names = {"role": sql.Identifier(role), "schema": sql.Identifier(schema)}
            names["database"] = sql.Identifier(connection.settings_dict["NAME"])
            names["privileges"] = sql.SQL(", ").join(map(sql.SQL, TABLE_PRIVILEGES))
            statements = [
                "REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role}",
                "REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
                "GRANT CONNECT ON DATABASE {database} TO {role}",
                "GRANT USAGE ON SCHEMA {schema} TO {role}",
                "GRANT {privileges} ON ALL TABLES IN SCHEMA {schema} TO {role}",
                "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT {privileges} ON TABLES TO {role}",
                "ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {role}",
            ]
            if not found:
                statements.insert(0, "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE")
            for statement in statements:
                cursor.execute(sql.SQL(statement).format(**names).as_string(connection.connection))
        self.stdout.write(f"{role} may now read and write rows of {schema}'s tables, and nothing else.")
