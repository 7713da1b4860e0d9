"""The image's admin login beside an instance's own ``xml_auth`` users: never silently shadowed.

GenroPy merges the deployment's ``instanceconfig/default.xml`` UNDER the instance's own
``instanceconfig.xml``: an instance that defines an ``xml_auth`` user of the same name as the
image's admin (``GNR_ADMIN_USER``, ``admin`` by default) wins, and the password the deployment
gave is refused with no word said. Here the image's admin takes the first free name instead
(``admin`` -> ``admin2``), and the start says which login works. Users an ``xml_auth`` reads
from another file (its ``path``), or that live in the database (``adm.user``), are not seen.

Pure: text in, names out; the launch plan and the testing module use the same functions.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET

INSTANCECONFIG_PLACES = (os.path.join("config", "instanceconfig.xml"), "instanceconfig.xml")  # GenroPy's order


def instance_xml_users(instanceconfig: str | None) -> set[str]:
    """The ``xml_auth`` logins an instanceconfig.xml defines (none for an unreadable one:
    GenroPy's own start reports a broken file)."""
    if not instanceconfig:
        return set()
    try:
        root = ET.fromstring(instanceconfig)
    except ET.ParseError:
        return set()
    return {user.tag for auth in root.iter("xml_auth") for user in auth}


def admin_login(requested: str, taken: set[str]) -> str:
    """``requested``, or the first of ``requested2``, ``requested3``... no instance user has."""
    if requested not in taken:
        return requested
    number = 2
    while f"{requested}{number}" in taken:
        number += 1
    return f"{requested}{number}"


def renamed_note(config_path: str, requested: str, login: str) -> str:
    return (f"{config_path} defines its own xml_auth user {requested!r}, which GenroPy lets win over the image's "
            f"admin: the image's admin (GNR_ADMIN_USER, GNR_ADMIN_PASSWORD) logs in as {login!r} on this site")
