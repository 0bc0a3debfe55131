"""The chat ledger (rabota_common.store.chats) against a real Redis: what it remembers, that it keeps no message
text, and that a CLEAN uninstall wipes every chat key of the portal and nothing of another's."""

from __future__ import annotations

from rabota_common.store import PortalRecord, Store

from tests.integration.store.support import P1, P2, all_values


async def _fill(store: Store, portal: str) -> None:
    await store.link_chats(portal, {"5000000001": "1000000001"})
    await store.mark_chat_message_delivered(portal, "5000000001", "7000000001")
    await store.note_chat_last_in(portal, "5000000001", "7000000001")
    await store.mark_chat_reply_pending(portal, "5000000001", ["Секретный ответ соискателю"], 42)
    await store.record_chat_reply(portal, "5000000001", 42, "7000000002")
    assert await store.claim_chat_tie(portal, "5000000001")
    await store.remember_chat_dialogue(portal, "5000000001", 1, 17)


async def test_chat_ledger_and_clean_wipe(store: Store) -> None:
    for member in (P1, P2):
        await store.save_portal(PortalRecord(member_id=member, domain=member[:4], client_endpoint="e"))
        await _fill(store, member)
    assert await store.chat_negotiation(P1, "5000000001") == "1000000001"
    assert await store.chat_message_delivered(P1, "5000000001", "7000000001")
    assert await store.chat_message_delivered(P1, "5000000001", "7000000002")  # our own reply: never shown again
    assert not await store.chat_message_delivered(P1, "5000000001", "7000000003")
    assert await store.chat_reply_posted(P1, 42) == "7000000002" and await store.chat_reply_posted(P1, 43) is None
    assert await store.pending_chat_reply(P1, "5000000001", "Секретный ответ соискателю") == 42
    assert await store.pending_chat_reply(P1, "5000000002", "Секретный ответ соискателю") is None
    assert await store.chat_last_in(P1, "5000000001") == "7000000001"
    assert not await store.claim_chat_tie(P1, "5000000001")  # once per chat
    await store.release_chat_tie(P1, "5000000001")
    assert await store.claim_chat_tie(P1, "5000000001")

    # The card's «Написать» (issue 18 item 6): negotiation → chat, and the dialogue the chat became on a line.
    assert await store.negotiation_chat(P1, "1000000001") == "5000000001"
    assert await store.negotiation_chat(P1, "1000000002") is None
    assert await store.chat_dialogue(P1, "5000000001", 1) == 17
    assert await store.chat_dialogue(P1, "5000000001", 2) is None  # another line: not that dialogue
    assert await store.chat_dialogue(P1, "5000000002", 1) is None
    await store.remember_chat_dialogue(P1, "5000000001", 2, 0)  # no dialogue id in the answer: nothing learnt
    await store.remember_chat_dialogue(P1, "5000000001", 2, 23)  # the admin chose line 2 since
    assert await store.chat_dialogue(P1, "5000000001", 2) == 23
    assert await store.chat_dialogue(P1, "5000000001", 1) is None

    dump = await all_values(store.redis)
    assert "Секретный".encode() not in dump and b"7000000001" in dump

    await store.wipe_portal(P1)
    assert [k async for k in store.redis.scan_iter(match=f"rs:{P1}:*")] == []
    assert await store.chat_negotiation(P2, "5000000001") == "1000000001"
    assert await store.chat_message_delivered(P2, "5000000001", "7000000001")
