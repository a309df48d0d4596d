"""The FireWorks LaunchPad, in the same MongoDB (and database) as the stores."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fireworks import LaunchPad

from pesbench.settings import PesbenchSettings, get_settings
from pesbench.stores.connection import database_uri

__all__ = ["get_launchpad", "uri_with_database"]


def uri_with_database(uri: str, database: str) -> str:
    """Return ``uri`` naming ``database`` as its path (FireWorks' uri_mode reads it there).

    A database already in the path is the user's authentication database: it is kept as
    ``authSource`` so that logging in still works.
    """
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    current = parts.path.strip("/")
    if current and current != database and "authSource" not in query:
        query["authSource"] = current
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", urlencode(query), ""))


def get_launchpad(settings: PesbenchSettings | None = None, *, start: bool = True) -> LaunchPad:
    """The LaunchPad of the configured MongoDB (the managed server when none is configured).

    Its collections (``fireworks``, ``workflows``, ``launches``, ...) live in ``db_name``
    beside pesbench's own. A database that has never held a LaunchPad gets its id counters
    and indexes (what ``lpad reset`` would do, without deleting anything); nothing is ever
    reset here.
    """
    settings = settings or get_settings()
    uri = uri_with_database(database_uri(settings, start=start), settings.db_name)
    launchpad = LaunchPad(host=uri, name=settings.db_name, uri_mode=True, strm_lvl="WARNING")
    if launchpad.fw_id_assigner.find_one({}) is None:
        launchpad.fw_id_assigner.update_one(
            {}, {"$setOnInsert": {"next_fw_id": 1, "next_launch_id": 1}}, upsert=True
        )
        launchpad.tuneup()
    return launchpad
