"""HubSpot's official Python SDK (hubspot-api-client) against the sandbox.

The SDK is generated from HubSpot's specs and decodes answers by status code,
so it is a second, independent reader of the sandbox's wire format. It is
synchronous: it runs in a worker thread while the sandbox serves on the test's
loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hubassoc.sandbox import Sandbox

hubspot = pytest.importorskip("hubspot")

from hubspot.crm.associations.v4 import (  # noqa: E402
    BatchInputPublicDefaultAssociationMultiPost,
    BatchResponsePublicDefaultAssociation,
    PublicDefaultAssociationMultiPost,
    PublicObjectId,
)
from hubspot.crm.associations.v4.exceptions import ApiException  # noqa: E402
from hubspot.crm.associations.v4.schema import (  # noqa: E402
    BatchInputPublicAssociationDefinitionConfigurationCreateRequest,
    BatchInputPublicAssociationDefinitionConfigurationUpdateRequest,
    BatchInputPublicAssociationSpec,
    BatchResponsePublicAssociationDefinitionConfigurationUpdateResult,
    BatchResponsePublicAssociationDefinitionUserConfiguration,
    BatchResponsePublicAssociationDefinitionUserConfigurationWithErrors,
    CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging,
    PublicAssociationDefinitionConfigurationCreateRequest,
    PublicAssociationDefinitionConfigurationUpdateRequest,
    PublicAssociationSpec,
)


def sdk_client(sandbox: Sandbox) -> Any:
    # Discovery copies every keyword onto the generated Configuration; its
    # ``host`` setter replaces https://api.hubapi.com.
    return hubspot.HubSpot(access_token=sandbox.token, host=sandbox.url)


def drive_associations(sandbox: Sandbox) -> dict[str, Any]:
    client = sdk_client(sandbox)
    v4 = client.crm.associations.v4
    batch = v4.batch_api.create_default(
        "contacts",
        "companies",
        batch_input_public_default_association_multi_post=(
            BatchInputPublicDefaultAssociationMultiPost(
                inputs=[
                    PublicDefaultAssociationMultiPost(
                        _from=PublicObjectId(id=f), to=PublicObjectId(id=t)
                    )
                    for f, t in (("1", "2"), ("13", "4"), ("3", "4"))
                ]
            )
        ),
    )
    single = v4.basic_api.create_default("deals", "10", "tickets", "20")
    try:
        v4.basic_api.create_default("deals", "13", "tickets", "20")
    except ApiException as exc:
        missing = exc
    else:  # pragma: no cover - the assertion below reports it
        missing = None
    bad_client = hubspot.HubSpot(access_token="wrong", host=sandbox.url)
    try:
        bad_client.crm.associations.v4.basic_api.create_default("deals", "1", "tickets", "2")
    except ApiException as exc:
        unauthorised = exc
    else:  # pragma: no cover
        unauthorised = None
    return {"batch": batch, "single": single, "missing": missing, "unauthorised": unauthorised}


async def test_sdk_default_associations(sandbox_factory: Any) -> None:
    sandbox = await sandbox_factory(not_found_ids={"13"})
    answers = await asyncio.to_thread(drive_associations, sandbox)

    batch = answers["batch"]
    assert isinstance(batch, BatchResponsePublicDefaultAssociation)
    assert batch.status == "COMPLETE"
    assert [(r._from.id, r.to.id) for r in batch.results] == [("1", "2"), ("3", "4")]
    assert batch.results[0].association_spec.association_type_id == 279
    assert batch.results[0].association_spec.association_category == "HUBSPOT_DEFINED"
    assert batch.num_errors == 1
    assert batch.errors[0].category == "OBJECT_NOT_FOUND"
    assert batch.errors[0].context == {"fromObjectId": ["13"]}
    assert batch.started_at.tzinfo is not None and batch.completed_at >= batch.started_at

    single = answers["single"]
    assert isinstance(single, BatchResponsePublicDefaultAssociation)
    assert single.results[0].association_spec.association_type_id == 27

    assert answers["missing"] is not None and answers["missing"].status == 404
    assert answers["unauthorised"] is not None and answers["unauthorised"].status == 401
    assert "X-HubSpot-Correlation-Id" in answers["missing"].headers
    assert sandbox.store_pairs("contacts", "companies") == [("1", "2"), ("3", "4")]
    assert sandbox.store_pairs("0-3", "0-5") == [("10", "20")]


def drive_configurations(sandbox: Sandbox) -> dict[str, Any]:
    api = sdk_client(sandbox).crm.associations.v4.schema.definition_configurations_api
    create = BatchInputPublicAssociationDefinitionConfigurationCreateRequest(
        inputs=[
            PublicAssociationDefinitionConfigurationCreateRequest(
                category="USER_DEFINED", type_id=7, max_to_object_ids=5
            )
        ]
    )
    answers: dict[str, Any] = {
        "created": api.batch_create("contacts", "companies", create),
        "conflict": api.batch_create("contacts", "companies", create),
        "all": api.get_all(),
        "pair": api.get_all_between_two_object_types("contacts", "companies"),
    }
    update = BatchInputPublicAssociationDefinitionConfigurationUpdateRequest(
        inputs=[
            PublicAssociationDefinitionConfigurationUpdateRequest(
                category="USER_DEFINED", type_id=7, max_to_object_ids=9
            )
        ]
    )
    answers["updated"] = api.batch_update("contacts", "companies", update)
    purge = BatchInputPublicAssociationSpec(
        inputs=[PublicAssociationSpec(category="USER_DEFINED", type_id=7)]
    )
    answers["purged"] = api.batch_remove("contacts", "companies", purge)
    answers["after"] = api.get_all_between_two_object_types("0-1", "0-2")
    return answers


async def test_sdk_limit_configurations(sandbox: Sandbox) -> None:
    answers = await asyncio.to_thread(drive_configurations, sandbox)

    created = answers["created"]
    assert isinstance(created, BatchResponsePublicAssociationDefinitionUserConfiguration)
    assert created.status == "COMPLETE"
    assert created.results[0].type_id == 7
    assert created.results[0].user_enforced_max_to_object_ids == 5

    conflict = answers["conflict"]
    assert isinstance(conflict, BatchResponsePublicAssociationDefinitionUserConfigurationWithErrors)
    assert conflict.num_errors == 1 and conflict.results == []

    for key in ("all", "pair"):
        listing = answers[key]
        assert isinstance(
            listing, CollectionResponsePublicAssociationDefinitionUserConfigurationNoPaging
        )
        assert [(c.category, c.type_id) for c in listing.results] == [("USER_DEFINED", 7)]

    updated = answers["updated"]
    assert isinstance(updated, BatchResponsePublicAssociationDefinitionConfigurationUpdateResult)
    assert updated.results[0].user_enforced_max_to_object_ids == 9

    assert answers["purged"] is None  # v4 purge: 204, no body
    assert answers["after"].results == []
    assert sandbox.stats().configurations == 0


def drive_oauth(sandbox: Sandbox) -> dict[str, Any]:
    from hubspot.oauth.exceptions import ApiException as OAuthApiException

    credentials = sandbox.oauth_credentials
    tokens_api = hubspot.HubSpot(host=sandbox.url).oauth.tokens_api
    grant = tokens_api.create(
        grant_type="refresh_token",
        client_id=credentials.client_id,
        client_secret=credentials.client_secret,
        refresh_token=credentials.refresh_token,
    )
    try:
        tokens_api.create(
            grant_type="refresh_token",
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
            refresh_token="na1-revoked",
        )
    except OAuthApiException as exc:
        refused = exc
    else:  # pragma: no cover
        refused = None
    v4 = hubspot.HubSpot(access_token=grant.access_token, host=sandbox.url).crm.associations.v4
    single = v4.basic_api.create_default("deals", "10", "tickets", "20")
    return {"grant": grant, "refused": refused, "single": single}


async def test_sdk_refreshes_an_oauth_token(sandbox_factory: Any) -> None:
    sandbox = await sandbox_factory(oauth=True, oauth_only=True)
    answers = await asyncio.to_thread(drive_oauth, sandbox)
    grant = answers["grant"]
    assert grant.token_type == "bearer" and grant.expires_in == 1800
    assert grant.refresh_token == sandbox.oauth_credentials.refresh_token
    assert answers["refused"] is not None and answers["refused"].status == 400
    assert '"BAD_REFRESH_TOKEN"' in answers["refused"].body
    assert isinstance(answers["single"], BatchResponsePublicDefaultAssociation)
    assert sandbox.stats().oauth_refreshes == 1
