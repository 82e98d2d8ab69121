"""A mutation frame read as the change it asks for: the protocol's data rules in one place.

The reference server validates what it is sent with these rules; the checker judges a frame a
probe sent with the same rules (the `validation` server rule), without any server code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.protocol.codec import Frame, FrameType
from simulator.protocol.entities import Invalid, require_id
from simulator.protocol.kinds import kind, kind_of_frame

__all__ = ["Change", "validate"]


@dataclass(frozen=True)
class Change:
    """A validated mutation, ready to store."""

    type: FrameType
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    deleted: bool

    def body(self) -> dict[str, Any]:
        owner = kind(self.entity_type)
        return owner.delete_body(self.entity_id) if self.deleted else owner.write_body(self.data)


def validate(frame: Frame) -> Change:
    """The change a mutation frame asks for, or `Invalid` saying why it is refused."""
    type_ = frame.type
    owner = kind_of_frame(type_)
    if owner is None:
        raise Invalid(f"type: {type_.value} is not a mutation")
    if type_ in owner.writes:
        item = owner.clean(frame.get(owner.body))
        return Change(type_, owner.name, str(owner.key(item)), item, False)
    entity_id = require_id(frame.fields, owner.delete_id)
    return Change(type_, owner.name, entity_id, {}, True)
