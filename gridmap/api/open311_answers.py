"""What Open311 GeoReport v2 (:mod:`gridmap.api.open311`) answers, as pydantic models for the
OpenAPI document, beside :mod:`gridmap.api.answers`.

Each answer is JSON or the spec's XML (``….json`` / ``….xml``, :mod:`gridmap.api.georeport`):
the same members, written as the elements the schemas' ``xml`` names say (a list is wrapped,
its items named in the singular). Errors are the spec's list of ``{code, description}``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import ConfigDict, Field, RootModel

from gridmap.api.answers import Answer, Json


def _xml(name: str, wrapped: bool = False) -> ConfigDict:
    xml: dict[str, Any] = {"name": name} | ({"wrapped": True} if wrapped else {})
    return ConfigDict(json_schema_extra={"xml": xml})


def _wrapped(item: str) -> Any:
    """A list member in XML: ``<formats><format>…</format></formats>``."""

    def name_items(schema: dict[str, Any]) -> None:
        schema["xml"] = {"wrapped": True}
        schema["items"]["xml"] = {"name": item}

    return Field(json_schema_extra=name_items)


class Open311Endpoint(Answer):
    model_config = _xml("endpoint")

    specification: str
    url: str
    changeset: dt.datetime
    type: Literal["production", "test"]
    formats: list[str] = _wrapped("format")


class Open311Discovery(Answer):
    """Where this server's GeoReport v2 endpoint is, and how to get a key."""

    model_config = _xml("discovery")

    changeset: dt.datetime
    contact: str
    key_service: str
    endpoints: list[Open311Endpoint] = _wrapped("endpoint")


class Open311Service(Answer):
    """A service: a request category."""

    model_config = _xml("service")

    service_code: str
    service_name: str
    description: str
    metadata: bool = Field(description="Whether the service has attributes: never")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class Open311Services(RootModel[list[Open311Service]]):
    """The services (request categories)."""

    model_config = _xml("services", wrapped=True)


class Open311ServiceDefinition(Answer):
    """A service's definition: its attributes (none)."""

    model_config = _xml("service_definition")

    service_code: str
    attributes: list[Json] = _wrapped("attribute")


class Open311Request(Answer):
    """A request as GeoReport v2 shows it, masked: no contact details ever."""

    model_config = _xml("request")

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str = Field(description="The exact state")
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: None
    requested_datetime: dt.datetime
    updated_datetime: dt.datetime
    expected_datetime: dt.datetime | None = Field(description="The current stage's deadline")
    address: str | None = Field(description="Masked after the community or road")
    address_id: str | None = Field(description="The household's id")
    zipcode: None
    lat: float
    long: float
    media_url: str | None


class Open311Requests(RootModel[list[Open311Request]]):
    """Requests, newest first."""

    model_config = _xml("service_requests", wrapped=True)


class Open311Receipt(Answer):
    model_config = _xml("request")

    service_request_id: str
    service_notice: None
    account_id: None


class Open311Receipts(RootModel[list[Open311Receipt]]):
    """The request filed: its id (requests are filed at once, no token needed)."""

    model_config = _xml("service_requests", wrapped=True)


class Open311Token(Answer):
    model_config = _xml("request")

    service_request_id: str
    token: str


class Open311Tokens(RootModel[list[Open311Token]]):
    """The request of a token (a token is the request's id)."""

    model_config = _xml("service_requests", wrapped=True)


class Open311Error(Answer):
    model_config = _xml("error")

    code: int = Field(ge=400, le=599, description="The HTTP status")
    description: str


class Open311Errors(RootModel[list[Open311Error]]):
    """An error, as GeoReport v2 writes it: a list of one ``{code, description}``."""

    model_config = _xml("errors", wrapped=True)
