from __future__ import annotations

from rabota_common.store import UNINSTALLED_REASON, HhAccount, PortalRecord, Store

from tests.integration.store.support import P1, P2, all_values


async def test_account_sealed_and_webhook_account_without_decryption(store: Store) -> None:
    await store.save_hh(P1, HhAccount(access_token="HH-AT", refresh_token="HH-RT", user_id="u1",
                                      subscription_id="s1", is_admin=True))
    assert b"HH-AT" not in await all_values(store.redis)
    account = await store.get_hh(P1)
    assert account is not None and account.is_admin and account.access_token == "HH-AT"
    assert await store.webhook_account(P1) == ("s1", "u1")
    await store.update_hh(P1, relogin_required=True)
    assert (await store.get_hh(P1) or account).relogin_required


async def test_one_portal_per_account_and_takeover_from_an_uninstalled_portal(store: Store) -> None:
    for portal in (P1, P2):
        await store.save_portal(PortalRecord(member_id=portal, domain="d", client_endpoint="e"))
    await store.save_hh(P1, HhAccount(access_token="a", user_id="u1"))
    assert await store.claim_hh_account("u1", P1) is None
    assert await store.claim_hh_account("u1", P2) == P1  # held by a live portal
    await store.update_portal(P1, status_reason=UNINSTALLED_REASON)
    assert await store.claim_hh_account("u1", P2) is None  # the removed portal lets it go, with its tokens
    assert await store.hh_account_owner("u1") == P2 and await store.get_hh(P1) is None
    await store.release_hh_account(P1, "u1")  # not P1's: nothing happens
    assert await store.hh_account_owner("u1") == P2
    await store.release_hh_account(P2, "u1")
    assert await store.hh_account_owner("u1") is None


async def test_last_account_view_limit_and_relogin_notice(store: Store) -> None:
    assert await store.last_hh(P1) is None
    await store.remember_last_hh(P1, HhAccount(user_id="u1", employer_id="e1"))
    assert await store.last_hh(P1) == ("u1", "e1")
    assert not await store.view_limit_reached(portal=P1)
    await store.set_view_limit(portal=P1, ttl_s=0)  # at least a second, never an error
    assert await store.view_limit_reached(portal=P1)
    assert 0 < await store.redis.ttl(store.key(P1, "view-limit")) <= 1
    assert await store.claim_relogin_notice(portal=P1)
    assert not await store.claim_relogin_notice(portal=P1)
    await store.clear_relogin_notice(portal=P1)
    assert await store.claim_relogin_notice(portal=P1)
