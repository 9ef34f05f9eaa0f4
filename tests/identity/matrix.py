"""The permission matrix's vocabulary: a row per write endpoint, and how a row builds its calls.

Rows live in one module per area (rows_catalogue.py, rows_city.py) so that areas grow independently;
tests/identity/test_permission_matrix.py runs them all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from app.core.db import writer_session
from app.identity.models import Role
from tests.identity.conftest import World

Which = Literal["own", "other"]


@dataclass(frozen=True)
class Call:
    path: str
    json: Any = None
    # e.g. If-Match with the ETag of an object the builder created (updates need it).
    headers: dict[str, str] | None = None
    # A raw body instead of `json` (e.g. a CSV upload; give its Content-Type in `headers`).
    content: bytes | None = None


@dataclass
class Scenario:
    """What a builder gets: the world's ids, and this cell's database to prepare objects in."""

    world: World
    engine: Engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A writing session, like the app's units of work (`writer_session`): on SQLite it takes the write
        lock before its first read, so that a background writer (the in-process indexer marking outbox rows
        done) makes it wait its turn instead of failing it with "database is locked" as it reads, then writes."""
        with writer_session(self.engine) as session:
            yield session
            session.commit()


Builder = Callable[[Scenario, Which], Call]


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # the route's template, as in app.routes
    build: Builder
    own: frozenset[Role]  # who succeeds on their own object
    other: frozenset[Role] = frozenset({Role.admin})  # who succeeds on someone else's
    success: frozenset[int] = frozenset({200, 201, 204})
    # An endpoint for people without an account or a token (password reset): anonymous callers succeed too.
    anonymous: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    def expected(self, role: Role | None, which: Which) -> bool:
        if role is None:
            return self.anonymous
        return role in (self.own if which == "own" else self.other)


def ab(which: Which) -> str:
    return "a" if which == "own" else "b"


