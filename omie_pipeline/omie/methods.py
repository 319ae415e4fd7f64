"""Which Omie calls only read, and which change data.

Reads may be retried and answered from the short-lived cache; everything else is a write, which
the client never sends twice on its own (design.md, exactly once).
"""

from __future__ import annotations

READ_PREFIXES = ("Listar", "Consultar", "Status", "Obter", "Pesquisar", "Validar")


def is_read(method: str) -> bool:
    """True for calls without side effects (`ListarClientes`, `ConsultarOS`, `StatusOS`, `ValidarOS`...)."""
    return method.startswith(READ_PREFIXES)
