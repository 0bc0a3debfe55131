"""Chats with applicants in an Open Line (DESIGN F15): which negotiation a HeadHunter chat belongs to (both ways),
the Open Line dialogue each chat became, which HeadHunter messages reached the Open Line, and the message ledger of
operators' replies.

Every key is per portal and kept in the portal's index (a CLEAN uninstall wipes them). Values are ids only: no
text of a message is ever stored (a reply being posted is known by its text's digest)."""

from __future__ import annotations

import hashlib
from typing import Any

from rabota_common.store._base import StoreBase, text

# How long the ids of delivered messages are remembered: far beyond any redelivery (webhook retries, JetStream
# redeliveries, reconciliation); an older message id comes back only by replay.
CHAT_SEEN_TTL_S = 90 * 24 * 3600
# A reply being posted: long enough for any redelivery of it (JetStream's ack wait, a restart).
CHAT_PENDING_TTL_S = 24 * 3600


def chat_digest(portal: str, chat_id: str, text_: str) -> str:
    """What identifies a reply's text while it is being posted, without keeping the text."""
    return hashlib.sha256(f"{portal}\x00{chat_id}\x00{text_}".encode()).hexdigest()[:32]


def chat_lock_name(portal: str, chat_id: str) -> str:
    """One writer per chat (`Store.lock`): an operator's reply is posted and recorded before the webhook of the
    same message is looked at."""
    return f"chat:{portal}:{chat_id}"


class ChatsStore(StoreBase):
    def _chat_key(self, portal: str, *parts: str) -> str:
        return self.key(portal, "chat", *parts)

    async def _tracked_chat_key(self, portal: str, *parts: str) -> str:
        key = self._chat_key(portal, *parts)
        await self.track(portal, key)
        return key

    # -- chat ↔ negotiation ------------------------------------------------------------------------
    async def link_chats(self, portal: str, links: dict[str, str]) -> None:
        """HeadHunter chat id → negotiation id, as the negotiations name their `chat_id` (and back: the card's
        «Написать» finds the chat of its negotiation)."""
        if links:
            key = await self._tracked_chat_key(portal, "negotiation")
            back = await self._tracked_chat_key(portal, "by-negotiation")
            mapping: dict[Any, Any] = dict(links)
            pipe = self.redis.pipeline(transaction=True)
            pipe.hset(key, mapping=mapping)
            pipe.hset(back, mapping={nid: chat_id for chat_id, nid in links.items()})
            await pipe.execute()

    async def chat_negotiation(self, portal: str, chat_id: str) -> str | None:
        value = await self.redis.hget(self._chat_key(portal, "negotiation"), chat_id)
        return text(value) if value else None

    async def negotiation_chat(self, portal: str, negotiation_id: str) -> str | None:
        """The HeadHunter chat of a negotiation, when the poller has seen the negotiation name it."""
        value = await self.redis.hget(self._chat_key(portal, "by-negotiation"), negotiation_id)
        return text(value) if value else None

    # -- chat ↔ Open Line dialogue ----------------------------------------------------------------
    async def remember_chat_dialogue(self, portal: str, chat_id: str, line: int, im_chat_id: int) -> None:
        """The Open Line chat (`im_chat_id`, the dialogue's `chat{id}`) a HeadHunter chat became on `line`, as
        imconnector.send.messages answers it. Kept like the chat ↔ negotiation link (while installed): a dialogue
        lives as long as its line."""
        if im_chat_id > 0:
            key = await self._tracked_chat_key(portal, "dialogue")
            await self.redis.hset(key, chat_id, f"{int(line)}:{int(im_chat_id)}")

    async def chat_dialogue(self, portal: str, chat_id: str, line: int) -> int | None:
        """The Open Line chat of a HeadHunter chat on `line`; None when unknown or known only on another line (the
        admin chose another line since: the chat's next message opens a new dialogue there)."""
        value = await self.redis.hget(self._chat_key(portal, "dialogue"), chat_id)
        stored_line, _, im_chat_id = text(value).partition(":") if value else ("", "", "")
        return int(im_chat_id) if stored_line == str(int(line)) and im_chat_id.isdigit() else None

    # -- applicant → line --------------------------------------------------------------------------
    async def chat_message_delivered(self, portal: str, chat_id: str, message_id: str) -> bool:
        """The HeadHunter message already reached the line (or is our own reply coming back)."""
        return bool(await self.redis.sismember(self._chat_key(portal, "seen", chat_id), message_id))

    async def mark_chat_message_delivered(self, portal: str, chat_id: str, message_id: str) -> None:
        key = await self._tracked_chat_key(portal, "seen", chat_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.sadd(key, message_id)
        pipe.expire(key, CHAT_SEEN_TTL_S)
        await pipe.execute()

    async def claim_chat_tie(self, portal: str, chat_id: str) -> bool:
        """The first to claim a chat ties its dialogue to the applicant's CRM entity (once)."""
        key = await self._tracked_chat_key(portal, "tied")
        return bool(await self.redis.sadd(key, chat_id))

    async def release_chat_tie(self, portal: str, chat_id: str) -> None:
        await self.redis.srem(self._chat_key(portal, "tied"), chat_id)

    async def note_chat_last_in(self, portal: str, chat_id: str, message_id: str) -> None:
        """The applicant's latest message that reached the line: marked read on HeadHunter when an operator
        answers (an operator who answers has read what came before)."""
        key = await self._tracked_chat_key(portal, "last-in")
        await self.redis.hset(key, chat_id, message_id)

    async def chat_last_in(self, portal: str, chat_id: str) -> str | None:
        value = await self.redis.hget(self._chat_key(portal, "last-in"), chat_id)
        return text(value) if value else None

    # -- line → applicant --------------------------------------------------------------------------
    async def chat_reply_posted(self, portal: str, im_message_id: int) -> str | None:
        """The HeadHunter message id an operator's Bitrix24 message became, once posted."""
        value = await self.redis.hget(self._chat_key(portal, "replies"), str(im_message_id))
        return text(value) if value else None

    async def record_chat_reply(self, portal: str, chat_id: str, im_message_id: int, hh_message_id: str) -> None:
        """Bitrix24 message → HeadHunter message; the HeadHunter copy counts as delivered, so its webhook (our own
        message coming back) never reappears in the line."""
        seen = await self._tracked_chat_key(portal, "seen", chat_id)
        replies = await self._tracked_chat_key(portal, "replies")
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(replies, str(im_message_id), hh_message_id)
        pipe.sadd(seen, hh_message_id)
        pipe.expire(seen, CHAT_SEEN_TTL_S)
        await pipe.execute()

    async def mark_chat_reply_pending(self, portal: str, chat_id: str, texts: list[str], im_message_id: int) -> None:
        """A reply about to be posted: should its HeadHunter copy's webhook be looked at before the reply is recorded
        (the poller posting it was killed in between), the text's digest tells it is ours."""
        key = await self._tracked_chat_key(portal, "pending", chat_id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={chat_digest(portal, chat_id, t): str(im_message_id) for t in texts})
        pipe.expire(key, CHAT_PENDING_TTL_S)
        await pipe.execute()

    async def pending_chat_reply(self, portal: str, chat_id: str, text_: str) -> int | None:
        value = await self.redis.hget(self._chat_key(portal, "pending", chat_id), chat_digest(portal, chat_id, text_))
        return int(text(value)) if value else None
