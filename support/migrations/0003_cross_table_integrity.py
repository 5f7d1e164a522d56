"""Invariants that span tables, which a CHECK constraint cannot express, enforced by PostgreSQL itself
(composite foreign keys on the (id, customer) and (id, tam_coverage) keys the models declare):

- a subscription's account, and a case's account, belong to its customer;
- a case's subscription is its customer's;
- a subscription's TAM coverage is its plan's, so the CHECK constraint support_subscription_designated_tam
  asks for a TAM on exactly the subscriptions whose plan comes with a designated one. ON UPDATE CASCADE:
  editing a plan's coverage carries over to its subscriptions, where that CHECK then refuses a change
  that would leave a designated-TAM subscription without a TAM (or a TAM where none belongs).

The services check all of these first with friendlier messages; these are the backstop. The embedded
SQLite default relies on the services alone.
"""

from django.db import migrations

FORWARD = [
    """
    ALTER TABLE support_supportsubscription
      ADD CONSTRAINT support_subscription_account_of_customer
      FOREIGN KEY (account_id, customer_id) REFERENCES engagements_awsaccount (id, customer_id)
    """,
    """
    ALTER TABLE support_supportsubscription
      ADD CONSTRAINT support_subscription_coverage_of_plan
      FOREIGN KEY (plan_id, tam_coverage) REFERENCES support_supportplan (id, tam_coverage)
      ON UPDATE CASCADE
    """,
    """
    ALTER TABLE support_supportcase
      ADD CONSTRAINT support_case_account_of_customer
      FOREIGN KEY (account_id, customer_id) REFERENCES engagements_awsaccount (id, customer_id)
    """,
    """
    ALTER TABLE support_supportcase
      ADD CONSTRAINT support_case_subscription_of_customer
      FOREIGN KEY (subscription_id, customer_id) REFERENCES support_supportsubscription (id, customer_id)
    """,
]

BACKWARD = [
    "ALTER TABLE support_supportcase DROP CONSTRAINT IF EXISTS support_case_subscription_of_customer",
    "ALTER TABLE support_supportcase DROP CONSTRAINT IF EXISTS support_case_account_of_customer",
    "ALTER TABLE support_supportsubscription DROP CONSTRAINT IF EXISTS support_subscription_coverage_of_plan",
    "ALTER TABLE support_supportsubscription DROP CONSTRAINT IF EXISTS support_subscription_account_of_customer",
]


def _run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("support", "0002_default_plans")]

    operations = [migrations.RunPython(_run_on_postgresql(FORWARD), _run_on_postgresql(BACKWARD))]
