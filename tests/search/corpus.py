"""The fixed corpus of the conformance suite: case-study-like documents and two index definitions."""

from __future__ import annotations

from typing import Any

from search import DEFAULT_SYNONYMS, IndexDefinition

CASE_STUDIES = IndexDefinition(
    name="case_studies",
    searchable=("title", "summary", "body", "city", "vendor", "categories"),
    filterable=("type", "city", "country", "categories", "kpis", "sdgs", "language", "year", "vendor", "hubs"),
    facets=("country", "categories", "kpis", "sdgs", "language", "year", "hubs"),
    sortable=("year", "title"),
    synonyms=DEFAULT_SYNONYMS,
    highlight=("title", "summary", "body"),
)

SOLUTIONS = IndexDefinition(
    name="solutions",
    searchable=("title", "summary", "vendor"),
    filterable=("type", "categories", "kpis", "sdgs"),
    facets=("categories", "kpis", "sdgs"),
    sortable=("title",),
    synonyms=DEFAULT_SYNONYMS,
    highlight=("title", "summary"),
)


def case(
    num: int,
    title: str,
    summary: str,
    body: str,
    *,
    city: str,
    country: str,
    categories: list[str],
    kpis: list[str],
    sdgs: list[int],
    year: int,
    vendor: str,
    hubs: list[str],
    language: str = "en",
) -> dict[str, Any]:
    return {
        "id": f"cs-{num}",
        "type": "case_study",
        "title": title,
        "summary": summary,
        "body": body,
        "city": city,
        "country": country,
        "categories": categories,
        "kpis": kpis,
        "sdgs": sdgs,
        "language": language,
        "year": year,
        "vendor": vendor,
        "hubs": hubs,
    }


CORPUS: list[dict[str, Any]] = [
    case(1, "Fine dust monitoring in Stuttgart", "Low-cost sensors measure fine dust along busy roads.",
         "The city deployed two hundred sensors near the Neckartor crossing to publish hourly readings.",
         city="Stuttgart", country="DE", categories=["air-quality", "iot"], kpis=["EN-EN-AQ-1C"],
         sdgs=[3, 11], year=2019, vendor="Airsense", hubs=["dach"]),
    case(2, "Water filtration upgrade in Lyon", "A membrane plant lowers turbidity for the whole region.",
         "Operators replaced sand beds; drinking water quality complaints dropped sharply.",
         city="Lyon", country="FR", categories=["water"], kpis=["EN-EN-WS-2C"],
         sdgs=[6], year=2021, vendor="Aquaclear", hubs=["eu-west"]),
    case(3, "E-mobility hubs in Oslo", "Charging depots for e-mobility fleets of taxis and buses.",
         "The municipality tendered depots with rapid chargers and a booking platform.",
         city="Oslo", country="NO", categories=["mobility", "energy"], kpis=["EC-ICT-TR-2A"],
         sdgs=[7, 11], year=2020, vendor="Voltway", hubs=["nordics"]),
    case(4, "Flood early warning for Rotterdam", "River gauges feed a warning dashboard.",
         "Residents receive alerts when the gauges predict overtopping of the quays.",
         city="Rotterdam", country="NL", categories=["resilience", "iot"], kpis=["EN-EN-EQ-1A"],
         sdgs=[11, 13], year=2017, vendor="Hydrowatch", hubs=["eu-west"]),
    case(5, "PM2.5 alerts for Krakow schools", "Schools get a warning when the index turns red.",
         "Headteachers cancel outdoor lessons on smog days using the municipal feed.",
         city="Krakow", country="PL", categories=["air-quality"], kpis=["EN-EN-AQ-1C"],
         sdgs=[3], year=2022, vendor="Airsense", hubs=["cee"]),
    case(6, "Bike counters in Copenhagen", "Counting every bike on the main corridors.",
         "Induction loops report traffic to the open data portal every minute.",
         city="Copenhagen", country="DK", categories=["mobility"], kpis=["EC-ICT-TR-3C"],
         sdgs=[11], year=2018, vendor="Loopcount", hubs=["nordics"]),
    case(7, "Smart meters cut water loss in Valencia", "District metering finds hidden losses.",
         "The utility rolled out meters to every household and district metered areas.",
         city="Valencia", country="ES", categories=["water", "iot"], kpis=["EN-EN-WS-3C"],
         sdgs=[6, 12], year=2023, vendor="Aquaclear", hubs=["eu-west"]),
    case(8, "Acoustic loggers on mains", "Listening devices pinpoint bursts before they surface.",
         "In Stuttgart the network team reduced leakage by a fifth with night-time listening.",
         city="Stuttgart", country="DE", categories=["water"], kpis=["EN-EN-WS-3C"],
         sdgs=[6], year=2016, vendor="Hydrowatch", hubs=["dach"]),
    case(9, "Electric vehicles in the Hamburg fleet", "Replacing diesel vans with battery models.",
         "Depot chargers and a telematics platform keep the vans on schedule.",
         city="Hamburg", country="DE", categories=["mobility"], kpis=["EC-ICT-TR-2A"],
         sdgs=[7, 13], year=2024, vendor="Voltway", hubs=["dach"]),
    case(10, "Solar panels on municipal roofs", "Schools and depots produce their own power.",
         "The council leased roof space to a cooperative and buys the output.",
         city="Lisbon", country="PT", categories=["energy"], kpis=["EN-EN-EE-1A"],
         sdgs=[7], year=2015, vendor="Sunroof", hubs=["eu-west"]),
    case(11, "Feinstaub-Messnetz in München", "Ein Messnetz für die Luftqualität.",
         "Die Stadt veröffentlicht Messwerte stündlich.",
         city="München", country="DE", categories=["air-quality"], kpis=["EN-EN-AQ-1C"],
         sdgs=[3, 11], year=2014, vendor="Airsense", hubs=["dach"], language="de"),
    case(12, "Street lighting retrofit", "LED lanterns with dimming schedules.",
         "A fine example of savings: the retrofit paid back within six years.",
         city="Lyon", country="FR", categories=["energy"], kpis=["EN-EN-EE-2C"],
         sdgs=[7, 11], year=2013, vendor="Lumina", hubs=["eu-west"]),
]  # fmt: skip

SOLUTION_DOCS: list[dict[str, Any]] = [
    {"id": "sol-1", "type": "solution", "title": "Airsense sensor kit", "summary": "Street sensors for fine dust.",
     "vendor": "Airsense", "categories": ["air-quality"], "kpis": ["EN-EN-AQ-1C"], "sdgs": [3]},
    {"id": "sol-2", "type": "solution", "title": "Leak finder", "summary": "Acoustic sensors for water mains.",
     "vendor": "Hydrowatch", "categories": ["water"], "kpis": ["EN-EN-WS-3C"], "sdgs": [6]},
    {"id": "sol-3", "type": "solution", "title": "Depot charger", "summary": "Rapid charging for fleets.",
     "vendor": "Voltway", "categories": ["mobility"], "kpis": ["EC-ICT-TR-2A"], "sdgs": [7]},
]  # fmt: skip
