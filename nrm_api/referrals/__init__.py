"""Referrals between agencies, their status exchange and the transfer of a case's lead."""
