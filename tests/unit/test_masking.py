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


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # a street's name written as a name, particles between
        ("abito in via Roma a Magenta", "abito in [indirizzo] a Magenta"),
        ("Via Garibaldi è chiusa per lavori", "[indirizzo] è chiusa per lavori"),
        ("siamo in piazza della Libertà, vicino al comune", "siamo in [indirizzo], vicino al comune"),
        ("abito in via dell'Arte", "abito in [indirizzo]"),
        ("in località Cascina Nuova", "in [indirizzo]"),
        # in lower case, after the words that say where she lives
        ("abito in via roma a magenta", "abito in [indirizzo] a magenta"),
        ("vivo in via san carlo, a corbetta", "vivo in [indirizzo], a corbetta"),
        ("il mio indirizzo è via dei mille", "il mio indirizzo è [indirizzo]"),
        ("vivo in via verdi e lavoro in via Milano", "vivo in [indirizzo] e lavoro in [indirizzo]"),
        # ordinary words
        ("mandami i moduli via mail", "mandami i moduli via mail"),
        ("posso prenotare via telefono?", "posso prenotare via telefono?"),
        ("il corso di nuoto per bambini", "il corso di nuoto per bambini"),
        ("ci penso strada facendo", "ci penso strada facendo"),
        ("iscriviti con largo anticipo", "iscriviti con largo anticipo"),
        ("sto in piazza alle 10", "sto in piazza alle 10"),
        ("sto in via di guarigione", "sto in via di guarigione"),
        ("il progetto è in via di definizione", "il progetto è in via di definizione"),
        ("abito a Magenta", "abito a Magenta"),
    ],
)
def test_streets_without_a_house_number(text, masked):
    assert mask(text, ITALIAN_LABELS) == masked


def test_the_logs_keep_street_names_and_mask_the_rest():
    assert mask("via Roma 3, tel. 333 123 4567", LOG_LABELS) == "via Roma 3, tel. <phone>"
