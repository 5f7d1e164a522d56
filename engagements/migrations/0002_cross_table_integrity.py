"""Invariants that span tables, which a CHECK constraint cannot express, enforced by PostgreSQL itself.

- An account's management account belongs to the same customer (a composite foreign key).
- Accounts form one level under a management account (a trigger).
- An access grant is on an account of the customer whose engagement the partner is on, its role ARN names
  that very account, and while not revoked it never outlives the partner's contract (triggers).

The services check all of these first with friendlier messages; these are the backstop. The embedded
SQLite default relies on the services alone.
"""

from django.db import migrations

FORWARD = [
    """
    ALTER TABLE engagements_awsaccount
      ADD CONSTRAINT aws_account_management_same_customer
      FOREIGN KEY (management_account_id, customer_id)
      REFERENCES engagements_awsaccount (id, customer_id)
    """,
    """
    CREATE FUNCTION engagements_aws_account_check() RETURNS trigger AS $$
    BEGIN
      IF NEW.management_account_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM engagements_awsaccount m
          WHERE m.id = NEW.management_account_id AND m.management_account_id IS NOT NULL) THEN
        RAISE EXCEPTION 'Account % cannot be grouped under a member account: use the management account.',
          NEW.account_id USING ERRCODE = 'check_violation', CONSTRAINT = 'aws_account_one_level';
      END IF;
      IF NEW.management_account_id IS NOT NULL AND EXISTS (
          SELECT 1 FROM engagements_awsaccount a WHERE a.management_account_id = NEW.id) THEN
        RAISE EXCEPTION 'Account % is a management account with members; it cannot be a member itself.',
          NEW.account_id USING ERRCODE = 'check_violation', CONSTRAINT = 'aws_account_one_level';
      END IF;
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER engagements_aws_account_check
      BEFORE INSERT OR UPDATE OF management_account_id ON engagements_awsaccount
      FOR EACH ROW EXECUTE FUNCTION engagements_aws_account_check()
    """,
    """
    CREATE FUNCTION engagements_access_grant_check() RETURNS trigger AS $$
    DECLARE
      account_customer bigint;
      account_number varchar;
      engaged_customer bigint;
      last_day date;
      customer_zone varchar;
    BEGIN
      SELECT a.customer_id, a.account_id INTO account_customer, account_number
        FROM engagements_awsaccount a WHERE a.id = NEW.account_id;
      SELECT e.customer_id, ep.contract_end, c.time_zone INTO engaged_customer, last_day, customer_zone
        FROM engagements_engagementpartner ep
        JOIN engagements_engagement e ON e.id = ep.engagement_id
        JOIN engagements_customer c ON c.id = e.customer_id
        WHERE ep.id = NEW.engagement_partner_id;
      IF account_customer IS DISTINCT FROM engaged_customer THEN
        RAISE EXCEPTION 'Access can only be granted on an account of the customer whose engagement the partner is on.'
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_account_of_engaged_customer';
      END IF;
      IF split_part(NEW.role_arn, ':', 5) <> account_number THEN
        RAISE EXCEPTION 'The role ARN must name the grant''s own account: arn:aws:iam::%:role/%.',
          account_number, NEW.role_name
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_arn_names_account';
      END IF;
      IF NEW.revoked_at IS NULL
         AND NEW.expires_at > ((last_day + 1)::timestamp AT TIME ZONE customer_zone) THEN
        RAISE EXCEPTION 'An access grant cannot outlive the partner''s contract, whose last day is %.', last_day
          USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_within_contract';
      END IF;
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER engagements_access_grant_check
      BEFORE INSERT OR UPDATE ON engagements_accessgrant
      FOR EACH ROW EXECUTE FUNCTION engagements_access_grant_check()
    """,
    """
    CREATE FUNCTION engagements_contract_end_check() RETURNS trigger AS $$
    BEGIN
      IF EXISTS (
          SELECT 1 FROM engagements_accessgrant g
            JOIN engagements_engagement e ON e.id = NEW.engagement_id
            JOIN engagements_customer c ON c.id = e.customer_id
          WHERE g.engagement_partner_id = NEW.id AND g.revoked_at IS NULL
            AND g.expires_at > ((NEW.contract_end + 1)::timestamp AT TIME ZONE c.time_zone)) THEN
        RAISE EXCEPTION 'The contract cannot end on % while the partner holds access that lasts longer; revoke it first.',
          NEW.contract_end USING ERRCODE = 'check_violation', CONSTRAINT = 'access_grant_within_contract';
      END IF;
      RETURN NEW;
    END
    $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER engagements_contract_end_check
      BEFORE UPDATE OF contract_end ON engagements_engagementpartner
      FOR EACH ROW WHEN (NEW.contract_end < OLD.contract_end)
      EXECUTE FUNCTION engagements_contract_end_check()
    """,
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS engagements_contract_end_check ON engagements_engagementpartner",
    "DROP FUNCTION IF EXISTS engagements_contract_end_check()",
    "DROP TRIGGER IF EXISTS engagements_access_grant_check ON engagements_accessgrant",
    "DROP FUNCTION IF EXISTS engagements_access_grant_check()",
    "DROP TRIGGER IF EXISTS engagements_aws_account_check ON engagements_awsaccount",
    "DROP FUNCTION IF EXISTS engagements_aws_account_check()",
    "ALTER TABLE engagements_awsaccount DROP CONSTRAINT IF EXISTS aws_account_management_same_customer",
]


def _run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            # No parameters: the PL/pgSQL bodies use % for their own placeholders.
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("engagements", "0001_initial")]

    operations = [migrations.RunPython(_run_on_postgresql(FORWARD), _run_on_postgresql(BACKWARD))]
