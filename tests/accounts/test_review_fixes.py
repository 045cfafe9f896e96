"""Review fixes: tokens of integration clients, token expiry and names, the sign-in address."""

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from zhiwang.accounts import services
from zhiwang.accounts.models import ApiToken, LoginAttempt
from zhiwang.geo.models import Division

pytestmark = pytest.mark.django_db


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def integration(db):
    luohu = Division.objects.get(code="440303000000")
    return services.integration_client_create(name="罗湖区城管系统", jurisdictions=[luohu])


def post_token(client, payload, **extra):
    return client.post("/api/v1/accounts/tokens", payload, content_type="application/json", **extra)


def error_of(response):
    return response.json()["error"]


# --- A deactivated integration client loses every token of its service user ------------------


def test_a_service_user_token_without_its_client_dies_with_the_client(client, integration):
    # Such tokens were minted before: POST /accounts/tokens by the client itself, or the CLI with --user.
    orphan = services.api_token_create(user=integration.service_user, name="spare")
    assert orphan.token.client_id is None
    assert client.get("/api/v1/geo/divisions", headers=bearer(orphan.key)).status_code == 200
    integration.is_active = False
    integration.save()
    assert client.get("/api/v1/geo/divisions", headers=bearer(orphan.key)).status_code == 401
    assert services.api_token_authenticate(key=orphan.key) is None


def test_token_lookup_is_one_query_with_the_client_of_the_service_user(
    integration, django_assert_num_queries
):
    issued = services.api_token_create(user=integration.service_user, name="spare")
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=timezone.now())
    with django_assert_num_queries(1):
        token = services.api_token_resolve(key=issued.key)
    assert token.user == integration.service_user and token.token_id == issued.token.pk
    assert token.user.role == integration.service_user.role  # the whole user, converted
    integration.is_active = False
    integration.save()
    with django_assert_num_queries(1):
        assert services.api_token_resolve(key=issued.key) is None


def test_an_integration_client_may_not_issue_tokens_itself(client, integration):
    issued = services.api_token_create(user=integration.service_user, client=integration, name="push")
    response = post_token(client, {"name": "spare"}, headers=bearer(issued.key))
    assert response.status_code == 403
    assert error_of(response)["code"] == "auth.forbidden"
    assert ApiToken.objects.filter(user=integration.service_user).count() == 1


def test_cli_token_for_a_service_user_belongs_to_its_client(client, integration):
    out, err = StringIO(), StringIO()
    call_command(
        "api_token",
        "create",
        "--user",
        integration.service_user.username,
        "--name",
        "x",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    assert ApiToken.objects.get(prefix=key[:10]).client == integration
    integration.is_active = False
    integration.save()
    assert client.get("/api/v1/accounts/me", headers=bearer(key)).status_code == 401


def test_cli_refuses_an_empty_token_name():
    with pytest.raises(CommandError, match="name"):
        call_command("api_token", "create", "--user", "demo_ns_dispatcher", "--name", " ", stdout=StringIO())


# --- A token issued with an expiring token does not outlive it -------------------------------


def test_a_token_issued_with_an_expiring_token_gets_its_expiry(client, nanshan_dispatcher):
    parent = services.api_token_create(
        user=nanshan_dispatcher, name="t", expires_at=timezone.now() + timedelta(hours=1)
    )
    response = post_token(client, {"name": "child"}, headers=bearer(parent.key))
    assert response.status_code == 201, response.content
    child = ApiToken.objects.get(pk=response.json()["id"])
    parent.token.refresh_from_db()
    assert child.expires_at == parent.token.expires_at
    shown = datetime.fromisoformat(response.json()["expires_at"])
    assert abs(shown - parent.token.expires_at) < timedelta(milliseconds=1)  # JSON keeps milliseconds


def test_a_token_issued_with_an_expiring_token_may_not_expire_later(client, nanshan_dispatcher):
    parent = services.api_token_create(
        user=nanshan_dispatcher, name="t", expires_at=timezone.now() + timedelta(hours=1)
    )
    later = (timezone.now() + timedelta(days=2)).isoformat()
    response = post_token(client, {"name": "child", "expires_at": later}, headers=bearer(parent.key))
    assert response.status_code == 400
    assert error_of(response)["field"] == "expires_at"
    earlier = (timezone.now() + timedelta(minutes=30)).isoformat()
    response = post_token(client, {"name": "child", "expires_at": earlier}, headers=bearer(parent.key))
    assert response.status_code == 201
    # A token that never expires, or a web session, may issue one that never expires.
    forever = services.api_token_create(user=nanshan_dispatcher, name="forever")
    response = post_token(client, {"name": "child"}, headers=bearer(forever.key))
    assert response.status_code == 201 and response.json()["expires_at"] is None


# --- Token name and expiry are checked before they reach the database --------------------------


@pytest.mark.parametrize("name", ["", "x" * 129])
def test_token_name_is_1_to_128_characters(client, nanshan_dispatcher, name):
    client.force_login(nanshan_dispatcher)
    response = post_token(client, {"name": name})
    assert response.status_code == 422
    assert error_of(response)["code"] == "request.invalid"
    assert error_of(response)["field"] == "name"
    assert post_token(client, {"name": "x" * 128}).status_code == 201
    assert [t.name for t in ApiToken.objects.filter(user=nanshan_dispatcher)] == ["x" * 128]


@pytest.mark.parametrize(
    "expires_at",
    [
        "9999-12-31T23:59:59-10:00",  # past the last datetime in UTC (was OverflowError, 500)
        "2101-01-01T00:00:00+08:00",  # past 2100
        "2030-01-01T00:00:00",  # no offset
        "2001-01-01T00:00:00+08:00",  # already past
    ],
)
def test_token_expiry_is_a_field_error_when_unfit(client, nanshan_dispatcher, expires_at):
    client.force_login(nanshan_dispatcher)
    response = post_token(client, {"name": "a", "expires_at": expires_at})
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "validation_failed"
    assert error_of(response)["field"] == "expires_at"
    assert not ApiToken.objects.filter(user=nanshan_dispatcher).exists()


def test_service_refuses_an_expiry_past_2100():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        services.api_token_expiry_check(datetime(2101, 1, 1, tzinfo=UTC))
    assert list(caught.value.message_dict) == ["expires_at"]
    when = datetime(2100, 12, 31, 12, tzinfo=UTC)
    assert services.api_token_expiry_check(when) == when


# --- Sign-in attempts record the client's address behind the proxies --------------------------


def test_login_attempt_records_the_client_behind_the_proxy(client, settings):
    def attempt():
        client.post(
            "/login/",
            {"username": "demo_ns_dispatcher", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR="198.51.100.1, 203.0.113.7",
        )
        return LoginAttempt.objects.filter(username="demo_ns_dispatcher").latest("pk").ip

    settings.ZHIWANG_NUM_PROXIES = 1
    assert attempt() == "203.0.113.7"  # what the one trusted proxy saw
    settings.ZHIWANG_NUM_PROXIES = 0
    assert attempt() == "10.0.0.2"  # no proxy: the header is the client's own word


def test_login_attempt_stores_no_address_when_the_header_holds_none(client, settings):
    settings.ZHIWANG_NUM_PROXIES = 1
    response = client.post(
        "/login/",
        {"username": "demo_ns_dispatcher", "password": "pw-for-tests"},
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    assert response.status_code == 302
    assert LoginAttempt.objects.get(username="demo_ns_dispatcher").ip is None
