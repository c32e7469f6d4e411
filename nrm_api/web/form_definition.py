"""The identification form as pages: its steps and controls, read off the one form definition.

Nothing here is written twice: every control comes from a field of ``FormDocumentSchema`` (its
type, its code list, its sensitivity), every label from the vocabulary's ``form_field`` and
``form_step`` lists. A step is one section of the document; the consent step comes first, before
any identifying field.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import marshmallow as ma

from ..fields import PUBLIC, SENSITIVITY
from ..forms.decisions import ConsentWithdrawalSchema, DecisionSchema
from ..forms.document import FormDocumentSchema
from ..vocabulary import code_lists

#: The steps, in order: each is one section of the form document. Consent comes before anything identifying.
STEPS = ("consent", "screening", "person", "child", "exploitation", "account", "perpetrators", "statistics")
#: Texts longer than this are a ``<textarea>``.
LONG_TEXT = 500


#: The consent's recipients: agency kinds (``kind:ngo``) and agency ids, in one list.
RECIPIENTS = "consent.recipients"
KIND_PREFIX = "kind:"
#: The widgets whose value is a list of strings (one input, box or option per item).
LIST_WIDGETS = ("choices", "texts", "recipients")


@dataclass(frozen=True)
class Control:
    """One control of a step, or a group of them (a nested object, a list of objects).

    ``path`` is the field's place in the document without list indexes (``exploitation.locations.type``):
    the name of its label in the vocabulary.
    """

    path: str
    #: ``group``, ``items`` (a list of objects), ``choices`` (several codes), ``texts`` (several strings),
    #: ``recipients`` (the consent's: a box per agency kind, ``kind:…``, and texts for agency ids),
    #: ``select``, ``checkbox``, ``text``, ``textarea``, ``email``, ``number``, ``date`` or ``datetime``.
    widget: str
    sensitivity: str = PUBLIC
    required: bool = False
    code_list: str | None = None
    max_length: int | None = None
    children: tuple[Control, ...] = ()

    @property
    def key(self) -> str:
        """The field's own name in its object."""
        return self.path.rsplit(".", 1)[-1]

    @property
    def only_checkboxes(self) -> bool:
        """A group of yes/no questions alone: unticked boxes there are answers (``false``), not blanks."""
        return all(child.widget == "checkbox" for child in self.children)

    def label(self, language: str) -> str:
        """The field's label in ``language``, from the vocabulary."""
        return field_label(self.path, language)

    def options(self, language: str) -> list[tuple[str, str]]:
        """``(code, label)`` of the field's code list, in the vocabulary's order."""
        if self.widget == "recipients":
            return [(f"{KIND_PREFIX}{kind}", labels[language]) for kind, labels in code_lists()["agency_kind"].items()]
        if self.code_list is None:
            return []
        return [(value, labels[language]) for value, labels in code_lists()[self.code_list].items()]


def field_label(path: str, language: str) -> str:
    """The label of a document path (list indexes dropped), in ``language``."""
    plain = ".".join(part for part in path.split(".") if not part.isdigit())
    return code_lists()["form_field"][plain][language]


def step_label(step: str, language: str) -> str:
    """The title of a step, in ``language``."""
    return code_lists()["form_step"][step][language]


@cache
def step_control(step: str) -> Control:
    """The control group of one step: its section of the document."""
    if step not in STEPS:
        raise KeyError(step)
    field = FormDocumentSchema().fields[step]
    return _control(field, step)


@cache
def decision_control() -> Control:
    """The authority's identification decision, read off its schema like the form."""
    return Control("decision", "group", children=controls_of(DecisionSchema(), "decision"))


@cache
def withdrawal_control() -> Control:
    """Consent withdrawn, read off its schema like the form."""
    return Control("withdrawal", "group", children=controls_of(ConsentWithdrawalSchema(), "withdrawal"))


def every_path() -> list[str]:
    """Every path of the form, groups included, in the order of the steps; then the decision's and the withdrawal's."""
    return list(controls_by_path())


def controls_by_path() -> dict[str, Control]:
    """Every control of the form by its path."""
    found: dict[str, Control] = {}

    def walk(control: Control) -> None:
        found[control.path] = control
        for child in control.children:
            walk(child)

    for group in (*(step_control(step) for step in STEPS), decision_control(), withdrawal_control()):
        walk(group)
    return found


def _control(field: ma.fields.Field[Any], path: str) -> Control:
    sensitivity = field.metadata.get(SENSITIVITY, PUBLIC)
    common: dict[str, Any] = {"sensitivity": sensitivity, "required": field.required,
                              "code_list": field.metadata.get("x-code-list")}
    if isinstance(field, ma.fields.Nested):
        return Control(path, "group", children=controls_of(field.schema, path), **common)
    if isinstance(field, ma.fields.List):
        inner = field.inner
        if isinstance(inner, ma.fields.Nested):
            return Control(path, "items", children=controls_of(inner.schema, path), **common)
        if path == RECIPIENTS:
            return Control(path, "recipients", **common)
        return Control(path, "choices" if common["code_list"] else "texts", **common)
    return Control(path, _widget(field, common["code_list"]), max_length=_max_length(field), **common)


def controls_of(schema: ma.Schema, path: str) -> tuple[Control, ...]:
    """The controls of a schema's fields, named under ``path``."""
    return tuple(_control(child, f"{path}.{child.data_key or name}") for name, child in schema.fields.items())


def _widget(field: ma.fields.Field[Any], code_list: str | None) -> str:
    if code_list:
        return "select"
    if isinstance(field, ma.fields.Boolean):
        return "checkbox"
    if isinstance(field, ma.fields.DateTime):
        return "datetime"
    if isinstance(field, ma.fields.Date):
        return "date"
    if isinstance(field, ma.fields.Integer):
        return "number"
    if isinstance(field, ma.fields.Email):
        return "email"
    length = _max_length(field)
    return "textarea" if length is not None and length > LONG_TEXT else "text"


def _max_length(field: ma.fields.Field[Any]) -> int | None:
    validators = field.validators if isinstance(field.validators, list) else [field.validators]
    lengths = [v.max for v in validators if isinstance(v, ma.validate.Length) and v.max is not None]
    return lengths[0] if lengths else None
