"""`zhiwang open311-key create NAME | list | revoke CLIENT`: Open311 client keys.

``create`` prints the key once on stdout (everything else goes to stderr, so
``KEY=$(zhiwang open311-key create "GeoReporter")`` captures only the key).
"""

from django.core.management.base import BaseCommand, CommandError

from zhiwang.core.errors import ServiceError
from zhiwang.open311 import services
from zhiwang.open311.models import Open311Client


class Command(BaseCommand):
    help = "Issue, list or revoke the API keys of Open311 client applications."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser(
            "create", help="Register a client and issue its key; the key is printed once."
        )
        create.add_argument("name", help="name of the client application")
        create.add_argument("--contact", default="", help="who to call about it")
        sub.add_parser("list", help="List the clients (never the keys).")
        revoke = sub.add_parser("revoke", help="Revoke a client's key.")
        revoke.add_argument("client", help="client id, name or key prefix")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except ServiceError as exc:
            raise CommandError(exc.message) from exc

    def _create(self, *, name, contact, **_):
        issued = services.open311_client_create(name=name, contact=contact)
        self.stderr.write(
            f"Open311 client {issued.client.name!r} (id {issued.client.pk}) registered; "
            "the key is shown only once:"
        )
        self.stdout.write(issued.key)

    def _list(self, **_):
        for client in Open311Client.objects.order_by("pk"):
            state = "revoked" if client.revoked_at else "active"
            used = f"{client.last_used_at:%Y-%m-%d %H:%M}" if client.last_used_at else "never used"
            self.stdout.write(
                f"{client.pk:>5}  {client.key_prefix}…  {state:<8} {used:<16}  {client.name}"
                + (f"  ({client.contact})" if client.contact else "")
            )

    def _revoke(self, *, client, **_):
        found = (
            (list(Open311Client.objects.filter(pk=int(client))) if client.isdigit() else [])
            or list(Open311Client.objects.filter(name=client))
            or list(Open311Client.objects.filter(key_prefix=client))
        )
        if len(found) != 1:
            raise CommandError(f"{client!r} matches {len(found)} Open311 clients; give the id")
        services.open311_client_revoke(client=found[0])
        self.stdout.write(f"revoked the key of {found[0].name!r} (id {found[0].pk})")
