"""Concilia's knowledge base: the YAML files in ``knowledge/data`` as checked, immutable Python objects.

Imports only PyYAML and the standard library, and reads nothing at import time: both the gateway
(Python 3.11+) and the Rasa action server (Python 3.10) use it.

    from knowledge import load
    kb = load()                      # raises KnowledgeBaseInvalid listing every problem
    kb.find_services(topic="school_closure", town="Corbetta", month=7)
    kb.find_place("centri estivi nell'abbiatense?")
"""

from knowledge.loader import KnowledgeHolder, load
from knowledge.lookups import write_lookups
from knowledge.model import KnowledgeBase, find_place, nearest_town, resolve_town
from knowledge.places import haversine_km
from knowledge.records import (
    Ages,
    Closure,
    Contacts,
    Cost,
    Enrolment,
    Kind,
    KnowledgeBaseInvalid,
    Partner,
    Period,
    Place,
    Problem,
    Schedule,
    SchoolYear,
    Service,
    Territory,
    Topic,
    Town,
)
from knowledge.referrals import Referral
from knowledge.text import normalise
from knowledge.validate import DEFAULT_DATA_DIR, check

__all__ = [
    "DEFAULT_DATA_DIR",
    "Ages",
    "Closure",
    "Contacts",
    "Cost",
    "Enrolment",
    "Kind",
    "KnowledgeBase",
    "KnowledgeBaseInvalid",
    "KnowledgeHolder",
    "Partner",
    "Period",
    "Place",
    "Problem",
    "Referral",
    "Schedule",
    "SchoolYear",
    "Service",
    "Territory",
    "Topic",
    "Town",
    "check",
    "find_place",
    "haversine_km",
    "load",
    "nearest_town",
    "normalise",
    "resolve_town",
    "write_lookups",
]
