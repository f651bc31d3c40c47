"""What staff may see of people's words: personal-data masking (``masking``)."""
