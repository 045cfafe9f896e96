"""`zhiwang api-token create|list|revoke`: bearer tokens for users and integration clients."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken, IntegrationClient, OrgUnit, User
from zhiwang.geo.models import Division


class Command(BaseCommand):
    help = "Issue, list or revoke API tokens; register integration clients."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Issue a token; the key is printed once.")
        who = create.add_mutually_exclusive_group(required=True)
        who.add_argument("--user", help="username")
        who.add_argument("--client", help="integration client name (created if missing)")
        create.add_argument("--name", required=True, help="what the token is for")
        create.add_argument(
            "--division", action="append", default=[], help="jurisdiction of a new client (12-digit code)"
        )
        create.add_argument("--org-unit", help="org unit code of a new client")
        sub.add_parser("list", help="List tokens (never the keys).")
        revoke = sub.add_parser("revoke", help="Revoke a token by id or prefix.")
        revoke.add_argument("token", help="token id or key prefix")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc

    def _create(self, *, user, client, name, division, org_unit, **_):
        integration = None
        if user:
            owner = User.objects.filter(username=user).first()
            if owner is None:
                raise CommandError(f"no user named {user!r}")
            # A client's service user: the token belongs to the client and dies with it.
            integration = IntegrationClient.objects.filter(service_user=owner).first()
        else:
            integration = IntegrationClient.objects.filter(name=client).first()
            if integration is None:
                divisions = []
                for code in division:
                    found = Division.objects.filter(code=code).first()
                    if found is None:
                        raise CommandError(f"--division {code}: no such division")
                    divisions.append(found)
                unit = OrgUnit.objects.filter(code=org_unit).first() if org_unit else None
                if org_unit and unit is None:
                    raise CommandError(f"--org-unit {org_unit}: no such org unit")
                integration = services.integration_client_create(
                    name=client, org_unit=unit, jurisdictions=divisions
                )
                self.stderr.write(f"registered integration client {client!r}")
            owner = integration.service_user
        issued = services.api_token_create(user=owner, client=integration, name=name)
        self.stderr.write(f"token {issued.token.pk} issued to {owner.username}; the key is shown only once:")
        self.stdout.write(issued.key)

    def _list(self, **_):
        for token in ApiToken.objects.select_related("user", "client").order_by("pk"):
            state = "revoked" if token.revoked_at else ("active" if token.is_usable else "expired")
            owner = token.client.name if token.client_id else token.user.username
            self.stdout.write(f"{token.pk:>5}  {token.prefix}…  {state:<8} {owner}  {token.name}")

    def _revoke(self, *, token, **_):
        qs = (
            ApiToken.objects.filter(pk=int(token))
            if token.isdigit()
            else ApiToken.objects.filter(prefix=token)
        )
        found = list(qs)
        if len(found) != 1:
            raise CommandError(f"{token!r} matches {len(found)} tokens; give the id")
        services.api_token_revoke(token=found[0])
        self.stdout.write(f"revoked token {found[0].pk}")
