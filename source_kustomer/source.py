"""The Kustomer source: the declarative manifest, its JSON schemas, and a token check with Kustomer's own reason."""

from __future__ import annotations

import fnmatch
import functools
import logging
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import requests

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    AirbyteMessage,
    AirbyteStateMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    Type,
)
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_kustomer import cdk_internals, progress
from source_kustomer.config import DEFAULT_NUM_WORKERS, DEFAULT_RATE_LIMIT_SHARE, ConfigError, NormalizedConfig, mask_token, normalize_config
from source_kustomer.errors import stream_roles
from source_kustomer.manifest import load_manifest
from source_kustomer.pages import REASON, kustomer_reason, page_body
from source_kustomer.search import with_sync_context, without_sync_context

TOKEN_CHECK_PATH = "/v1/auth/tokens/current"
SEARCH_PATH = "/v1/customers/search"
# Kustomer's API reference names, for each endpoint, the roles any one of which grants it: permission-set roles and
# the legacy roles they replace. Search and archive search (POST /v1/customers/search, .../archive/search):
SEARCH_ROLE = "org.permission.search.create"  # the one named to users, with its legacy equivalent
LEGACY_SEARCH_ROLE = "org.user.search.read"
SEARCH_ROLES = (
    SEARCH_ROLE,
    "org.permission.search.update",
    "org.permission.search_global.create",
    "org.permission.search_preview.create",
    LEGACY_SEARCH_ROLE,
    "org.admin.search.read",
)
# GET /v1/metadata/{resource}:
METADATA_ROLE = "org.permission.metadata.read"
METADATA_ROLES = (METADATA_ROLE, "org.user.metadata.read", "org.admin.metadata.read")
TIE_BLOCK_OVER_CAP = (
    "{stream}: more than 10,000 records share one updated_at (or more than 10,000 objects were deleted permanently "
    "since the last sync), and Kustomer's search cannot page past its 10,000-result cap for them. The stream stopped "
    "rather than skip records; the records before that timestamp were delivered."
)
UNREACHABLE = "Could not reach Kustomer at"
CHECK_TIMEOUT = (10, 30)  # connect, read: check answers well within a minute even for an unreachable host


