"""The person behind a stored message: her row, made with her first message, and the Rasa ids she is given."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.store.erase import erased_since, tombstone_key
from bot.store.models import Erasure, RasaSenderId, User
from bot.store.records import NewMessage, new_sender_id

# Built once, with its compiled form cached by SQLAlchemy: it runs for every message.
USER_BY_KEY = select(User).where(
    User.channel == bindparam("channel"), User.channel_user_key == bindparam("key")
)


def user_for(session: Session, rec: NewMessage) -> User | None:
    """The sender's row (created for her first message), None when the record is older than her
    erasure. A Rasa id the record carries that is not her row's (one made while the database was away)
    is recorded, so erasing her erases it too."""
    user = session.scalars(USER_BY_KEY, {"channel": rec.channel, "key": rec.user_key}).first()
    if (user is None or rec.created_at < user.created_at) and erased_since(
        session, tombstone_key("person", rec.channel, rec.user_key), rec.created_at
    ):
        return None
    if user is None:
        sender_id = rec.rasa_sender_id
        if session.get(Erasure, tombstone_key("rasa", sender_id)) is not None:
            sender_id = new_sender_id()  # an erased person's id is never given again
        user = User(
            channel=rec.channel,
            channel_user_key=rec.user_key,
            rasa_sender_id=sender_id,
            first_name=rec.first_name,
            created_at=rec.created_at,
            last_seen_at=rec.created_at,
        )
        session.add(user)
        session.flush()
        return user
    if rec.rasa_sender_id != user.rasa_sender_id and session.get(RasaSenderId, rec.rasa_sender_id) is None:
        session.add(RasaSenderId(sender_id=rec.rasa_sender_id, user_id=user.id, created_at=rec.created_at))
    if rec.direction == "in":
        user.last_seen_at = max(user.last_seen_at, rec.created_at)
        if rec.first_name:
            user.first_name = rec.first_name
    return user
