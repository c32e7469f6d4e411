"""Example documents, written to ``schemas/examples/`` by ``nrm-api openapi write``: each validates."""

from __future__ import annotations

from typing import Any

CONSENT_ALL = {"identification": True, "assistance": True, "data_sharing": True, "statistics": True}
CONSENT_NONE = {"identification": False, "assistance": False, "data_sharing": False, "statistics": False}


def _base() -> dict[str, Any]:
    return {
        "schema_version": "1",
        "exploitation": {"types_of_exploitation": ["ForcedLabour", "ForcedCriminality"],
                         "forced_labour_industries": ["F_Construction"],
                         "recruitment_methods": ["ThroughAnOnlineAdvertisement"],
                         "control_methods": ["WithholdsDocuments", "DebtBondage"],
                         "relationship_to_trafficker": "Unacquainted",
                         "locations": [{"type": "Recruitment", "country": "BY", "oblast": "Gomel"},
                                       {"type": "Exploitation", "country": "RU", "start_date": "2026-03-01",
                                        "end_date": "2026-10-15"}]},
        "consent": {"purposes": dict(CONSENT_ALL), "recipients": ["kind:authority", "kind:international", "kind:ngo"],
                    "obtained_at": "2026-11-20T10:00:00+03:00", "obtained_by": "caseworker", "method": "written",
                    "language": "ru",
                    "checklist": {"told_purpose": True, "told_uses": True, "told_right_to_access": True,
                                  "told_retention": True, "told_withdrawal": True}},
        "screening": {"detected_by": "NGO", "method": "hotline call, then interview", "detected_on": "2026-11-20",
                      "place": "Gomel", "language": "ru", "interpreter_used": False},
        "statistics": {"age_band": "27--29", "sex": "Masculine", "citizenship": "BY", "year": 2026},
    }


def adult_identified() -> dict[str, Any]:
    """An adult man exploited on a building site abroad, who consented to everything."""
    document = _base()
    document["person"] = {"first_name": "Ivan", "second_name": "Petrov", "first_name_cyrillic": "Иван",
                          "second_name_cyrillic": "Петров", "birthdate": "1998-07-14", "gender": "Masculine",
                          "citizenship": ["BY"], "identity_document_type": "Passport", "primary_language": "ru"}
    document["account"] = {"narrative": "Recruited through an online advert for construction work.",
                           "needs": "Accommodation and legal aid."}
    document["perpetrators"] = [{"role": "RecruiterOrIntermediary", "kind": "Individual", "nationality": "BY",
                                 "approximate_age": 40}]
    return document


def child() -> dict[str, Any]:
    """A girl of fifteen: no consent gate, a legal representative recorded."""
    document = _base()
    document["person"] = {"first_name": "Anna", "second_name": "Sidorova", "birthdate": "2011-04-02",
                          "gender": "Feminine", "citizenship": ["BY"]}
    document["child"] = {"is_minor": True, "separated_or_unaccompanied": "Separated",
                         "legal_representative": {"name": "Maria Sidorova", "relation": "mother",
                                                  "informed": True}}
    document["consent"]["purposes"] = dict(CONSENT_NONE)
    document["exploitation"]["types_of_exploitation"] = ["SexualExploitation"]
    document["exploitation"]["types_of_sexual_exploitation"] = ["RemoteInteractiveServices"]
    document["statistics"] = {"age_band": "9--17", "sex": "Feminine", "citizenship": "BY", "year": 2026}
    return document


def anonymous_notification() -> dict[str, Any]:
    """An adult who did not consent to identification: counted, never named."""
    document = _base()
    document["consent"]["purposes"] = {**CONSENT_NONE, "statistics": True}
    document["consent"]["recipients"] = []
    return document


EXAMPLES = {"form-adult-identified": adult_identified, "form-child": child,
            "form-anonymous-notification": anonymous_notification}
