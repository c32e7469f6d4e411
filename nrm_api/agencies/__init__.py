"""The directory of agencies of the referral network."""
