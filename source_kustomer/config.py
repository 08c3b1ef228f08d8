"""Validates and normalises the connector's config before any request carries the API token."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, MutableMapping, Optional
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from airbyte_cdk.sources.declarative.transformations.config_transformations.config_transformation import ConfigTransformation

from source_kustomer.manifest import spec_property

# Defaults and bounds are the spec's (manifest.yaml), read from there.
DEFAULT_API_URL: str = spec_property("api_url")["default"]
# Percent of each Kustomer rate-limit window the connector may spend; the rest stays for the org's other integrations.
DEFAULT_RATE_LIMIT_SHARE: int = spec_property("rate_limit_share")["default"]
DEFAULT_NUM_WORKERS: int = spec_property("num_workers")["default"]
# The spec's own pattern: strptime alone would also take unpadded forms such as 2025-1-1.
START_DATE_FORMATS = (
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"), "%Y-%m-%dT%H:%M:%SZ"),
    (re.compile(r"\d{4}-\d{2}-\d{2}"), "%Y-%m-%d"),
    (re.compile(r"\d{2}/\d{2}/\d{4}"), "%m/%d/%Y"),
)
NORMALIZED_START_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LOOPBACK_HOSTS = {"localhost"}
# DNS names only: urlsplit and requests disagree on hosts holding other characters (`https://evil.com\.kustomerapp.com`
# passes a suffix check, yet requests sends it to evil.com).
_KUSTOMER_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*kustomerapp\.com")


class ConfigError(ValueError):
    """A config problem, worded for the user; never contains the API token."""


class KustomerConfig(BaseModel):
    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    api_token: str
    start_date: str
    api_url: str = DEFAULT_API_URL
    page_size: Optional[int] = None
    num_workers: int = DEFAULT_NUM_WORKERS
    rate_limit_share: int = DEFAULT_RATE_LIMIT_SHARE

    @field_validator("api_token", mode="before")
    @classmethod
    def _token(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("must be a non-empty string (a Kustomer API key)")
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _start_date(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string such as 2025-01-01T00:00:00Z, 2025-01-01 or 01/31/2025")
        parsed = parse_start_date(value.strip())
        if parsed > datetime.now(timezone.utc):
            raise ValueError(f"{value!r} is in the future; nothing would be replicated")
        return parsed.strftime(NORMALIZED_START_DATE_FORMAT)

    @field_validator("api_url", mode="before")
    @classmethod
    def _api_url(cls, value: Any) -> str:
        if value is None or value == "":
            return DEFAULT_API_URL
        if not isinstance(value, str):
            raise ValueError("must be a URL string such as https://api.kustomerapp.com")
        return validate_api_url(value.strip())

    @field_validator("page_size", "num_workers", "rate_limit_share", mode="before")
    @classmethod
    def _bounded(cls, value: Any, info: ValidationInfo) -> Optional[int]:
        """A whole number within the spec's bounds; empty means the spec's default (none for page_size)."""
        if value is None or value == "":
            return spec_property(info.field_name).get("default")
        return _bounded_int(value, info.field_name, unit=" (percent)" if info.field_name == "rate_limit_share" else "")


def _bounded_int(value: Any, field: str, unit: str = "") -> int:
    low, high = spec_property(field)["minimum"], spec_property(field)["maximum"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be a whole number from {low} to {high}{unit}, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"must be from {low} to {high}{unit}, got {value}")
    return value


def parse_start_date(value: str) -> datetime:
    for shape, fmt in START_DATE_FORMATS:
        if not shape.fullmatch(value):
            continue
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise ValueError(f"{value!r} is not a date in the form YYYY-MM-DDTHH:MM:SSZ, YYYY-MM-DD or MM/DD/YYYY")


class StartDateAsDateTime(ConfigTransformation):
    """The manifest's config migration (`spec.config_normalization_rules`): a saved start_date in one of the date-only
    forms (YYYY-MM-DD, MM/DD/YYYY) becomes YYYY-MM-DDT00:00:00Z, the date-time form (the Airbyte UI's date picker).

    A value that is not a date in one of the three forms is left as it is, for the validation to refuse in its own
    words. The CDK's `ConfigAddFields` could rewrite the shapes with `regex_replace`, but it cannot tell an impossible
    date (02/30/2025) from a real one, and it reads a rewritten value back as a literal (20250101 becomes a number).
    """

    def transform(self, config: MutableMapping[str, Any]) -> None:
        value = config.get("start_date")
        if not isinstance(value, str):
            return
        try:
            parsed = parse_start_date(value.strip())
        except ValueError:
            return
        config["start_date"] = parsed.strftime(NORMALIZED_START_DATE_FORMAT)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_api_url(value: str) -> str:
    """Only Kustomer's own https hosts, or plain http on loopback for local testing, may receive the token."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{value!r} is not a valid URL ({error})") from None
    host = (parts.hostname or "").lower()
    if parts.username is not None or parts.password is not None:
        # Not echoed: the credentials may be the API token itself.
        raise ValueError("must be a bare host such as https://api.kustomerapp.com (no credentials in the URL)")
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} must be a bare host such as https://api.kustomerapp.com (no path, query or credentials)")
    if _is_loopback(host):
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"{value!r} must use the http or https scheme")
    elif parts.scheme != "https":
        raise ValueError(f"{value!r} must use https (plain http is only allowed on localhost)")
    elif not _KUSTOMER_HOST.fullmatch(host):
        raise ValueError(
            f"{value!r} is not a Kustomer host: use https://api.kustomerapp.com (US), https://api.prod2.kustomerapp.com (EU), "
            "https://api.prod4.kustomerapp.com (India) or https://<org>.api.kustomerapp.com"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}"


class NormalizedConfig(Dict[str, Any]):
    """A config `normalize_config` has validated: passed through it again, it is returned as it is.

    `saved` is the config it was made from, as the user saved it: the one the manifest's config migrations rewrite and
    the platform stores (not the normalised form, which spells out every default).
    """

    def __init__(self, normalized: Mapping[str, Any], saved: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(normalized)
        self.saved: Dict[str, Any] = dict(saved if saved is not None else getattr(normalized, "saved", normalized))


def normalize_config(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """The config with start_date as YYYY-MM-DDTHH:MM:SSZ and api_url without a trailing slash; raises ConfigError.

    Validated once per process: the console script validates the config file before anything else, and the source
    gets that config back wherever the CDK would have it validated again (`read_config`, `check`). A config the
    manifest's config migration rewrote is validated once more, as rewritten.
    """
    if isinstance(raw, NormalizedConfig):
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError("The config must be a JSON object with at least `api_token` and `start_date`.")
    try:
        model = KustomerConfig.model_validate(dict(raw))
    except ValidationError as error:
        message = "Invalid config: " + "; ".join(_describe(e) for e in error.errors())
        raise ConfigError(mask_token(message, raw.get("api_token"))) from None
    return NormalizedConfig(model.model_dump(exclude_none=True), saved=raw)


def mask_token(message: str, token: Any) -> str:
    """The message with the API token masked wherever it appears (as given, or as a user pasted it with spaces)."""
    if isinstance(token, str) and message:
        for variant in {token, token.strip()}:
            if len(variant) >= 4:
                message = message.replace(variant, "****")
    return message


def _describe(error: Mapping[str, Any]) -> str:
    field_name = ".".join(str(part) for part in error.get("loc", ())) or "config"
    if error.get("type") == "missing":
        return f"`{field_name}` is required"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ")
    return f"`{field_name}` {message}"
