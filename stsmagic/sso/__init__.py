"""IAM Identity Center's tokens: the AWS CLI's cache (``cache.py``), the OIDC requests
(``oidc.py``) and the device login that ``%sso_login`` runs (``login.py``)."""
