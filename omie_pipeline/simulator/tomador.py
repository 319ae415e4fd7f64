"""What the simulated prefeitura checks in the client's (tomador's) data when an RPS reaches it.

Omie only asks that the client's record be filled in (ValidarOS/FaturarOS); whether the data is
right is the prefeitura's call, made when the RPS arrives, and a wrong address is one of the common
rejections ("Município do tomador não corresponde ao CEP informado", brazil-tax-facts.md). The
simulator checks the part of that which needs no address database: the CEP must fall within the
ranges the Correios assign to the client's state. The check runs on the client's record as it is
when the order is billed, so correcting the client (AlterarCliente) and billing again clears it.
"""

from __future__ import annotations

from typing import Any

# The Correios' CEP ranges (first five digits, inclusive) of each state.
CEP_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "SP": ((1000, 19999),),
    "RJ": ((20000, 28999),),
    "ES": ((29000, 29999),),
    "MG": ((30000, 39999),),
    "BA": ((40000, 48999),),
    "SE": ((49000, 49999),),
    "PE": ((50000, 56999),),
    "AL": ((57000, 57999),),
    "PB": ((58000, 58999),),
    "RN": ((59000, 59999),),
    "CE": ((60000, 63999),),
    "PI": ((64000, 64999),),
    "MA": ((65000, 65999),),
    "PA": ((66000, 68899),),
    "AP": ((68900, 68999),),
    "AM": ((69000, 69299), (69400, 69899)),
    "RR": ((69300, 69399),),
    "AC": ((69900, 69999),),
    "DF": ((70000, 72799), (73000, 73699)),
    "GO": ((72800, 72999), (73700, 76799)),
    "RO": ((76800, 76999),),
    "TO": ((77000, 77999),),
    "MT": ((78000, 78899),),
    "MS": ((79000, 79999),),
    "PR": ((80000, 87999),),
    "SC": ((88000, 89999),),
    "RS": ((90000, 99999),),
}
CEP_MISMATCH = (
    "E0116",
    "Município do tomador não corresponde ao CEP informado.",
    "Corrija o endereço do cliente.",
)


def cep_matches_state(cep: str, state: str) -> bool:
    """Whether the CEP lies in the state's ranges; an unknown state or a malformed CEP does not."""
    digits = "".join(character for character in str(cep) if character.isdigit())
    ranges = CEP_RANGES.get(str(state).strip().upper())
    if len(digits) != 8 or ranges is None:
        return False
    prefix = int(digits[:5])
    return any(low <= prefix <= high for low, high in ranges)


def refusals(client: dict[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """The ERRO lines (code, description, fix) the prefeitura gives this client's data; empty when it passes."""
    if cep_matches_state(client.get("cep", ""), client.get("estado", "")):
        return ()
    return (CEP_MISMATCH,)
