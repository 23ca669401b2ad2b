"""A tiny GeoIP2 City database written by the tests (``mmdb-writer``): one network with
English and Russian place names, as MaxMind's GeoLite2 City carries them."""

from __future__ import annotations

from pathlib import Path

#: A public network (documentation ranges count as private and are never looked up).
KAZAN_NETWORK = "5.128.0.0/24"
KAZAN_IP = "5.128.0.7"


def write_city_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(database_type="GeoLite2-City", languages=["en", "ru"])
    writer.insert_network(
        IPSet([KAZAN_NETWORK]),
        {
            "country": {"iso_code": "RU", "names": {"en": "Russia", "ru": "Россия"}},
            "city": {"names": {"en": "Kazan", "ru": "Казань"}},
        },
    )
    writer.to_db_file(str(path))
    return path
