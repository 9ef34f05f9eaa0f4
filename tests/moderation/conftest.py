"""The identity suite's world (a user per role, tokens minted as the token endpoint does) for moderation."""

from tests.identity.conftest import api, app, idb, identity_template, iengine, make_app, world  # noqa: F401
