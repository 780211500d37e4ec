"""/openapi.json documents every route with its success and error statuses."""

import re

from fastapi import FastAPI
from httpx import AsyncClient

from {{ cookiecutter.package_name }}.api.idempotency import KEY_HEADER
from {{ cookiecutter.package_name }}.settings import Settings
from tests.factories import user_payload

# A request body may be refused: too large (413) or stalled (408).
BODY = {"408", "413"}
# (method, path) -> the statuses the contract promises; 503 wherever the database is used.
CONTRACT: dict[tuple[str, str], set[str]] = {
    ("get", "/health"): {"200", "503"},
    ("get", "/health/live"): {"200"},
    ("get", "/health/ready"): {"200", "503"},
    ("post", "/users"): {"201", "409", "422", "503", *BODY},
    ("post", "/users/bulk"): {"201", "409", "422", "503", *BODY},
    ("post", "/users/with-profile"): {"201", "409", "422", "503", *BODY},
    ("get", "/users"): {"200", "422", "503"},
    ("get", "/users/search"): {"200", "422", "503"},
    ("get", "/users/stats"): {"200", "503"},
    ("get", "/users/post-counts"): {"200", "422", "503"},
    ("get", "/users/{user_id}"): {"200", "404", "422", "503"},
    ("get", "/users/{user_id}/details"): {"200", "404", "422", "503"},
    ("patch", "/users/{user_id}"): {"200", "404", "409", "422", "503", *BODY},
    ("delete", "/users/{user_id}"): {"204", "404", "422", "503"},
{% if cookiecutter.use_soft_delete %}
    ("post", "/users/{user_id}/restore"): {"200", "404", "409", "422", "503"},
{% endif %}
    ("post", "/roles"): {"201", "409", "422", "503", *BODY},
    ("get", "/roles"): {"200", "422", "503"},
    ("get", "/roles/{role_name}"): {"200", "404", "422", "503"},
    ("put", "/users/{user_id}/roles/{role_name}"): {"204", "404", "422", "503"},
    ("delete", "/users/{user_id}/roles/{role_name}"): {"204", "404", "422", "503"},
    ("get", "/roles/{role_name}/users"): {"200", "404", "422", "503"},
    # 404 also when the author is deleted meanwhile: the author's row is locked first.
    # 409: `idempotency_key_in_use` (every POST).
    ("post", "/users/{user_id}/posts"): {"201", "404", "409", "422", "503", *BODY},
    ("get", "/users/{user_id}/posts"): {"200", "404", "422", "503"},
    ("get", "/users/{user_id}/posts/{post_id}"): {"200", "404", "422", "503"},
{% if cookiecutter.use_pool_monitoring %}
    ("get", "/health/pools"): {"200"},
{% endif %}
}
{% if cookiecutter.use_auth %}
# Writes that need a token: 401 without a valid one, 403 for another user's resource.
for _operation in [
    ("patch", "/users/{user_id}"),
    ("delete", "/users/{user_id}"),
{% if cookiecutter.use_soft_delete %}
    ("post", "/users/{user_id}/restore"),
{% endif %}
    ("post", "/users/{user_id}/posts"),
    ("post", "/roles"),
    ("put", "/users/{user_id}/roles/{role_name}"),
    ("delete", "/users/{user_id}/roles/{role_name}"),
]:
    CONTRACT[_operation] |= {"401", "403"}
CONTRACT[("post", "/auth/token")] = {"200", "401", "422", "503", *BODY}
CONTRACT[("get", "/users/me")] = {"200", "401", "503"}
{% endif %}


async def test_every_route_documents_its_statuses(client: AsyncClient, app: FastAPI) -> None:
    response = await client.get(app.openapi_url or "/openapi.json")
    assert response.status_code == 200

    documented = {
        (method, path): set(operation["responses"])
        for path, operations in response.json()["paths"].items()
        for method, operation in operations.items()
    }

    assert documented == CONTRACT


async def test_error_responses_have_a_detail_and_a_code(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    schemas = spec["components"]["schemas"]

    assert schemas["ErrorResponse"]["required"] == ["detail", "code"]
    assert schemas["ValidationErrorResponse"]["required"] == ["detail", "code"]
    assert "HTTPValidationError" not in schemas
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                # A failing health check answers with its report, not an error body.
                if status >= "400" and not path.startswith("/health"):
                    schema = response["content"]["application/json"]["schema"]
                    refs = [s["$ref"] for s in schema.get("anyOf", [schema])]
                    expected = ["#/components/schemas/ErrorResponse"]
                    if status == "422":
                        # Also `idempotency_key_reused` where the route takes a key.
                        validation = "#/components/schemas/ValidationErrorResponse"
                        keyed = KEY_HEADER in {p["name"] for p in operation.get("parameters", [])}
                        expected = [validation, *expected] if keyed else [validation]
                    assert refs == expected, (method, path, status)


async def test_created_resources_document_their_location(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            created = operation["responses"].get("201")
            if created is not None and path != "/users/bulk":
                location = created.get("headers", {}).get("Location")
                assert location is not None, (method, path)
                # A relative reference unless PUBLIC_BASE_URL is set.
                assert location["schema"]["format"] == "uri-reference", (method, path)


async def test_the_bulk_limit_documented_is_the_setting(
    client: AsyncClient, settings: Settings
) -> None:
    spec = (await client.get("/openapi.json")).json()
    body = spec["paths"]["/users/bulk"]["post"]["requestBody"]["content"]["application/json"]

    assert body["schema"]["maxItems"] == settings.bulk_max_users


async def test_time_zones_are_documented_by_name(client: AsyncClient) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    zones = schemas["ProfileCreate"]["properties"]["timezone"]["enum"]
    assert {"UTC", "Europe/Rome", "America/New_York"} <= set(zones)


async def test_parameters_are_never_documented_as_null(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()

    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                assert {"type": "null"} not in parameter["schema"].get("anyOf", []), (
                    method,
                    path,
                    parameter["name"],
                )


async def test_emails_document_the_domains_they_refuse(client: AsyncClient, app: FastAPI) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    refused = schemas["UserCreate"]["properties"]["email"]["not"]["pattern"]

    for email in ("a@b.test", "a@mail.LOCAL", "a@localhost", "a@x.onion", "a@in-addr.arpa"):
        assert re.search(refused, email), email
        response = await client.post(
            app.url_path_for("create_user"), json=user_payload(email=email)
        )
        assert response.status_code == 422, email
    assert not re.search(refused, "someone@example.com")
    assert not re.search(refused, "someone@test.example.com")


async def test_patch_documents_null_only_where_it_is_accepted(
    client: AsyncClient, app: FastAPI
) -> None:
    schemas = (await client.get("/openapi.json")).json()["components"]["schemas"]
    fields = schemas["UserUpdate"]["properties"]

    def nullable(field: dict[str, object]) -> bool:
        return {"type": "null"} in field.get("anyOf", [])  # type: ignore[operator]

    assert {name for name, field in fields.items() if nullable(field)} == {"full_name", "bio"}
    for name in ("username", "email", "password", "is_active"):
        response = await client.patch(
            app.url_path_for("update_user", user_id="1"), json={name: None}
        )
        assert response.status_code == 422
