"""Rows to core values."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Row

from fieldstation.core.models import Credential, CredentialKind, Device, Project, Reading


def project_row(row: Row[Any]) -> Project:
    return Project(
        id=row.id,
        name=row.name,
        short_id=row.short_id,
        created_us=row.created_us,
        auto_register=bool(row.auto_register),
        is_demo=bool(row.is_demo),
        settings=orjson.loads(row.settings or "{}"),
    )


def credential_row(row: Row[Any]) -> Credential:
    return Credential(
        id=row.id,
        project_id=row.project_id,
        kind=CredentialKind(row.kind),
        key_digest=row.key_digest,
        username=row.username,
        password_hash=row.password_hash,
        created_us=row.created_us,
        revoked_us=row.revoked_us,
    )


def device_row(row: Row[Any]) -> Device:
    return Device(
        id=row.id,
        project_id=row.project_id,
        guid=row.guid,
        short_id=row.short_id,
        name=row.name,
        tag_id=row.tag_id,
        eui=row.eui,
        asset=row.asset,
        device_type=row.device_type,
        software_version=row.software_version,
        codec=row.codec,
        created_us=row.created_us,
        manufactured_us=row.manufactured_us,
        is_gateway=bool(row.is_gateway),
        parent_id=row.parent_id,
        is_virtual=bool(row.is_virtual),
        demo_active=bool(row.demo_active),
        frequency_s=row.frequency_s,
        type_id=row.type_id,
        protocols=tuple(orjson.loads(row.protocols or "[]")),
        certificate_id=row.certificate_id,
        parameters=orjson.loads(row.parameters or "{}"),
        link_state=None if row.link_state is None else orjson.loads(row.link_state),
    )


def reading_row(row: Row[Any]) -> Reading:
    return Reading(
        id=row.id,
        uid=row.uid,
        project_id=row.project_id,
        device_id=row.device_id,
        uplink_id=row.uplink_id,
        time_us=row.time_us,
        inserted_us=row.inserted_us,
        latitude=row.latitude,
        longitude=row.longitude,
        values=orjson.loads(row.values_json),
        error=row.error,
        warnings=tuple(orjson.loads(row.warnings)) if row.warnings else (),
    )


JSON_COLUMNS = ("protocols", "parameters", "link_state")


def json_columns(fields: dict[str, Any]) -> dict[str, str | None]:
    """The device fields kept as JSON text, serialised for their columns."""
    return {
        name: None
        if fields[name] is None
        else orjson.dumps(list(fields[name]) if name == "protocols" else fields[name]).decode()
        for name in JSON_COLUMNS
        if name in fields
    }
