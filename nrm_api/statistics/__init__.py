"""What the network learns: counts over the public part of the forms and the referrals, small cells withheld."""
