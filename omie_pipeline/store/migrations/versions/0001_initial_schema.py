"""Initial schema: every table of the state store.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26 07:16:10.716748
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts_sent',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('alert_key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('delivered_channels', sa.Text(), nullable=False),
    sa.Column('pending_channels', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts_sent')),
    sa.UniqueConstraint('account', 'alert_key', name=op.f('uq_alerts_sent_account_alert_key'))
    )
    op.create_table('client_links',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('deal_id', sa.String(length=128), nullable=False),
    sa.Column('document', sa.String(length=20), nullable=False),
    sa.Column('codigo_cliente_omie', sa.BigInteger(), nullable=False),
    sa.Column('codigo_cliente_integracao', sa.String(length=60), nullable=True),
    sa.Column('how', sa.String(length=16), nullable=False),
    sa.Column('linked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'deal_id', name=op.f('pk_client_links'))
    )
    op.create_table('company_profiles',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('company_id', sa.BigInteger(), nullable=True),
    sa.Column('cnpj', sa.String(length=20), nullable=True),
    sa.Column('legal_name', sa.String(length=200), nullable=True),
    sa.Column('regime', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=2), nullable=True),
    sa.Column('issues_nfse', sa.Boolean(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_company_profiles')),
    sa.UniqueConstraint('account', 'valid_from', name=op.f('uq_company_profiles_account_valid_from'))
    )
    with op.batch_alter_table('company_profiles', schema=None) as batch_op:
        batch_op.create_index('uq_company_profiles_open', ['account'], unique=True,
                              sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))

    op.create_table('deal_issues',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('deal_id', sa.String(length=128), nullable=False),
    sa.Column('stage', sa.String(length=32), nullable=False),
    sa.Column('field', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('fix', sa.Text(), nullable=True),
    sa.Column('raw_value', sa.Text(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deal_issues')),
    sa.UniqueConstraint('account', 'deal_id', 'stage', 'field', 'reason', name=op.f('uq_deal_issues_account_deal_id_stage_field_reason'))
    )
    op.create_table('deals',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('deal_id', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=64), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('product_code', sa.String(length=128), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('legal_name', sa.String(length=200), nullable=True),
    sa.Column('trade_name', sa.String(length=200), nullable=True),
    sa.Column('document', sa.String(length=20), nullable=True),
    sa.Column('document_kind', sa.String(length=8), nullable=True),
    sa.Column('email', sa.String(length=500), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('street', sa.String(length=200), nullable=True),
    sa.Column('number', sa.String(length=40), nullable=True),
    sa.Column('complement', sa.String(length=200), nullable=True),
    sa.Column('district', sa.String(length=200), nullable=True),
    sa.Column('city', sa.String(length=200), nullable=True),
    sa.Column('state', sa.String(length=2), nullable=True),
    sa.Column('zip', sa.String(length=8), nullable=True),
    sa.Column('city_ibge_code', sa.String(length=7), nullable=True),
    sa.Column('municipal_registration', sa.String(length=40), nullable=True),
    sa.Column('state_registration', sa.String(length=40), nullable=True),
    sa.Column('is_valid', sa.Boolean(), nullable=False),
    sa.Column('pulled_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'deal_id', name=op.f('pk_deals'))
    )
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.create_index('ix_deals_account_document', ['account', 'document'], unique=False)

    op.create_table('invoice_events',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('deal_id', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_events'))
    )
    with op.batch_alter_table('invoice_events', schema=None) as batch_op:
        batch_op.create_index('ix_invoice_events_account_deal_id', ['account', 'deal_id'], unique=False)

    op.create_table('invoices',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('deal_id', sa.String(length=128), nullable=False),
    sa.Column('idempotency_key', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('codigo_cliente_omie', sa.BigInteger(), nullable=True),
    sa.Column('service_code', sa.String(length=60), nullable=True),
    sa.Column('tax_rate_id', sa.Integer(), nullable=True),
    sa.Column('gross_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('iss_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('pis_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('cofins_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('csll_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('ir_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('inss_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('ibs_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('cbs_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('iss_withheld', sa.Boolean(), nullable=False),
    sa.Column('pis_withheld', sa.Boolean(), nullable=False),
    sa.Column('cofins_withheld', sa.Boolean(), nullable=False),
    sa.Column('csll_withheld', sa.Boolean(), nullable=False),
    sa.Column('ir_withheld', sa.Boolean(), nullable=False),
    sa.Column('inss_withheld', sa.Boolean(), nullable=False),
    sa.Column('iss_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('pis_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('cofins_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('csll_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('ir_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('inss_withheld_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('withheld_total', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('net_amount', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('omie_os_id', sa.BigInteger(), nullable=True),
    sa.Column('os_number', sa.String(length=30), nullable=True),
    sa.Column('rps_status', sa.String(length=8), nullable=True),
    sa.Column('nfse_number', sa.String(length=30), nullable=True),
    sa.Column('verification_code', sa.String(length=60), nullable=True),
    sa.Column('nfse_id', sa.BigInteger(), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pdf_url', sa.Text(), nullable=True),
    sa.Column('xml_url', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('fix', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_checked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('cancel_requested_by', sa.String(length=128), nullable=True),
    sa.Column('cancel_requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('account', 'deal_id', name=op.f('uq_invoices_account_deal_id')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_invoices_idempotency_key'))
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_account_status', ['account', 'status'], unique=False)

    op.create_table('omie_clients',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('codigo_cliente_omie', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('codigo_cliente_integracao', sa.String(length=60), nullable=True),
    sa.Column('document', sa.String(length=20), nullable=True),
    sa.Column('legal_name', sa.String(length=200), nullable=True),
    sa.Column('trade_name', sa.String(length=200), nullable=True),
    sa.Column('inactive', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'codigo_cliente_omie', name=op.f('pk_omie_clients'))
    )
    with op.batch_alter_table('omie_clients', schema=None) as batch_op:
        batch_op.create_index('ix_omie_clients_account_document', ['account', 'document'], unique=False)

    op.create_table('service_codes',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('service_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('integration_code', sa.String(length=60), nullable=True),
    sa.Column('code', sa.String(length=60), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('municipal_code', sa.String(length=40), nullable=True),
    sa.Column('lc116_code', sa.String(length=16), nullable=True),
    sa.Column('nbs_code', sa.String(length=40), nullable=True),
    sa.Column('taxation_type', sa.String(length=16), nullable=True),
    sa.Column('unit_price', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('inactive', sa.Boolean(), nullable=False),
    sa.Column('taxes', sa.Text(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'service_id', name=op.f('pk_service_codes'))
    )
    with op.batch_alter_table('service_codes', schema=None) as batch_op:
        batch_op.create_index('ix_service_codes_account_code', ['account', 'code'], unique=False)

    op.create_table('service_map',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('product_code', sa.String(length=128), nullable=False),
    sa.Column('service_code', sa.String(length=60), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'product_code', name=op.f('pk_service_map'))
    )
    op.create_table('sync_state',
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('account', 'key', name=op.f('pk_sync_state'))
    )
    op.create_table('tax_rates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('account', sa.String(length=64), nullable=False),
    sa.Column('service_code', sa.String(length=60), nullable=False),
    sa.Column('regime', sa.String(length=32), nullable=False),
    sa.Column('iss', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('pis', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('cofins', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('csll', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('ir', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('inss', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('ibs_uf', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('ibs_mun', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('cbs', sa.Numeric(precision=9, scale=4), nullable=False),
    sa.Column('retain_iss', sa.Boolean(), nullable=False),
    sa.Column('retain_pis', sa.Boolean(), nullable=False),
    sa.Column('retain_cofins', sa.Boolean(), nullable=False),
    sa.Column('retain_csll', sa.Boolean(), nullable=False),
    sa.Column('retain_ir', sa.Boolean(), nullable=False),
    sa.Column('retain_inss', sa.Boolean(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_to', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tax_rates')),
    sa.UniqueConstraint('account', 'service_code', 'valid_from', name=op.f('uq_tax_rates_account_service_code_valid_from'))
    )
    with op.batch_alter_table('tax_rates', schema=None) as batch_op:
        batch_op.create_index('uq_tax_rates_open', ['account', 'service_code'], unique=True,
                              sqlite_where=sa.text('valid_to IS NULL'), postgresql_where=sa.text('valid_to IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('tax_rates', schema=None) as batch_op:
        batch_op.drop_index('uq_tax_rates_open')

    op.drop_table('tax_rates')
    op.drop_table('sync_state')
    op.drop_table('service_map')
    with op.batch_alter_table('service_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_service_codes_account_code')

    op.drop_table('service_codes')
    with op.batch_alter_table('omie_clients', schema=None) as batch_op:
        batch_op.drop_index('ix_omie_clients_account_document')

    op.drop_table('omie_clients')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_account_status')

    op.drop_table('invoices')
    with op.batch_alter_table('invoice_events', schema=None) as batch_op:
        batch_op.drop_index('ix_invoice_events_account_deal_id')

    op.drop_table('invoice_events')
    with op.batch_alter_table('deals', schema=None) as batch_op:
        batch_op.drop_index('ix_deals_account_document')

    op.drop_table('deals')
    op.drop_table('deal_issues')
    with op.batch_alter_table('company_profiles', schema=None) as batch_op:
        batch_op.drop_index('uq_company_profiles_open')

    op.drop_table('company_profiles')
    op.drop_table('client_links')
    op.drop_table('alerts_sent')
