"""Personal-data masking as staff see it (the console's labels) and as the logs keep it."""

from __future__ import annotations

import pytest

from bot.insights.masking import ITALIAN_LABELS, LOG_LABELS, mask


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("abito in via Giuseppe Verdi 12 a Magenta", "abito in [indirizzo] a Magenta"),
        ("Piazza della Libertà, 12/a", "[indirizzo]"),
        ("via roma 3", "[indirizzo]"),
        ("viale Lombardia 5b, Legnano", "[indirizzo], Legnano"),
        ("chiamami al 333 123 4567", "chiamami al [telefono]"),
        ("scrivi a giulia.rossi@example.it", "scrivi a [e-mail]"),
        ("il mio CF è RSSGLI80A41F205X", "il mio CF è [codice fiscale]"),
        ("IBAN IT60 X054 2811 1010 0000 0123 456", "IBAN [IBAN]"),
        # not addresses: no number, not a name, a number that counts something
        ("in via di definizione", "in via di definizione"),
        ("ci vediamo in piazza alle 10", "ci vediamo in piazza alle 10"),
        ("il corso dura 2 settimane", "il corso dura 2 settimane"),
        ("il corso di inglese 2 volte a settimana", "il corso di inglese 2 volte a settimana"),
    ],
)
def test_what_staff_see(text, masked):
    assert mask(text, ITALIAN_LABELS) == masked


def test_the_logs_keep_street_names_and_mask_the_rest():
    assert mask("via Roma 3, tel. 333 123 4567", LOG_LABELS) == "via Roma 3, tel. <phone>"
