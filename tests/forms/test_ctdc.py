"""The CTDC-style dataset is k-anonymous by brute force over its quasi-identifiers, and holds nothing identifying."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from flask import Flask

from nrm_api.cli import main
from nrm_api.forms import ctdc, service
from tests.conftest import audit_events
from tests.forms.helpers import CANARIES, FORMS, adult, canary_document, signed_write, system

CITIZENSHIPS = ["BY"] * 6 + ["UA", "RU", "LT", "PL", "VN"]
OBLASTS = ["Gomel", "Minsk", "Brest", "MinskCity", "Vitebsk"]


def _classes(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(row[name] for name in ctdc.QUASI_IDENTIFIERS) for row in rows)


def _random_record(chance: random.Random) -> dict[str, Any]:
    return {"gender": chance.choice(["Feminine", "Feminine", "Masculine", "TransgenderFeminine"]),
            "ageBroad": chance.choice(list(ctdc.BROAD_AGE)), "citizenship": chance.choice(CITIZENSHIPS),
            "yearOfRegistration": chance.choice([2024, 2025, 2026]), "region": chance.choice([*OBLASTS, None]),
            **{name: [] for name in ctdc.ATTRIBUTES if name != "vic_RelationshipToTrafficker"
               and name != "scr_DetectedBy"}, "vic_RelationshipToTrafficker": None, "scr_DetectedBy": "NGO",
            "countryOfExploitation": [chance.choice(["RU", "PL", "AE", "TR"])]}


def test_every_combination_present_occurs_at_least_k_times() -> None:
    chance = random.Random(14)  # noqa: S311 - test data, not a secret
    for size in [0, 1, 5, 10, 11, 12, 30, 100, 400, 1500]:
        records = [_random_record(chance) for _ in range(size)]
        dataset = ctdc.anonymise(records)
        classes = _classes(dataset.rows)
        assert all(count >= ctdc.K for count in classes.values()), (size, classes)
        assert dataset.k_reached == (min(classes.values()) if classes else None)
        assert len(dataset.rows) + dataset.rows_dropped == size
        suppressed = sum(1 for row in dataset.rows for name in ctdc.QUASI_IDENTIFIERS if row[name] is None)
        natural = sum(1 for row in records if row["region"] is None)
        assert suppressed <= dataset.cells_suppressed + natural
        for name in ("citizenship", "region"):  # a value seen fewer than k times is generalised away
            counts = Counter(row[name] for row in dataset.rows if row[name] not in (None, ctdc.OTHER))
            assert all(count >= ctdc.K for count in counts.values())


def _submit(actor: Any, private: dict[str, str], document: dict[str, Any]) -> None:
    body, signature, facts = signed_write(private, document, "POST", FORMS, str(uuid.uuid4()))
    service.submit(actor, body, signature, facts)


def test_the_exported_dataset_is_k_anonymous_audited_and_free_of_canaries(app: Flask, tmp_path: Path) -> None:
    actor, private = system()
    chance = random.Random(11)  # noqa: S311 - test data
    for number in range(40):
        document = adult()
        document["statistics"].update(age_band=chance.choice(["27--29", "24--26", "30--38"]),
                                      citizenship="BY" if number % 5 else "UA", year=2026)
        document["exploitation"]["locations"][0]["oblast"] = "Gomel" if number % 3 else "Minsk"
        _submit(actor, private, document)
    canary = canary_document()
    canary["consent"]["purposes"]["statistics"] = True
    canary["screening"]["place"] = "Zxqpubliccanaryplace"
    _submit(actor, private, canary)
    refused = adult()
    refused["consent"]["purposes"]["statistics"] = False
    refused["statistics"]["citizenship"] = "ZW"
    _submit(actor, private, refused)

    for fmt in ("json", "csv"):
        out = tmp_path / f"ctdc.{fmt}"
        result = app.test_cli_runner().invoke(main, ["export", "ctdc", "--out", str(out), "--format", fmt])
        assert result.exit_code == 0, result.output
        assert "k = 11, k reached" in result.stderr
        data = out.read_bytes()
        for value in [*CANARIES.values(), "Zxqpubliccanaryplace", "ZW", "Olga", "MP1234567"]:
            assert value.encode() not in data
    body = json.loads((tmp_path / "ctdc.json").read_bytes())
    classes = _classes(body["rows"])
    assert classes and all(count >= ctdc.K for count in classes.values())
    assert body["metadata"]["k"] == 11 and body["metadata"]["k_reached"] == min(classes.values())
    assert len(body["rows"]) + body["metadata"]["rows_dropped"] == 41  # the 40 and the canary: not the refusal
    events = audit_events(action="export:ctdc")
    assert [event.count for event in events] == [len(body["rows"])] * 2


def test_a_form_whose_consent_was_withdrawn_is_not_in_the_dataset(app: Flask, tmp_path: Path) -> None:
    """Review: the withdrawal is on the form, not in its consent section: the dataset counted the person."""
    from nrm_api.forms import decisions

    actor, private = system()
    forms = [service.submit(actor, *signed_write(private, adult(), "POST", FORMS, str(uuid.uuid4()))).id
             for _ in range(12)]
    path = f"{FORMS}/{forms[0]}/consent-withdrawal"
    decisions.withdraw_consent(actor, forms[0], *signed_write(
        private, {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"}, "POST", path))
    out = tmp_path / "ctdc.json"
    result = app.test_cli_runner().invoke(main, ["export", "ctdc", "--out", str(out)])
    assert result.exit_code == 0, result.output
    body = json.loads(out.read_bytes())
    assert len(body["rows"]) + body["metadata"]["rows_dropped"] == 11
