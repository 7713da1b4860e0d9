"""gnrdaemon's site registers (sessions, connections, pages) survive a daemon restart.

Why this exists: GenroPy 26.10 has the mechanism but it cannot work. A site register
(``gnr.web.daemon.siteregister``) can ``dump()`` its users, connections and pages to
a pickle and ``load()`` them back when the site reconnects (``autorestore``), but:
``load`` opens the pickle in text mode (``TypeError`` on Python 3: the register dies
and the site with it); ``dump`` writes in place (a kill mid-write leaves a file that
kills the next start); the file sits in the web server's site folder, which a
separate daemon workload does not share; and only ``gnr web daemon -C stop -s`` saves,
never a SIGTERM, so every container stop or ``helm upgrade`` logged every user out.

What it does, only when ``GENROPY_REGISTER_STORE`` names a folder (the image sets it;
``gnr web daemon`` elsewhere is unchanged):
- each register's pickle lives in that folder (``<site>.pik``), whoever asked for it;
- ``dump`` writes a temporary file and renames it (retried when a request changes a
  register while it is pickled), ``load`` reads binary and, when the file is unusable,
  says so in one line and starts empty (the bad file kept as ``.bad``);
- the register process saves every ``GENROPY_REGISTER_SNAPSHOT`` seconds (what a
  ``kill -9`` can lose) and at SIGTERM, then exits 0;
- a save is created ``0600`` and **authenticated**: ``MAGIC``, an HMAC-SHA256 of the pickles
  keyed with gnrdaemon's own HMAC key (``GnrSiteRegisterServer.hmac_key``), then the
  pickles. ``load`` checks the tag before unpickling anything: a file written by anyone
  without the key (the store is a volume every web pod mounts) is set aside, never loaded
  -- a pickle carries code.

When to drop it: ``tests/compat/test_register_store.py`` fails the day GenroPy changes
the code this relies on (``SiteRegister.dump/load``, ``GnrSiteRegisterServer``).
"""

from __future__ import annotations

import os
import pickle
import re
import signal
import sys
import threading
import time
from typing import Any

TARGET_MODULE = "gnr.web.daemon.siteregister"
STORE_VARIABLE = "GENROPY_REGISTER_STORE"
SNAPSHOT_VARIABLE = "GENROPY_REGISTER_SNAPSHOT"
REGISTERS = ("user_register", "connection_register", "page_register")  # GenroPy's dump order
PICKLE_ATTEMPTS = 5
MAGIC = b"genropy-asgi register v1 hmac-sha256\n"


def register_key(site_register: Any) -> bytes:
    """gnrdaemon's HMAC key, as its register server holds it (GenroPy's default when none was set)."""
    key = getattr(getattr(site_register, "server", None), "hmac_key", None) or "supersecretkey"
    return key.encode() if isinstance(key, str) else bytes(key)


def tag(key: bytes, payload: bytes) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, payload, hashlib.sha256).hexdigest().encode()


class ForgedRegisters(Exception):
    """A saved register whose tag is not ours: never unpickled."""


def store_path(folder: str, sitename: str) -> str:
    """The pickle of one site's register (a domain identifier ``site|domain`` included)."""
    return os.path.join(folder, re.sub(r"[^A-Za-z0-9_.-]", "_", sitename or "site") + ".pik")


def say(message: str) -> None:
    print(f"genropy-asgi: gnrdaemon: {message}", file=sys.stderr, flush=True)


