"""Data keys and KEK versions: move every stored data key to the newest KEK, retire an old one.

A KEK is destroyed only when no stored data key is wrapped by it: ``retire`` counts them under the
exclusive KEK lock, which waits for every transaction that wrapped a data key (shared lock) to end.
Wraps read the newest version only once they hold the lock, and every process sees a rotation at
its next wrap (the keyring re-reads its file), so nothing can be wrapped by a KEK being retired.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from sqlalchemy import func, select

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto.errors import CryptoError
from ..errors import ConflictError, IntegrityFailure, InvalidError
from ..extensions import db, keyring
from . import sealing
from .models import FormDraft, FormKey


def rewrap(actor: Actor, batch: int = 500) -> int:
    """Move every data key to the newest KEK, a committed batch at a time (so it can resume); return how many."""
    moved = 0
    while True:
        sealing.hold_keys()
        current = keyring().current_kek_version
        # FOR UPDATE: a form shredded meanwhile must not get its key back from this batch
        keys = list(db.session.scalars(
            select(FormKey).where(FormKey.kek_version != current, FormKey.wrapped_dek.is_not(None))
            .order_by(FormKey.form_id).limit(batch).with_for_update()))
        drafts = list(db.session.scalars(select(FormDraft).where(FormDraft.kek_version != current)
                                         .order_by(FormDraft.id).limit(batch).with_for_update()))
        if not keys and not drafts:
            db.session.rollback()
            if not moved:  # nothing to move is an operator's run all the same: the log says it happened
                audit.record(actor, AuditAction.KEYS_REWRAP, "allowed", resource=f"kek:{current}", reason="moved:0")
                db.session.commit()
            return moved
        for key in keys:
            dek = _opened(partial(sealing.open_key, key), f"form:{key.form_id}")
            key.kek_version, key.wrapped_dek = keyring().wrap_dek(dek, f"form:{key.form_id}")
        for draft in drafts:
            dek = _opened(partial(sealing.unwrap_stored, draft, f"draft:{draft.id}"), f"draft:{draft.id}")
            draft.kek_version, draft.wrapped_dek = keyring().wrap_dek(dek, f"draft:{draft.id}")
        audit.record(actor, AuditAction.KEYS_REWRAP, "allowed", resource=f"kek:{current}",
                     reason=f"moved:{len(keys) + len(drafts)}")
        db.session.commit()
        moved += len(keys) + len(drafts)


def _opened(unwrap: Callable[[], bytes], resource: str) -> bytes:
    """A stored data key, unwrapped; one that does not unwrap is an integrity failure, not a crash."""
    try:
        return unwrap()
    except CryptoError:
        raise IntegrityFailure("a stored data key does not unwrap with its KEK (the audit log names its record)",
                               reason="integrity", resource=resource, action=AuditAction.KEYS_REWRAP) from None


def wrapped_by(version: int) -> int:
    """How many stored data keys (forms' and drafts') KEK ``version`` wraps."""
    forms = select(func.count()).select_from(FormKey).where(FormKey.kek_version == version,
                                                            FormKey.wrapped_dek.is_not(None))
    drafts = select(func.count()).select_from(FormDraft).where(FormDraft.kek_version == version)
    return int(db.session.scalar(forms) or 0) + int(db.session.scalar(drafts) or 0)


def retire(actor: Actor, version: int) -> None:
    """Destroy KEK ``version``; refuse, naming the count, while any stored data key is wrapped by it."""
    ring = keyring()
    resource = f"kek:{version}"
    action = AuditAction.KEYS_RETIRE  # a refusal names it: the door's boundary audits it
    if version not in ring.kek_versions:
        raise InvalidError(f"KEK version {version} is not in the keyring (retired already?)", reason="unknown_kek",
                           resource=resource, action=action)
    sealing.hold_keys(exclusive=True)
    if version == ring.current_kek_version:
        raise InvalidError("the newest KEK cannot be retired: run `nrm-api keys rotate` first", reason="newest_kek",
                           resource=resource, action=action)
    remaining = wrapped_by(version)
    if remaining:
        raise ConflictError(f"KEK version {version} still wraps {remaining} stored data key(s): "
                            "run `nrm-api keys rewrap` again, then retire", reason=f"in_use:{remaining}",
                            resource=resource, action=action)
    audit.record(actor, AuditAction.KEYS_RETIRE, "allowed", resource=resource)
    db.session.flush()
    ring.retire_kek(version)  # under the lock: the event commits only if the key is gone
    db.session.commit()
