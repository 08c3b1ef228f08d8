"""Tokens and roles: who may call what (401/403 with Kustomer's reasons) and GET /v1/auth/tokens/current."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import ApiError
from .records import OBJECT_TYPE, ORG_NAME, ORG_REL, dumps
from .routes import Request, route
from .routing import NO_ROUTING_TOKEN, ROUTING_ROLES

if TYPE_CHECKING:
    from .server import KustomerEmulator

DEFAULT_TOKEN = "kustomer-emulator-token"
WRONG_REGION_TOKEN = "wrong-region-token"
NO_ROLES_TOKEN = "no-roles-token"
NO_METADATA_TOKEN = "no-metadata-token"
NO_AUDIT_TOKEN = "no-audit-token"
# Every role but a search role; the second one's token document does not list its roles at all.
NO_SEARCH_TOKEN = "no-search-role-token"
NO_SEARCH_UNLISTED_TOKEN = "no-search-role-unlisted-token"
# Every role, under the legacy names (org.user.<resource>.read, org.user.search.read).
LEGACY_ROLES_TOKEN = "legacy-roles-token"
# Another integration of the same org, with every role: it draws from the same rate-limit budgets.
SECOND_CLIENT_TOKEN = "second-client-token"
# Every role but the knowledge base's and the workflows' (org.permission.kb.read, org.permission.workflow.read).
NO_KB_WORKFLOW_TOKEN = "no-kb-workflow-token"
KB_WORKFLOW_RESOURCES = ("kb", "workflow")
# What the per-window statistics call each client (never the token itself).
CLIENT_NAMES = {NO_ROLES_TOKEN: "no-roles", NO_METADATA_TOKEN: "no-metadata", NO_AUDIT_TOKEN: "no-audit", NO_SEARCH_TOKEN: "no-search-role",
                NO_SEARCH_UNLISTED_TOKEN: "no-search-role-unlisted", SECOND_CLIENT_TOKEN: "second-client",
                LEGACY_ROLES_TOKEN: "legacy-roles", NO_ROUTING_TOKEN: "no-routing", NO_KB_WORKFLOW_TOKEN: "no-kb-workflow"}

# read role needed per top-level resource (for the 403 of no-roles-token)
ROLE_RESOURCE = {**OBJECT_TYPE, "metadata": "metadata", "audit-logs": "audit_logs", "kb": "kb", "workflows": "workflow",
                 "snippets": "snippet", "role-groups": "role_group", "spam": "spam", "routing": "routing"}
# Search and archive search accept any one of these (Kustomer's API reference): permission-set roles, then legacy ones.
SEARCH_ROLES = ("org.permission.search.create", "org.permission.search.update", "org.permission.search_global.create",
                "org.permission.search_preview.create", "org.user.search.read", "org.admin.search.read")
# Saved searches (GET /v1/customers/searches) need org.permission.search.read besides the customer role.
ALL_ROLES = sorted({f"org.permission.{r}.read" for r in ROLE_RESOURCE.values()} | {SEARCH_ROLES[0], "org.permission.search.read"}
                   | set(ROUTING_ROLES))
LEGACY_ROLES = sorted({f"org.user.{r}.read" for r in ROLE_RESOURCE.values()} | {"org.user.search.read"})


def missing_role(resource: str) -> str:
    """Kustomer's reason for a refusal: the role (permission-set name) the request needs."""
    return f"Missing required role {SEARCH_ROLES[0] if resource == 'search' else f'org.permission.{resource}.read'}"


def authenticate(own_token: str, header: str | None, method: str, path: str, resource: str) -> str:
    """The request's token when it may proceed; raises ApiError(401/403) otherwise."""
    token = None
    if header:
        parts = header.split(None, 1)
        if len(parts) == 2 and parts[0].lower() == "bearer":
            token = parts[1].strip()
    if token == WRONG_REGION_TOKEN:
        raise ApiError(401, "Auth token associated with pod prod2 but request is being handled by prod1")
    if token == NO_ROLES_TOKEN:
        if method == "GET" and path == "/v1/auth/tokens/current":
            return token
        raise ApiError(403, missing_role(resource))
    if token == NO_METADATA_TOKEN:
        if resource in ("metadata", "klass"):
            raise ApiError(403, missing_role(resource))
        return token
    if token == NO_AUDIT_TOKEN:
        if resource == "audit_logs":
            raise ApiError(403, missing_role(resource))
        return token
    if token == NO_KB_WORKFLOW_TOKEN:
        if resource in KB_WORKFLOW_RESOURCES:
            raise ApiError(403, missing_role(resource))
        return token
    if token in (NO_SEARCH_TOKEN, NO_SEARCH_UNLISTED_TOKEN):
        if resource == "search":
            raise ApiError(403, missing_role(resource))
        return token
    if token in (SECOND_CLIENT_TOKEN, LEGACY_ROLES_TOKEN, NO_ROUTING_TOKEN):  # routing.py refuses its endpoints
        return token
    if token is None or token != own_token:
        raise ApiError(401, "Invalid or missing API token")
    return token


@route("GET", "/v1/auth/tokens/current")
def token_document(emu: "KustomerEmulator", req: Request) -> bytes:
    token = req.token
    if token == NO_ROLES_TOKEN:
        roles: list[str] = []
    elif token == NO_METADATA_TOKEN:
        roles = [r for r in ALL_ROLES if r not in ("org.permission.metadata.read", "org.permission.klass.read")]
    elif token == NO_AUDIT_TOKEN:
        roles = [r for r in ALL_ROLES if r != "org.permission.audit_logs.read"]
    elif token in (NO_SEARCH_TOKEN, NO_SEARCH_UNLISTED_TOKEN):
        roles = [r for r in ALL_ROLES if r not in SEARCH_ROLES]
    elif token == NO_KB_WORKFLOW_TOKEN:
        roles = [r for r in ALL_ROLES if r not in {f"org.permission.{res}.read" for res in KB_WORKFLOW_RESOURCES}]
    elif token == LEGACY_ROLES_TOKEN:
        roles = LEGACY_ROLES
    elif token == NO_ROUTING_TOKEN:
        roles = [r for r in ALL_ROLES if r not in ROUTING_ROLES]
    else:
        roles = ALL_ROLES
    attributes: dict[str, Any] = {"name": "emulator key", "roles": roles, "orgName": ORG_NAME,
                                  "createdAt": "2024-01-15T09:30:00.000Z"}
    if token == NO_SEARCH_UNLISTED_TOKEN:
        del attributes["roles"]
    return dumps({"data": {
        "type": "token",
        "id": "5f0c3b2a1d4e5f6a7b8c9d0e",
        "attributes": attributes,
        "relationships": {"org": ORG_REL},
    }})
