"""Two saves of a mapping at the same moment (two people ending the mapping step of files of the
same columns, under the same name): before, both found no record and both inserted one, and the
second died on the unique name (a 500 on the page). Now the saves of one network queue one behind
the other: one record, the later save updating it. Real threads, each on its own connection."""

from __future__ import annotations

import pytest

from central.customers import mappings
from central.models import CustomerImportMapping
from tests.concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)

ROUNDS = 6


def test_two_saves_of_the_same_columns_at_once_give_one_mapping_and_no_error(world):
    network = world.networks["alpha"]
    for round_number in range(ROUNDS):
        header = [f"Colonne {round_number}", "Région"]

        def save(target: str, header=header, round_number=round_number):
            return mappings.mapping_save(network=network, header=header, mapping={"Région": target},
                                         name=f"CRM {round_number}")

        results = race(lambda save=save: save("segment"), lambda save=save: save("ignore"))
        assert not [result for result in results if isinstance(result, Exception)], results
        saved = CustomerImportMapping.objects.get(network=network, name=f"CRM {round_number}")
        assert saved.mapping["Région"] in {"segment", "ignore"}
    assert CustomerImportMapping.objects.filter(network=network).count() == ROUNDS
