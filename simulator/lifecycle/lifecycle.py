"""The device lifecycle: one implementation of what every plan step does, for both executors.

An executor walks the plan and calls `apply(step)` when the step's time comes; it calls the
input methods (`opened`, `failed`, `closed`, `received`, `pulled`, `tick`) when its transport
has news for a client. After every input the lifecycle drains the client (`pump`): frames go
to the transport, connection wishes become transport calls, observations become history rows,
and the client's next deadline is handed to the transport to arm. So the only differences
between a simulated and a live run are how time passes and how frames travel.

A crash is armed by its step and happens at the device's next outbox drain: the frames before
the halfway mark leave (and arrive, since the page's socket closes gracefully behind them),
the rest never leave, then the page reloads. A scripted crash may instead come before the
drain sends anything, or once it has sent everything.

Scripted steps name their items: a create gives its name the id the client chose, kept for the
run in `items`, and a later step finds the id by the name. A step that cannot be carried out
(its item never created or not held by its device, no backfill prompt pending) is a
`step_skipped` row, never an error: what a device holds is only known when the step runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from simulator.history import History, Kind, Record
from simulator.lifecycle.runtime import DeviceRuntime
from simulator.lifecycle.transport import Transport
from simulator.plan import actions as a
from simulator.plan.actions import Step
from simulator.protocol.codec import BadFrame, Frame, decode
from simulator.protocol.entities import PIECE_STATUSES
from simulator.protocol.events import (
    ClientOutput,
    CloseConnection,
    OpenConnection,
    QueueEvent,
    RestPull,
    Send,
    UserWrite,
)
from simulator.protocol.kinds import ENTRY, PIECE
from simulator.protocol.timefmt import iso_z
from simulator.recording import frame_fields, observe, row
from simulator.scenario.loader import Loaded
from simulator.scenario.references import fill_text
from simulator.workload.catalogue import build_catalogue
from simulator.workload.user import UserAct, perform

BOTH_WAYS = frozenset({"up", "down"})


class Lifecycle:
    def __init__(
        self, loaded: Loaded, transport: Transport, history: History, keepalive: bool = True
    ) -> None:
        """`keepalive` False: the clients send no PINGs of their own; the transport accounts
        for them (the simulation, sim/keepalive.py)."""
        scenario = loaded.scenario
        self.loaded = loaded
        self.transport = transport
        self.history = history
        self.start_epoch = scenario.start
        catalogue = build_catalogue(random.Random(f"{scenario.seed}:catalogue"))
        self.catalogue = catalogue
        self.devices = {
            spec.name: DeviceRuntime(spec, scenario.seed, loaded.profile, catalogue, keepalive)
            for spec in scenario.devices
        }
        self._hot: dict[tuple[int, int], str | None] = {}  # the entry each burst chose
        # A scripted item's name -> (entity type, id), from when its create step ran.
        self.items: dict[str, tuple[str, str]] = {}
        self.applied: list[Step] = []
        # What named steps sent, for a `replay`: the text each last put on the wire; the
        # write a named user act made, whose frames are caught as the client sends them.
        self.sent_texts: dict[str, str] = {}
        self._watched: dict[str, str] = {}  # write id -> step name
        self._tags: dict[str, dict[str, str]] = {}  # write id -> step and item, for its row

    # -- time and recording -----------------------------------------------------------

    def record(self, kind: Kind, device: DeviceRuntime | None = None, **fields: Any) -> int:
        t = self.transport.now()
        reading = None if device is None else device.clock.read(t)
        return self.history.add(row(t, kind, device, reading, **fields))

    def meta(self, detail: dict[str, Any]) -> None:
        self.history.add(Record(t=0.0, kind=Kind.META, detail=detail))

    def device_now(self, device: DeviceRuntime) -> float:
        """The device's clock reading as epoch seconds: the `now` its client is given."""
        return self.start_epoch + device.clock.read(self.transport.now())

    def server_now(self) -> float:
        return self.start_epoch + self.transport.now()

    # -- plan steps -------------------------------------------------------------------

    def apply(self, step: Step) -> None:
        self.applied.append(step)
        device = None if step.device is None else self.devices[step.device]
        _STEPS[type(step.action)](self, device, step.action)

    def _start(self, device: DeviceRuntime, _: a.Start) -> None:
        device.joined = True
        device.client.online = device.online
        device.client.start(self.device_now(device))
        self.pump(device)

    def _set_online(self, device: DeviceRuntime, step: a.SetOnline) -> None:
        """The browser's offline/online event; `nudge` fires it even when already online."""
        online = step.online
        if device.online == online and not step.nudge:
            return
        if device.online != online:
            device.online = online
            self.record(Kind.NETWORK, device, op="online" if online else "offline")
        if not device.joined:
            return
        if not online:
            self.transport.cut(device, "network offline")
        device.client.network_changed(online, self.device_now(device))
        self.pump(device)

    def _partition(self, device: DeviceRuntime, step: a.Partition) -> None:
        self.record(
            Kind.PARTITION,
            device,
            op="start" if step.on else "end",
            reason=",".join(sorted(step.directions)),
        )
        blocked = device.blocked
        now = self.transport.now()
        device.set_blocked(now, blocked | step.directions if step.on else blocked - step.directions)

    def _break(self, device: DeviceRuntime, _: a.BreakIfPartitioned) -> None:
        if device.blocked == BOTH_WAYS and self.transport.connected(device):
            self.transport.cut(device, "partition")

    def _drop(self, device: DeviceRuntime, _: a.Drop) -> None:
        self.transport.cut(device, "connection dropped")

    def _reload(self, device: DeviceRuntime, _: a.Reload) -> None:
        self.reload(device)

    def reload(self, device: DeviceRuntime, *, crash: bool = False) -> None:
        if not device.joined:
            return
        self.record(
            Kind.RELOAD,
            device,
            reason="crash" if crash else None,
            detail={"queue_depth": len(device.client.queue)},
        )
        device.client.reload(self.device_now(device))
        self.pump(device)

    def _arm_crash(self, device: DeviceRuntime, step: a.ArmCrash) -> None:
        device.crash_pending = step

    def _wipe(self, device: DeviceRuntime, _: a.Wipe) -> None:
        if not device.joined:
            return
        client = device.client
        self.record(
            Kind.WIPE,
            device,
            detail={"entries": len(client.entries), "pieces": len(client.pieces)},
        )
        client.wipe(self.device_now(device))
        self.pump(device)

    def _act(self, device: DeviceRuntime, act: UserAct) -> None:
        if not device.joined:
            return
        messy = device.spec.workload.messy_spelling_ratio
        perform(act, device.client, device.writer, self.device_now(device), messy)
        self.pump(device)

    def _hot_burst(self, _: None, step: a.HotBurst) -> None:
        joined = [self.devices[n] for n in step.devices if self.devices[n].joined]
        self._hot[(step.index, step.number)] = None
        if len(joined) < 2:
            return
        shared = set.intersection(*(set(d.client.entries) for d in joined))
        if shared:
            choice = random.Random(step.seed).choice(sorted(shared))
            self._hot[(step.index, step.number)] = choice
            return
        first = joined[0]
        now = self.device_now(first)
        first.writer.reseed(step.seed)
        first.client.create_entry(first.writer.new_entry(now), now)
        self.pump(first)

    def _hot_edit(self, device: DeviceRuntime, step: a.HotEdit) -> None:
        entry_id = self._hot.get((step.index, step.number))
        if entry_id is None or not device.joined or entry_id not in device.client.entries:
            return
        device.writer.reseed(step.seed)
        device.client.update_entry(entry_id, device.writer.edit(), self.device_now(device))
        self.pump(device)

    def _skip(self, device: DeviceRuntime, do: str, reason: str, item: str | None = None) -> None:
        named = self.items.get(item) if item is not None else None
        self.record(
            Kind.STEP_SKIPPED,
            device,
            op=do,
            entity_type=None if named is None else named[0],
            entity_id=None if named is None else named[1],
            reason=reason,
            detail=None if item is None else {"item": item},
        )

    def _scripted(self, device: DeviceRuntime, act: a.ScriptedAct) -> None:
        if not device.joined:
            self._skip(device, act.do, "the device has not joined", act.item)
            return
        client, writer, now = device.client, device.writer, self.device_now(device)
        writer.reseed(act.seed)
        fields = dict(act.fields)
        before = client.last_write_id
        if act.do == "create":
            entry_id = client.create_entry({**writer.new_entry(now), **fields}, now)
            if act.item is not None:
                self.items[act.item] = (ENTRY, entry_id)
        elif act.do == "add_piece":
            assert act.title is not None  # the loader requires it
            status = act.status or writer.rng.choice(sorted(PIECE_STATUSES - {"archived"}))
            score_id = client.add_piece(act.title, act.composer, status, now)
            if act.item is not None:
                self.items[act.item] = (PIECE, score_id)
        else:
            assert act.item is not None  # the loader requires it
            named = self.items.get(act.item)
            if named is None:
                self._skip(device, act.do, "its item was never created", act.item)
                return
            entity_type, entity_id = named
            if entity_id not in client.storage.store_of(entity_type):
                self._skip(device, act.do, "the device does not hold its item", act.item)
                return
            if act.do == "update":
                client.update_entry(entity_id, fields or writer.edit(), now)
            elif act.do == "delete":
                client.delete_entry(entity_id, now)
            elif act.do == "update_piece":
                client.update_piece(entity_id, fields or {"status": writer.status()}, now)
            else:
                client.remove_piece(entity_id, now)
        if client.last_write_id != before and client.last_write_id is not None:
            self._named_write(client.last_write_id, act)
        self.pump(device)

    def _named_write(self, write_id: str, act: a.ScriptedAct) -> None:
        """A scripted act's write: its row says which step and item made it, and a named
        step's frames are kept for a replay."""
        tag = {k: v for k, v in (("step", act.name), ("item", act.item)) if v is not None}
        if tag:
            self._tags[write_id] = tag
        if act.name is not None:
            self._watched[write_id] = act.name

    # -- wire-level steps ---------------------------------------------------------------

    def _resolve(self, device: DeviceRuntime, reference: str) -> str:
        """What a `{{...}}` reference stands for now; `KeyError` when its item was never
        made (its create step was skipped)."""
        if reference == "now":
            return iso_z(self.device_now(device))
        if reference == "user":
            return device.user
        if reference == "device":
            return device.name
        return self.items[reference.split(".")[1]][1]

    def _wire_send(self, device: DeviceRuntime, step: a.WireSend) -> None:
        try:
            text = fill_text(step.template, lambda ref: self._resolve(device, ref))
        except KeyError as error:
            self._skip(device, "send", f"its item {error.args[0]!r} was never created")
            return
        self._put(device, step.name, "send", text)

    def _replay(self, device: DeviceRuntime, step: a.Replay) -> None:
        text = self.sent_texts.get(step.target)
        if text is None:
            self._skip(device, "replay", f"step {step.target!r} has sent nothing to replay")
            return
        self._put(device, step.name, "replay", text)

    def _put(self, device: DeviceRuntime, name: str | None, do: str, text: str) -> None:
        """A frame a step writes straight onto the device's open connection, past its client."""
        if not device.joined or not self.transport.connected(device):
            self._skip(device, do, "no open connection")
            return
        self.transport.send(device, Send(decode(text), text, None, name or do))
        if name is not None:
            self.sent_texts[name] = text

    def _handshake(self, device: DeviceRuntime, step: a.Handshake) -> None:
        self.transport.handshake(device, step.token, step.name or "connect")

    def _rest_call(self, device: DeviceRuntime, step: a.RestCall) -> None:
        body = step.body
        if body is not None:
            try:
                body = fill_text(body, lambda ref: self._resolve(device, ref))
            except KeyError as error:
                self._skip(device, step.op, f"its item {error.args[0]!r} was never created")
                return
        self.transport.rest_call(device, step.op, body, step.key, step.name or step.op)

    def _accept_backfill(self, device: DeviceRuntime, _: a.AcceptBackfill) -> None:
        if not device.joined or not device.client.confirm_backfill(self.device_now(device)):
            self._skip(device, "accept_backfill", "no backfill prompt is pending")
            return
        self.pump(device)

    def _server(self, _: None, step: a.ServerDown | a.ServerUp) -> None:
        self.transport.switch_server(isinstance(step, a.ServerUp))

    def _intercept(self, device: DeviceRuntime, step: a.Intercept) -> None:
        device.interceptor, device.intercepted = step.interceptor, 0

    # -- what the client wants --------------------------------------------------------

    def pump(self, device: DeviceRuntime) -> None:
        outputs = device.client.drain()
        if device.crash_pending is not None and any(
            isinstance(o, QueueEvent) and o.op == "send" for o in outputs
        ):
            self._crash(device, outputs)
            return
        for output in outputs:
            self._output(device, output)
        self.transport.arm(device, device.client.next_deadline())

    def _output(self, device: DeviceRuntime, output: ClientOutput) -> None:
        if isinstance(output, Send):
            if output.write_id in self._watched:
                self.sent_texts[self._watched[output.write_id]] = output.text
            self.transport.send(device, output)
        elif isinstance(output, OpenConnection):
            self.transport.open(device, output.attempt)
        elif isinstance(output, CloseConnection):
            self.transport.close(device, output.attempt)
        elif isinstance(output, RestPull):
            self.transport.rest_pull(device)
        elif isinstance(output, UserWrite):
            observe(self, device, output, self._tags.pop(output.write_id, None))
        else:
            observe(self, device, output)

    def _crash(self, device: DeviceRuntime, outputs: list[ClientOutput]) -> None:
        """The page dies while draining its outbox (before sending, halfway, or once it has
        sent everything): the frames past that point never leave."""
        assert device.crash_pending is not None
        when, device.crash_pending = device.crash_pending.when, None
        sends = [i for i, o in enumerate(outputs) if isinstance(o, Send)]
        sent = {"before": 0, "after": len(sends)}.get(when or "during", len(sends) // 2)
        cut = sends[sent] if sent < len(sends) else len(outputs)
        for index, output in enumerate(outputs):
            if index >= cut and isinstance(output, Send):
                fields = frame_fields(output.text, output.write_id, output.frame)
                self.record(Kind.FRAME_LOST, device, **{**fields, "reason": "crash", "op": "up"})
            else:
                self._output(device, output)
        self.record(
            Kind.CRASH,
            device,
            detail={
                "sent": sent,
                "unsent": len(sends) - sent,
                **({} if when is None else {"when": when}),
            },
        )
        self.reload(device, crash=True)

    # -- news from the transport ------------------------------------------------------

    def tick(self, device: DeviceRuntime) -> None:
        device.client.tick(self.device_now(device))
        self.pump(device)

    def opened(self, device: DeviceRuntime, attempt: int) -> None:
        device.client.connection_opened(self.device_now(device), attempt)
        self.pump(device)

    def failed(self, device: DeviceRuntime, attempt: int) -> None:
        device.client.connection_failed(self.device_now(device), attempt)
        self.pump(device)

    def closed(self, device: DeviceRuntime, attempt: int) -> None:
        device.client.connection_closed(self.device_now(device), attempt)
        self.pump(device)

    def received(self, device: DeviceRuntime, text: str | bytes) -> None:
        device.client.receive(text, self.device_now(device))
        self.pump(device)

    def pulled(self, device: DeviceRuntime, body: dict[str, Any] | None) -> None:
        device.client.rest_pull_done(body, self.device_now(device))
        self.pump(device)

    def intercept(self, device: DeviceRuntime, frame: Frame | BadFrame) -> Frame | None:
        """The answer the device's interceptor gives in the server's place, if any (text that
        is no frame goes on to the server, which answers it)."""
        interceptor = device.interceptor
        if interceptor is None or isinstance(frame, BadFrame) or not interceptor.counts(frame):
            return None
        device.intercepted += 1
        return interceptor.answer(frame, device.intercepted, self.server_now())


_STEPS: dict[type, Callable[[Lifecycle, Any, Any], None]] = {
    a.Start: Lifecycle._start,
    a.SetOnline: Lifecycle._set_online,
    a.Partition: Lifecycle._partition,
    a.BreakIfPartitioned: Lifecycle._break,
    a.Drop: Lifecycle._drop,
    a.Reload: Lifecycle._reload,
    a.ArmCrash: Lifecycle._arm_crash,
    a.Wipe: Lifecycle._wipe,
    UserAct: Lifecycle._act,
    a.HotBurst: Lifecycle._hot_burst,
    a.HotEdit: Lifecycle._hot_edit,
    a.ScriptedAct: Lifecycle._scripted,
    a.AcceptBackfill: Lifecycle._accept_backfill,
    a.ServerDown: Lifecycle._server,
    a.ServerUp: Lifecycle._server,
    a.Intercept: Lifecycle._intercept,
    a.WireSend: Lifecycle._wire_send,
    a.Replay: Lifecycle._replay,
    a.Handshake: Lifecycle._handshake,
    a.RestCall: Lifecycle._rest_call,
}