class SourceKustomer(ConcurrentDeclarativeSource):
    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: Optional[List[AirbyteStateMessage]] = None,
        **kwargs: Any,
    ) -> None:
        cdk_internals.install()
        context = with_sync_context(config, state)
        # The sync's counts (Kustomer's meta.total, what was written): estimates and each stream's proof line.
        self._progress = progress.attach(context) if context is not None else None
        super().__init__(
            catalog=catalog,
            config=context,
            state=state,
            source_config=load_manifest(),
            **kwargs,
        )
        cdk_internals.limit_record_queue(self)
        migrated = cdk_internals.source_config(self)
        self._normalized_config = without_sync_context(migrated) if isinstance(migrated, NormalizedConfig) else None
        self._normalized_config_path = kwargs.get("config_path")
        self._read_catalog: Optional[ConfiguredAirbyteCatalog] = None

    def _migrate_and_transform_config(self, config_path: Optional[str], config: Optional[Mapping[str, Any]]) -> Optional[Mapping[str, Any]]:
        """The manifest's config migrations run on the config as saved; the streams keep the validated config
        (`cdk_internals.migrated_config`)."""
        return cdk_internals.migrated_config(super()._migrate_and_transform_config, config_path, config)

    @property
    def dynamic_streams(self) -> List[Dict[str, Any]]:
        """The per-klass streams, unless a read's catalog selects none of them.

        Finding them costs a listing of the org's klasses and a metadata request per klass: a sync of other streams
        skips it, and does not depend on the klasses role.
        """
        if self._read_catalog is not None:
            static = {config.get("name") for config in self.resolved_manifest.get("streams", [])}
            if all(configured.stream.name in static for configured in self._read_catalog.streams):
                return []
        return super().dynamic_streams

    def _prepare_for_stream_build(self) -> None:
        super()._prepare_for_stream_build()
        # The budget that reads both forms of x-ratelimit-reset and keeps the org's reserve of each window.
        cdk_internals.use_kustomer_budget(self, self._setting("rate_limit_share", DEFAULT_RATE_LIMIT_SHARE))

    def _setting(self, field: str, default: Any) -> Any:
        """A field of the config the streams are built from, validated (a no-op for the validated config of a sync); an
        invalid config gives the default here and fails where it is checked, with its own message."""
        try:
            return normalize_config(cdk_internals.source_config(self))[field]
        except ConfigError:
            return default

    def _create_streams(self, selected_configs: List[Dict[str, Any]], all_configs: List[Dict[str, Any]]) -> List[Any]:
        """The CDK's streams; each search-backed stream reads several windows at once, up to `num_workers`.

        A read builds only the streams its catalog selects (the CDK builds every stream of the manifest for a read and
        reads the selected ones): building all 35 cost every sync 0.3 s of CPU at start-up, and a read of the three
        big streams (250,000 records, one worker) 0.1-1.9 s more in five runs side by side, the objects they leave
        behind on the heap slowing the pages read after them. Parent streams come with their children's definitions;
        `all_configs` still lists every stream for the CDK."""
        if self._read_catalog is not None:
            selected = {configured.stream.name for configured in self._read_catalog.streams}
            selected_configs = [config for config in selected_configs if config.get("name") in selected]
        streams = super()._create_streams(selected_configs, all_configs)
        workers = self._setting("num_workers", DEFAULT_NUM_WORKERS)
        for stream in streams:
            cdk_internals.read_in_windows(stream, max_windows=workers)
        return streams

    def read_config(self, config_path: str) -> Dict[str, Any]:
        """The config as the streams use it: validated, with start_date and api_url normalised (the console script's,
        when it read the same file)."""
        if config_path == self._normalized_config_path and self._normalized_config is not None:
            return self._normalized_config
        return normalize_config(super().read_config(config_path))

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            config = normalize_config(config)
        except ConfigError as error:
            return AirbyteConnectionStatus(status=Status.FAILED, message=str(error))
        status = self._check(logger, config)
        if status.message:
            status.message = mask_token(status.message, config["api_token"])
        return status

    def _check(self, logger: logging.Logger, config: Dict[str, Any]) -> AirbyteConnectionStatus:
        ok, reason, token = read_token(config)
        if not ok:
            return AirbyteConnectionStatus(status=Status.FAILED, message=reason)
        missing = missing_search_role(config, token.get("roles"), search_stream_names(self._source_config))
        if missing:
            return AirbyteConnectionStatus(status=Status.FAILED, message=missing)
        roles = token.get("roles")
        if isinstance(roles, list) and not grants(roles, METADATA_ROLES):
            # Optional: the streams sync without it, with `custom` as an open object.
            logger.warning(
                f"The API key lacks {METADATA_ROLE}: custom attributes are published untyped inside `custom`. "
                "Give the key that role to get each custom attribute as a typed column."
            )
        if isinstance(roles, list):
            lacking = lacking_roles(roles)
            if lacking:
                logger.warning(
                    "The API key lacks roles some streams need; those streams sync no records (the others do): "
                    + "; ".join(f"{role} for {', '.join(streams)}" for role, streams in lacking.items())
                    + ". Give the key these roles in Kustomer (Settings > Security > API Keys) to sync them."
                )
        with cdk_internals.streams_built_from(self, config):
            return super().check(logger, config)

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        # The schemas read the org's custom attributes, with every retry of the requester: without this, an
        # unreachable or non-Kustomer host would fail discover only after minutes.
        fail_unless_kustomer_answers(config)
        return super().discover(logger, config)

    def read(
        self,
        logger: logging.Logger,
        config: Mapping[str, Any],
        catalog: ConfiguredAirbyteCatalog,
        state: Optional[List[AirbyteStateMessage]] = None,
    ) -> Iterator[AirbyteMessage]:
        # The CDK masks secrets in log lines only; a stream's error trace quotes Kustomer's reason as is.
        token = config.get("api_token")
        fail_unless_kustomer_answers(config)
        self._read_catalog = catalog
        # The sync's estimates before the records they announce, each stream's proof line before its COMPLETE status.
        for message in progress.passing(self._progress, super().read(logger, config, catalog, state)):
            error = message.trace.error if message.type == Type.TRACE and message.trace else None
            if error is not None and cdk_internals.SAME_SLICE_AGAIN in (error.internal_message or ""):
                error.message = TIE_BLOCK_OVER_CAP.format(stream=error.stream_descriptor.name if error.stream_descriptor else "a stream")
            if error is not None and token:
                error.message = mask_token(error.message, token)
                error.internal_message = error.internal_message and mask_token(error.internal_message, token)
                error.stack_trace = error.stack_trace and mask_token(error.stack_trace, token)
            yield message


def fail_unless_kustomer_answers(config: Mapping[str, Any]) -> None:
    """One request before discover or read: a wrong host, a non-Kustomer server or a rejected key fails at once with
    the check's own reason instead of after every stream's retries."""
    ok, reason, _token = read_token(config)
    if not ok:
        unreachable = reason is not None and reason.startswith(UNREACHABLE)
        raise AirbyteTracedException(
            message=mask_token(reason or "", config.get("api_token") or ""),
            failure_type=FailureType.transient_error if unreachable else FailureType.config_error,
        )


