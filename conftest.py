# The CDK's standard tests (integration_tests/test_standard.py) get their scenarios and options from these hooks.
pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]
