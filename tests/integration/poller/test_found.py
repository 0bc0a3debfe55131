"""Publishing a found negotiation: live ones to the mapper's live subject, walks to the bulk one, one message per
negotiation and state (JetStream drops copies), and the negotiation's chat remembered."""

from __future__ import annotations

from rabota_common import subjects
from rabota_common.models import NegotiationFound
from rabota_common.runtime import Runtime
from rabota_poller.found import publish_found

from tests.integration.poller.support import P1, last_found


async def test_live_and_bulk_go_to_their_subjects_once(bus_rt: Runtime) -> None:
    live = NegotiationFound(portal=P1, negotiation_id="1", vacancy_id="9", source="poll", employer_state="response",
                            item={"id": "1", "chat_id": "4001"})
    await publish_found(bus_rt, live, new_trace=True)
    bulk = live.model_copy(update={"negotiation_id": "2", "source": "import", "import_id": "imp1", "item": None})
    await publish_found(bus_rt, bulk, new_trace=True, bulk=True)
    assert (await last_found(bus_rt)) == live
    assert (await last_found(bus_rt, subjects.HH_NEGOTIATION_IMPORT)) == bulk
    assert await bus_rt.store.chat_negotiation(P1, "4001") == "1"
    # The same negotiation in the same state again: dropped by its message id.
    js = bus_rt.broker.connection.jetstream()
    stream = subjects.stream_of(subjects.subject(subjects.HH_NEGOTIATION, portal=P1))
    before = (await js.stream_info(stream)).state.messages
    await publish_found(bus_rt, live, new_trace=False)
    assert (await js.stream_info(stream)).state.messages == before
    await publish_found(bus_rt, live.model_copy(update={"employer_state": "interview"}), new_trace=False)
    assert (await js.stream_info(stream)).state.messages == before + 1