def read_token(config: Mapping[str, Any]) -> Tuple[bool, Optional[str], Dict[str, Any]]:
    """Asks Kustomer whether the API key is valid, whatever its roles: (ok, reason for the user, the token's attributes
    with its `roles` where Kustomer lists them)."""
    url = config["api_url"] + TOKEN_CHECK_PATH
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {config['api_token']}", "Accept": "application/json"},
            timeout=CHECK_TIMEOUT,
        )
    except requests.exceptions.RequestException as error:
        return False, f"{UNREACHABLE} {config['api_url']} ({type(error).__name__}). Check `api_url` and the network.", {}
    if response.status_code == 200:
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            return False, f"{config['api_url']} answered {TOKEN_CHECK_PATH} with something that is not Kustomer's API. Check `api_url`.", {}
        attributes = data.get("attributes") if isinstance(data, dict) else None
        return True, None, attributes if isinstance(attributes, dict) else {}
    reason = kustomer_reason(page_body(response), response.reason)
    if response.status_code == 401:
        return False, error_wording("unauthorized").replace(REASON, reason), {}
    if response.status_code == 403:
        return False, f"The API key is not allowed to read its own token (HTTP 403): {reason}.", {}
    return False, f"Kustomer answered HTTP {response.status_code} to {TOKEN_CHECK_PATH}: {reason}.", {}


def search_stream_names(manifest: Mapping[str, Any]) -> List[str]:
    """The streams read through Kustomer's search API (those with a `query_context`), in the manifest's order."""
    streams = (manifest.get("definitions") or {}).get("streams") or {}
    return [name for name, stream in streams.items() if "query_context" in (stream.get("$parameters") or {})]


def grants(roles: List[Any], accepted: Tuple[str, ...]) -> bool:
    """Whether a listed role is one of `accepted`; a listed wildcard (`org.permission.search.*`) counts as each role
    it matches."""
    return any(isinstance(role, str) and any(fnmatch.fnmatchcase(name, role) for name in accepted) for role in roles)


def missing_search_role(config: Mapping[str, Any], roles: Any, streams: List[str]) -> Optional[str]:
    """Why the key cannot search, for the user; None if it can.

    A search role among the token's own `roles` answers without a request. Otherwise (roles not listed, or none of
    them a search role the reference names) one search of a single record asks: only a refusal (401 or 403) fails
    the check, so a key whose role has a name the reference does not list still passes; anything else is left to
    the sync.
    """
    if isinstance(roles, list) and grants(roles, SEARCH_ROLES):
        return None
    try:
        response = requests.post(
            config["api_url"] + SEARCH_PATH,
            params={"page": 1, "pageSize": 1},
            json={"queryContext": "customer", "and": [{"customer_updated_at": {"gte": config["start_date"]}}]},
            headers={"Authorization": f"Bearer {config['api_token']}", "Accept": "application/json"},
            timeout=CHECK_TIMEOUT,
        )
    except requests.exceptions.RequestException:
        return None
    if response.status_code in (401, 403):
        return (
            f"The API key has no search role, which the search-backed streams need: {', '.join(streams)}. "
            f"Kustomer refused a search (HTTP {response.status_code}): {kustomer_reason(page_body(response), response.reason)}. Give the key "
            f"{SEARCH_ROLE} (or the legacy role {LEGACY_SEARCH_ROLE}) in Kustomer (Settings > Security > API Keys)."
        )
    return None


def lacking_roles(roles: List[Any]) -> Dict[str, List[str]]:
    """{role: the streams that need it} for the roles of the manifest's streams (`role`, `also_roles`) the key's listed
    roles grant none of; a permission-set role counts under its legacy names too (org.user.*, org.admin.*)."""
    lacking: Dict[str, List[str]] = {}
    for stream, needed in stream_roles().items():
        accepted = tuple(name.replace("org.permission.", prefix) for name in needed for prefix in ("org.permission.", "org.user.", "org.admin."))
        if not grants(roles, accepted):
            lacking.setdefault(needed[0], []).append(stream)
    return lacking


@functools.lru_cache(maxsize=None)
def error_wording(name: str) -> str:
    """The manifest's message for an error (`definitions.response_filters.<name>`): one wording, sync and check alike."""
    return " ".join(str(load_manifest()["definitions"]["response_filters"][name]["error_message"]).split())
