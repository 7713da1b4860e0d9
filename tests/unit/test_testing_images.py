"""The testing module's image choice: the official image, else the bootstrapped stand-in that is here."""

from __future__ import annotations

import docker.errors

from genropy_asgi.testing.containers import BOOTSTRAPPED_POSTGRES_IMAGE, DEFAULT_POSTGRES_IMAGE, local_image


class Images:
    def __init__(self, present):
        self.present = set(present)

    def get(self, name):
        if name not in self.present:
            raise docker.errors.ImageNotFound(name)
        return name


class Client:
    def __init__(self, *present):
        self.images = Images(present)


def test_the_official_image_first_then_the_bootstrapped_one_then_a_pull():
    both = Client(DEFAULT_POSTGRES_IMAGE, BOOTSTRAPPED_POSTGRES_IMAGE)
    assert local_image(both, DEFAULT_POSTGRES_IMAGE, BOOTSTRAPPED_POSTGRES_IMAGE) == DEFAULT_POSTGRES_IMAGE
    bootstrapped = Client(BOOTSTRAPPED_POSTGRES_IMAGE)
    assert local_image(bootstrapped, DEFAULT_POSTGRES_IMAGE, BOOTSTRAPPED_POSTGRES_IMAGE) == BOOTSTRAPPED_POSTGRES_IMAGE
    assert local_image(Client(), DEFAULT_POSTGRES_IMAGE, BOOTSTRAPPED_POSTGRES_IMAGE) == DEFAULT_POSTGRES_IMAGE