# Every REST write and its mutation (None: not in GraphQL yet, with the reason). A new REST write fails
# tests/graphql/test_mutations.py until it is listed here; the permission matrix runs each row through both.
MUTATION_OF: dict[tuple[str, str], str | None] = {
    ("POST", "/api/v1/solutions"): "createSolution",
    ("PUT", "/api/v1/case-studies/{case_study_id}/translations/{lang}"): "putCaseStudyTranslation",
    ("PUT", "/api/v1/procurement-guidelines/{guideline_id}/translations/{lang}"): "putGuidelineTranslation",
    ("PUT", "/api/v1/challenges/{challenge_id}/translations/{lang}"): "putChallengeTranslation",
    ("PUT", "/api/v1/kpis/{slug}/translations/{lang}"): "putKpiTranslation",
    ("POST", "/api/v1/thesaurus/concepts"): "createThesaurusConcept",
    ("PUT", "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}"): "addThesaurusTerm",
    ("DELETE", "/api/v1/thesaurus/concepts/{concept}/terms/{lang}/{term}"): "removeThesaurusTerm",
    ("PATCH", "/api/v1/solutions/{solution_id}"): "updateSolution",
    ("DELETE", "/api/v1/solutions/{solution_id}"): "deleteSolution",
    ("POST", "/api/v1/solutions/{solution_id}/submit"): "submitSolution",
    ("POST", "/api/v1/solutions/{solution_id}/withdraw"): "withdrawSolution",
    ("POST", "/api/v1/solutions/{solution_id}/request-changes"): "requestSolutionChanges",
    ("POST", "/api/v1/solutions/{solution_id}/publish"): "publishSolution",
    ("POST", "/api/v1/solutions/{solution_id}/reject"): "rejectSolution",
    ("POST", "/api/v1/solutions/{solution_id}/archive"): "archiveSolution",
    ("PUT", "/api/v1/solutions/{solution_id}/translations/{lang}"): "putSolutionTranslation",
    ("PUT", "/api/v1/me/notification-preferences"): "setNotificationPreferences",
    ("POST", "/api/v1/password-reset"): "requestPasswordReset",
    ("POST", "/api/v1/password-reset/confirm"): "confirmPasswordReset",
    ("POST", "/api/v1/invitations"): "inviteToOrganisation",
    ("POST", "/api/v1/invitations/accept"): "acceptInvitation",
    ("POST", "/api/v1/signup"): "signUp",
    ("POST", "/api/v1/signup/verify"): "verifyEmail",
    ("PUT", "/api/v1/users/{user_id}/active"): "setUserActive",
    ("POST", "/api/v1/users/{user_id}/memberships"): "addMembership",
    ("DELETE", "/api/v1/memberships/{membership_id}"): "removeMembership",
    ("POST", "/api/v1/solutions/{solution_id}/restore"): "restoreSolution",
    ("PUT", "/api/v1/hubs/{hub_id}/catalogue/{solution_id}"): "curateHubCatalogue",
    ("DELETE", "/api/v1/hubs/{hub_id}/catalogue/{solution_id}"): "removeFromHubCatalogue",
    ("POST", "/api/v1/cities"): "createCity",
    ("PATCH", "/api/v1/cities/{city_id}"): "updateCity",
    ("PUT", "/api/v1/cities/{city_id}/kpi-values"): "upsertKpiValues",
    ("POST", "/api/v1/cities/{city_id}/kpi-values/import"): "importKpiValues",
    ("POST", "/api/v1/cities/{city_id}/kpi-values/verify"): "verifyKpiValues",
    ("POST", "/api/v1/cities/{city_id}/match-runs"): "saveMatchRun",
    ("POST", "/api/v1/twinnings"): "proposeTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/accept"): "acceptTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/decline"): "declineTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/activate"): "activateTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/complete"): "completeTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/lapse"): "lapseTwinning",
    ("POST", "/api/v1/twinnings/{twinning_id}/activities"): "createTwinningActivity",
    ("PATCH", "/api/v1/twinnings/{twinning_id}/activities/{activity_id}"): "updateTwinningActivity",
    ("DELETE", "/api/v1/twinnings/{twinning_id}/activities/{activity_id}"): "deleteTwinningActivity",
    ("PUT", "/api/v1/twinnings/{twinning_id}/outcome"): "recordTwinningOutcome",
    ("POST", "/api/v1/challenges"): "createChallenge",
    ("PATCH", "/api/v1/challenges/{challenge_id}"): "updateChallenge",
    ("POST", "/api/v1/challenges/{challenge_id}/close"): "closeChallenge",
    ("POST", "/api/v1/challenges/{challenge_id}/award"): "awardChallenge",
    ("POST", "/api/v1/challenges/{challenge_id}/proposals"): "submitProposal",
    ("POST", "/api/v1/challenges/{challenge_id}/comments"): "commentOnChallenge",
    ("PATCH", "/api/v1/proposals/{proposal_id}"): "updateProposal",
    ("POST", "/api/v1/proposals/{proposal_id}/shortlist"): "shortlistProposal",
    ("POST", "/api/v1/proposals/{proposal_id}/accept"): "acceptProposal",
    ("POST", "/api/v1/proposals/{proposal_id}/decline"): "declineProposal",
    ("POST", "/api/v1/proposals/{proposal_id}/comments"): "commentOnProposal",
    ("DELETE", "/api/v1/comments/{comment_id}"): "deleteComment",
    ("POST", "/api/v1/challenges/{challenge_id}/clarifications"): "askClarification",
    ("PUT", "/api/v1/clarifications/{clarification_id}/answer"): "answerClarification",
    ("PUT", "/api/v1/proposals/{proposal_id}/scores"): "scoreProposal",
    ("POST", "/api/v1/vendors"): "createVendor",
    ("PATCH", "/api/v1/vendors/{vendor_id}"): "updateVendor",
    ("POST", "/api/v1/vendors/{vendor_id}/verify"): "verifyVendor",
    ("POST", "/api/v1/case-studies"): "createCaseStudy",
    ("PATCH", "/api/v1/case-studies/{case_study_id}"): "updateCaseStudy",
    ("POST", "/api/v1/case-studies/{case_study_id}/publish"): "publishCaseStudy",
    ("POST", "/api/v1/case-studies/{case_study_id}/archive"): "archiveCaseStudy",
    ("POST", "/api/v1/procurement-guidelines"): "createProcurementGuideline",
    ("PATCH", "/api/v1/procurement-guidelines/{guideline_id}"): "updateProcurementGuideline",
    ("POST", "/api/v1/procurement-guidelines/{guideline_id}/publish"): "publishProcurementGuideline",
    ("POST", "/api/v1/procurement-guidelines/{guideline_id}/archive"): "archiveProcurementGuideline",
    ("PUT", "/api/v1/kpis/{slug}/data-points/{key}/benchmark"): "updateBenchmark",
    ("POST", "/api/v1/webhooks"): "createWebhook",
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): "updateWebhook",
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): "rotateWebhookSecret",
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/resend"): "resendWebhookDelivery",
    ("POST", "/api/v1/me/notifications/read"): "markNotificationsRead",
    ("POST", "/api/v1/me/alerts"): "createAlert",
    ("PATCH", "/api/v1/me/alerts/{alert_id}"): "updateAlert",
    ("DELETE", "/api/v1/me/alerts/{alert_id}"): "deleteAlert",
    ("POST", "/api/v1/moderation/reports"): "reportContent",
    ("POST", "/api/v1/moderation/items/{kind}/{object_id}/hide"): "hideContent",
    ("POST", "/api/v1/moderation/items/{kind}/{object_id}/restore"): "restoreContent",
    ("PUT", "/api/v1/moderation/blocks/{user_id}"): "blockAccount",
    ("DELETE", "/api/v1/moderation/blocks/{user_id}"): "unblockAccount",
}
