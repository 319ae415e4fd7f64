"""Each listing is asked in its own page size (500 clients; 100 orders, NFS-e and services by default),
a setting per method, and walked to the total of pages Omie gives."""

from __future__ import annotations

from datetime import date

import pytest

from omie_pipeline.omie import errors
from omie_pipeline.settings import SettingsError, load_settings
from support.simulated_omie import client_for

AT_DEFAULTS = {"ListarClientes": 500, "ListarOS": 100, "ListarNFSEs": 100, "ListarCadastroServico": 100}


def _walk_every_listing(client) -> None:
    today = date.today()
    list(client.list_clients())
    list(client.list_services())
    list(client.list_os())
    list(client.list_nfse(today, today))


def test_listings_ask_each_methods_default_page_size(make_sim):
    """Against Omie's maxima as integrators meet them (200 for the undocumented listings), nothing is refused;
    a simulator that takes exactly the defaults takes every listing, one that takes one record less does not."""
    _walk_every_listing(client_for(make_sim()))
    _walk_every_listing(client_for(make_sim(max_page_sizes=AT_DEFAULTS)))
    for method, size in AT_DEFAULTS.items():
        with pytest.raises(errors.ValidationError, match=f"\\[{size - 1}\\]"):
            _walk_every_listing(client_for(make_sim(max_page_sizes={method: size - 1})))


def test_page_size_is_a_setting_per_method_and_every_page_is_followed(make_sim):
    sim = make_sim(max_page_sizes={"ListarCadastroServico": 3})
    client = client_for(sim, page_sizes={"ListarCadastroServico": 3})

    services = list(client.list_services())

    assert sorted(service.nCodServ for service in services) == sorted(sim.state.services)
    assert sim.stats()["calls"]["ListarCadastroServico"] == -(-len(services) // 3)


def test_a_caller_asking_a_larger_page_is_held_to_the_methods_size(make_sim):
    sim = make_sim()
    client = client_for(sim)
    today = date.today()

    assert list(client.list_os(page_size=500)) == []
    assert list(client.list_nfse(today, today, page_size=500)) == []
    assert len(list(client.list_services(page_size=2))) == len(sim.state.services)  # smaller pages stay possible


def test_bad_page_size_settings_are_refused(make_sim):
    sim = make_sim()
    with pytest.raises(ValueError, match="ListarOS"):
        client_for(sim, page_sizes={"ListarOS": 0})
    with pytest.raises(ValueError, match="ListarTudo"):
        client_for(sim, page_sizes={"ListarTudo": 10})


def test_page_sizes_come_from_the_environment():
    settings = load_settings({"OMIE_PAGE_SIZES": "ListarOS=150, ListarNFSEs = 80"})
    assert settings.page_sizes == {"ListarOS": 150, "ListarNFSEs": 80}
    assert load_settings({}).page_sizes == {}
    for bad in ("ListarOS", "ListarOS=0", "ListarOS=abc", "ListarTudo=10"):
        with pytest.raises(SettingsError, match="OMIE_PAGE_SIZES"):
            load_settings({"OMIE_PAGE_SIZES": bad})
