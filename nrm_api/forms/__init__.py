"""Identification forms: signed, field-encrypted, disclosed on need-to-know."""
