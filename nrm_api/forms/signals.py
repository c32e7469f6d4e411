"""What the forms announce (blinker): other packages listen, and the forms never import them."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: Sent with the form as sender and ``actor=``, inside the withdrawal's transaction: a listener's
#: work (the referrals cancel theirs) is committed with the withdrawal, or not at all.
consent_withdrawn = _signals.signal("consent-withdrawn")
