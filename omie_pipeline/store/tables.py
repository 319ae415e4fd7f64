"""The state store's tables, as SQLAlchemy Core metadata.

Every row carries `account` so one deployment can serve several Omie companies. Unique keys, not
read-then-write, are what keep two concurrent writers from creating the same thing twice: the
invoice idempotency key and one invoice per deal above all. The Alembic migrations create exactly
these tables; a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa

from omie_pipeline.store.types import UtcDateTime

# The project's own Alembic version table, so the store can share a database with Dagster's
# PostgreSQL storage, which keeps its own `alembic_version`.
VERSION_TABLE = "omie_pipeline_schema_version"

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)

MONEY = sa.Numeric(16, 2)
RATE = sa.Numeric(9, 4)
TS = UtcDateTime()

deals = sa.Table(
    "deals",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("deal_id", sa.String(128), primary_key=True),
    sa.Column("status", sa.String(64), nullable=False),
    sa.Column("closed_at", TS),
    sa.Column("updated_at", TS),
    sa.Column("amount", MONEY),
    sa.Column("product_code", sa.String(128)),
    sa.Column("description", sa.Text),
    sa.Column("legal_name", sa.String(200)),
    sa.Column("trade_name", sa.String(200)),
    sa.Column("document", sa.String(20)),
    sa.Column("document_kind", sa.String(8)),
    sa.Column("email", sa.String(500)),
    sa.Column("phone", sa.String(40)),
    sa.Column("street", sa.String(200)),
    sa.Column("number", sa.String(40)),
    sa.Column("complement", sa.String(200)),
    sa.Column("district", sa.String(200)),
    sa.Column("city", sa.String(200)),
    sa.Column("state", sa.String(2)),
    sa.Column("zip", sa.String(8)),
    sa.Column("city_ibge_code", sa.String(7)),
    sa.Column("municipal_registration", sa.String(40)),
    sa.Column("state_registration", sa.String(40)),
    sa.Column("is_valid", sa.Boolean, nullable=False, default=True),
    sa.Column("pulled_at", TS, nullable=False),
    sa.Index("ix_deals_account_document", "account", "document"),
)

deal_issues = sa.Table(
    "deal_issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("deal_id", sa.String(128), nullable=False),
    sa.Column("stage", sa.String(32), nullable=False),  # validation, client, service, tax, invoice
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("fix", sa.Text),
    sa.Column("raw_value", sa.Text),  # masked when it is personal data
    sa.Column("first_seen_at", TS, nullable=False),
    sa.Column("last_seen_at", TS, nullable=False),
    sa.Column("resolved_at", TS),
    sa.UniqueConstraint("account", "deal_id", "stage", "field", "reason"),
)

omie_clients = sa.Table(
    "omie_clients",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("codigo_cliente_omie", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("codigo_cliente_integracao", sa.String(60)),
    sa.Column("document", sa.String(20)),
    sa.Column("legal_name", sa.String(200)),
    sa.Column("trade_name", sa.String(200)),
    sa.Column("inactive", sa.Boolean, nullable=False, default=False),
    # What Omie's record lacks for Omie to bill a note to this client (e.g. "email,cep"; NULL when
    # nothing), so a deal is held back before an order is created that ValidarOS would refuse.
    sa.Column("billing_gaps", sa.String(200)),
    sa.Column("changed_at", TS),
    sa.Column("synced_at", TS, nullable=False),
    sa.Index("ix_omie_clients_account_document", "account", "document"),
)

client_links = sa.Table(
    "client_links",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("deal_id", sa.String(128), primary_key=True),
    sa.Column("document", sa.String(20), nullable=False),
    sa.Column("codigo_cliente_omie", sa.BigInteger, nullable=False),
    sa.Column("codigo_cliente_integracao", sa.String(60)),
    sa.Column("how", sa.String(16), nullable=False),  # matched, created, adopted
    sa.Column("linked_at", TS, nullable=False),
    sa.Index("ix_client_links_account_document", "account", "document"),
)

service_codes = sa.Table(
    "service_codes",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("service_id", sa.BigInteger, primary_key=True, autoincrement=False),  # nCodServ
    sa.Column("integration_code", sa.String(60)),  # cCodIntServ
    sa.Column("code", sa.String(60)),  # cCodigo, the code users see
    sa.Column("description", sa.Text),
    sa.Column("municipal_code", sa.String(40)),
    sa.Column("lc116_code", sa.String(16)),
    sa.Column("nbs_code", sa.String(40)),
    sa.Column("taxation_type", sa.String(16)),
    sa.Column("unit_price", MONEY),
    sa.Column("inactive", sa.Boolean, nullable=False, default=False),
    sa.Column("taxes", sa.Text),  # the catalog's `impostos` as JSON, as last listed
    sa.Column("changed_at", TS),
    sa.Column("synced_at", TS, nullable=False),
    sa.Index("ix_service_codes_account_code", "account", "code"),
)

service_map = sa.Table(
    "service_map",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("product_code", sa.String(128), primary_key=True),
    sa.Column("service_code", sa.String(60), nullable=False),
    sa.Column("loaded_at", TS, nullable=False),
)

company_profiles = sa.Table(
    "company_profiles",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("company_id", sa.BigInteger),
    sa.Column("cnpj", sa.String(20)),
    sa.Column("legal_name", sa.String(200)),
    sa.Column("regime", sa.String(32), nullable=False),
    sa.Column("city", sa.String(200)),
    sa.Column("state", sa.String(2)),
    sa.Column("issues_nfse", sa.Boolean),
    sa.Column("valid_from", TS, nullable=False),
    sa.Column("valid_to", TS),
    sa.UniqueConstraint("account", "valid_from"),
    # At most one version in force per account: two concurrent runs cannot both open one.
    sa.Index(
        "uq_company_profiles_open",
        "account",
        unique=True,
        sqlite_where=sa.text("valid_to IS NULL"),
        postgresql_where=sa.text("valid_to IS NULL"),
    ),
)

tax_rates = sa.Table(
    "tax_rates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("service_code", sa.String(60), nullable=False),
    sa.Column("regime", sa.String(32), nullable=False),
    *[
        sa.Column(name, RATE, nullable=False, default=0)
        for name in ("iss", "pis", "cofins", "csll", "ir", "inss", "ibs_uf", "ibs_mun", "cbs")
    ],
    *[
        sa.Column(f"retain_{name}", sa.Boolean, nullable=False, default=False)
        for name in ("iss", "pis", "cofins", "csll", "ir", "inss")
    ],
    sa.Column("valid_from", TS, nullable=False),
    sa.Column("valid_to", TS),
    sa.UniqueConstraint("account", "service_code", "valid_from"),
    # At most one version in force per service: two concurrent runs cannot both open one.
    sa.Index(
        "uq_tax_rates_open",
        "account",
        "service_code",
        unique=True,
        sqlite_where=sa.text("valid_to IS NULL"),
        postgresql_where=sa.text("valid_to IS NULL"),
    ),
)

invoices = sa.Table(
    "invoices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("deal_id", sa.String(128), nullable=False),
    sa.Column("idempotency_key", sa.String(60), nullable=False),  # sent as cCodIntOS
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("codigo_cliente_omie", sa.BigInteger),
    sa.Column("service_code", sa.String(60)),
    sa.Column("tax_rate_id", sa.Integer),  # the rates in force when it was issued
    sa.Column("gross_amount", MONEY, nullable=False),
    *[
        sa.Column(f"{name}_amount", MONEY, nullable=False, default=0)
        for name in ("iss", "pis", "cofins", "csll", "ir", "inss", "ibs", "cbs")
    ],
    *[
        sa.Column(f"{name}_withheld", sa.Boolean, nullable=False, default=False)
        for name in ("iss", "pis", "cofins", "csll", "ir", "inss")
    ],
    # What the payer withholds can differ from the tax itself (PIS/COFINS/CSLL are withheld at the
    # legal 0.65/3/1 % whatever the issuer's own rates), so it is kept per tax.
    *[
        sa.Column(f"{name}_withheld_amount", MONEY, nullable=False, default=0)
        for name in ("iss", "pis", "cofins", "csll", "ir", "inss")
    ],
    sa.Column("withheld_total", MONEY, nullable=False, default=0),
    sa.Column("net_amount", MONEY, nullable=False),
    sa.Column("omie_os_id", sa.BigInteger),  # nCodOS
    sa.Column("os_number", sa.String(30)),  # cNumOS
    sa.Column("rps_status", sa.String(8)),
    sa.Column("nfse_number", sa.String(30)),
    sa.Column("verification_code", sa.String(60)),
    sa.Column("nfse_id", sa.BigInteger),  # nCodNF
    sa.Column("issued_at", TS),
    sa.Column("portal_url", sa.Text),  # the prefeitura's page for the note (HTML), shown as its link
    sa.Column("last_error", sa.Text),
    sa.Column("fix", sa.Text),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("submitted_at", TS),
    sa.Column("status_changed_at", TS, nullable=False),
    sa.Column("last_checked_at", TS),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("cancel_requested_by", sa.String(128)),
    sa.Column("cancel_requested_at", TS),
    sa.Column("cancelled_at", TS),
    # Who is sending this invoice to Omie right now, and since when: a second run skips a claimed
    # intent, and a claim older than the lease (its holder crashed) may be taken over.
    sa.Column("claimed_by", sa.String(128)),
    sa.Column("claimed_at", TS),
    # Which billing of the OS this is: 1 for the first; raised, as the claim of a resend, when a
    # refused NFS-e is corrected and billed again.
    sa.Column("billing_attempt", sa.Integer, nullable=False, default=1, server_default="1"),
    sa.Column("resent_at", TS),  # when the latest resend was claimed
    # Which note of the deal this is: 1, or more after a cancelled note was reissued (its key differs).
    sa.Column("issue_number", sa.Integer, nullable=False, default=1, server_default="1"),
    sa.UniqueConstraint("account", "deal_id"),
    sa.UniqueConstraint("idempotency_key"),
    sa.Index("ix_invoices_account_status", "account", "status"),
    # An id is never given to a later row (SQLite would reuse a deleted row's): a run holding an
    # invoice's id cannot land on another deal's invoice.
    sqlite_autoincrement=True,
)

# A deal's cancelled notes that `invoices reissue` replaced with a new one: the invoice row becomes the
# new note, and the cancelled one is kept here as it was.
reissued_invoices = sa.Table(
    "reissued_invoices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("deal_id", sa.String(128), nullable=False),
    sa.Column("issue_number", sa.Integer, nullable=False),
    sa.Column("idempotency_key", sa.String(60), nullable=False),
    sa.Column("omie_os_id", sa.BigInteger),
    sa.Column("os_number", sa.String(30)),
    sa.Column("nfse_number", sa.String(30)),
    sa.Column("verification_code", sa.String(60)),
    sa.Column("gross_amount", MONEY, nullable=False),
    sa.Column("net_amount", MONEY, nullable=False),
    sa.Column("issued_at", TS),
    sa.Column("cancelled_at", TS),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("cancel_requested_by", sa.String(128)),
    sa.Column("reissued_at", TS, nullable=False),
    sa.Column("reissued_by", sa.String(128), nullable=False),
    sa.UniqueConstraint("account", "deal_id", "issue_number"),
)

# The taxes Omie computed for a deal's invoice, read back from Omie (ConsultarOS item `impostos` after
# the OS is created; ListarNFSEs `Valores` once the note is listed), beside the invoice's own figures.
omie_tax_figures = sa.Table(
    "omie_tax_figures",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("deal_id", sa.String(128), primary_key=True),
    sa.Column("source", sa.String(16), nullable=False),  # ConsultarOS or ListarNFSEs
    sa.Column("iss_base", MONEY),
    *[sa.Column(f"{name}_amount", MONEY) for name in ("iss", "pis", "cofins", "csll", "ir", "inss")],
    sa.Column("net_amount", MONEY),
    sa.Column("reform", sa.Text),  # IBS/CBS fields as Omie returned them (rates, reductions, CST), JSON
    sa.Column("read_at", TS, nullable=False),
)

invoice_events = sa.Table(
    "invoice_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("deal_id", sa.String(128), nullable=False),
    sa.Column("at", TS, nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16), nullable=False),
    sa.Column("detail", sa.Text),
    sa.Index("ix_invoice_events_account_deal_id", "account", "deal_id"),
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", TS, nullable=False),
)

omie_fault_streaks = sa.Table(
    "omie_fault_streaks",
    metadata,
    sa.Column("app_key", sa.String(64), primary_key=True),
    sa.Column("method", sa.String(64), primary_key=True),
    sa.Column("streak", sa.Integer, nullable=False),
    sa.Column("paused_until", TS, nullable=True),
    sa.Column("updated_at", TS, nullable=False),
)

account_companies = sa.Table(
    "account_companies",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("app_key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("cnpj", sa.String(20), nullable=False, unique=True),
    sa.Column("company_name", sa.String(200), nullable=False),
    sa.Column("recorded_at", TS, nullable=False),
)

alerts_sent = sa.Table(
    "alerts_sent",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("alert_key", sa.String(200), nullable=False),  # e.g. stuck:<deal>:<level>
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("level", sa.Integer, nullable=False, default=1),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", TS, nullable=False),
    sa.Column("delivered_channels", sa.Text, nullable=False, default=""),
    sa.Column("pending_channels", sa.Text, nullable=False, default=""),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("account", "alert_key"),
)