def dump_registers(site_register: Any, path: str) -> None:
    """Every register pickled to ``path`` at once (temporary file, then rename)."""
    for attempt in range(PICKLE_ATTEMPTS):
        try:  # pickled in memory first: a request may change a dict while it is walked
            payload = b"".join(pickle.dumps(getattr(getattr(site_register, name), field))
                               for name in REGISTERS
                               for field in ("registerItems", "itemsData", "itemsTS", "locked_items"))
            break
        except RuntimeError:  # "dictionary changed size during iteration"
            if attempt == PICKLE_ATTEMPTS - 1:
                raise
            time.sleep(0.05)
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"  # a Pyro call and a signal may both save
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when a left-over temporary existed with other bits
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(MAGIC + tag(register_key(site_register), payload) + b"\n" + payload)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load_registers(site_register: Any, path: str) -> bool:
    """The registers saved at ``path``; ``False`` (and the file set aside) when unusable."""
    import hmac
    import io

    try:
        with open(path, "rb") as handle:
            content = handle.read()
        if not content.startswith(MAGIC):
            raise ForgedRegisters("not a save of ours (no authentication tag)")
        signature, _, payload = content[len(MAGIC):].partition(b"\n")
        if not hmac.compare_digest(signature, tag(register_key(site_register), payload)):
            raise ForgedRegisters("its authentication tag does not match gnrdaemon's key")
        stream = io.BytesIO(payload)
        loaded = {(name, field): pickle.load(stream)
                  for name in REGISTERS
                  for field in ("registerItems", "itemsData", "itemsTS", "locked_items")}
    except FileNotFoundError:
        return False
    except Exception as exc:  # a truncated or foreign pickle: start empty rather than not at all
        os.replace(path, path + ".bad")
        say(f"{path}: saved registers unusable ({type(exc).__name__}: {exc}); starting with none "
            f"(kept as {path}.bad)")
        return False
    for (name, field), value in loaded.items():
        setattr(getattr(site_register, name), field, value)
    pages = len(site_register.page_register.registerItems)
    users = len(site_register.user_register.registerItems)
    say(f"restored {users} user(s), {len(site_register.connection_register.registerItems)} "
        f"connection(s), {pages} page(s) from {path}")
    return True


def snapshot_seconds() -> float:
    from genropy_asgi import settings  # validated by the entrypoint; a bad value here: the default

    try:
        seconds: float = settings.read(os.environ, SNAPSHOT_VARIABLE)
    except settings.SettingError:
        seconds = settings.setting(SNAPSHOT_VARIABLE).default
    return seconds


def patch_siteregister_module(module: Any) -> None:
    folder = os.environ.get(STORE_VARIABLE, "").strip()
    if not folder:
        return
    site_register_class, server_class = module.SiteRegister, module.GnrSiteRegisterServer
    original_init, original_run = server_class.__init__, server_class.run

    def dump(self: Any) -> None:
        dump_registers(self, self.storage_path)

    def load(self: Any) -> bool:
        return load_registers(self, self.storage_path)

    def init(self: Any, sitename: Any = None, daemon_uri: Any = None, storage_path: Any = None,
             debug: Any = None) -> None:
        os.makedirs(folder, exist_ok=True)
        original_init(self, sitename=sitename, daemon_uri=daemon_uri, storage_path=store_path(folder, sitename),
                      debug=debug)

    def run(self: Any, autorestore: bool = False) -> None:
        save_lock = threading.Lock()

        def save(reason: str) -> None:
            with save_lock:
                try:
                    self.siteregister.dump()
                except Exception as exc:  # the next snapshot may succeed; never kill the register
                    say(f"saving the registers of {self.sitename} ({reason}) failed: {type(exc).__name__}: {exc}")

        def on_sigterm(signum: int, frame: Any) -> None:
            save("SIGTERM")
            say(f"registers of {self.sitename} saved to {self.storage_path}")
            os._exit(0)  # Pyro's worker threads must not outlive the saved state

        def snapshots(every: float) -> None:
            while True:
                time.sleep(every)
                save("snapshot")

        signal.signal(signal.SIGTERM, on_sigterm)
        every = snapshot_seconds()
        if every:
            threading.Thread(target=snapshots, args=(every,), name="register-snapshots", daemon=True).start()
        original_run(self, autorestore=autorestore)

    for fix, original in ((dump, site_register_class.dump), (load, site_register_class.load),
                          (init, original_init), (run, original_run)):
        fix.__wrapped__ = original  # type: ignore[union-attr]  # GenroPy's, for the guard test
    site_register_class.dump, site_register_class.load = dump, load
    server_class.__init__, server_class.run = init, run
    module.GENROPY_ASGI_REGISTER_STORE_COMPAT = folder
