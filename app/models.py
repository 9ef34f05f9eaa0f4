"""Every table, imported once so that SQLModel.metadata (and Alembic) sees the whole schema."""

from app.accounts.models import EmailVerification
from app.audit.models import AuditEvent
from app.case_studies.models import CaseStudy, CaseStudyOutcome, CaseStudySolution, ContentStatus
from app.challenges.models import (
    Challenge,
    ChallengeCriterion,
    ChallengeKpi,
    ChallengeStatus,
    Clarification,
    Comment,
    Disclosure,
    Proposal,
    ProposalScore,
    ProposalStatus,
)
from app.cities.models import City, Country, DataQuality, KpiObservation
from app.core.idempotency_models import IdempotencyRecord
from app.dashboard.models import DashboardSession
from app.guidelines.models import GuidelineCategory, GuidelineKpi, ProcurementGuideline, ProcurementStage
from app.hubs.models import CatalogueStatus, Hub, HubCatalogueEntry, HubCountry
from app.identity.models import Membership, Organisation, OrganisationKind, Role, User
from app.kpis.models import (
    BenchmarkBasis,
    Direction,
    Kpi,
    KpiBenchmark,
    KpiDataPoint,
    KpiFramework,
    KpiSdg,
    KpiTier,
)
from app.matches.models import MatchKind, MatchRun
from app.moderation.models import AccountBlock, ContentKind, ModeratedItem, ModerationReport, ReportReason
from app.notifications.models import (
    DeliveryStatus,
    Notification,
    NotifyEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from app.search_index.models import SearchOutbox, ThesaurusConcept, ThesaurusTerm
from app.solutions.models import (
    EvidenceLevel,
    ListingStatus,
    Maturity,
    PriceModel,
    Solution,
    SolutionCategory,
    SolutionCountry,
    SolutionDeployment,
    SolutionKpiImpact,
    SolutionLanguage,
    SolutionSdg,
    SolutionTranslation,
    TranslationOrigin,
)
from app.translations.models import ContentTranslation, TranslatableKind
from app.twinnings.models import (
    ActivityStatus,
    Twinning,
    TwinningActivity,
    TwinningActivityKpi,
    TwinningKpi,
    TwinningOutcome,
    TwinningStatus,
)
from app.vendors.models import Vendor, VendorSize

__all__ = [
    "AccountBlock",
    "ActivityStatus",
    "AuditEvent",
    "BenchmarkBasis",
    "CaseStudy",
    "CaseStudyOutcome",
    "CaseStudySolution",
    "CatalogueStatus",
    "Challenge",
    "ChallengeCriterion",
    "ChallengeKpi",
    "ChallengeStatus",
    "City",
    "Clarification",
    "Comment",
    "ContentKind",
    "ContentStatus",
    "ContentTranslation",
    "Country",
    "DashboardSession",
    "DataQuality",
    "DeliveryStatus",
    "Direction",
    "Disclosure",
    "EmailVerification",
    "EvidenceLevel",
    "GuidelineCategory",
    "GuidelineKpi",
    "Hub",
    "HubCatalogueEntry",
    "HubCountry",
    "IdempotencyRecord",
    "Kpi",
    "KpiBenchmark",
    "KpiDataPoint",
    "KpiFramework",
    "KpiObservation",
    "KpiSdg",
    "KpiTier",
    "ListingStatus",
    "MatchKind",
    "MatchRun",
    "Maturity",
    "Membership",
    "ModeratedItem",
    "ModerationReport",
    "Notification",
    "NotifyEvent",
    "Organisation",
    "OrganisationKind",
    "PriceModel",
    "ProcurementGuideline",
    "ProcurementStage",
    "Proposal",
    "ProposalScore",
    "ProposalStatus",
    "ReportReason",
    "Role",
    "SearchOutbox",
    "Solution",
    "SolutionCategory",
    "SolutionCountry",
    "SolutionDeployment",
    "SolutionKpiImpact",
    "SolutionLanguage",
    "SolutionSdg",
    "SolutionTranslation",
    "ThesaurusConcept",
    "ThesaurusTerm",
    "TranslatableKind",
    "TranslationOrigin",
    "Twinning",
    "TwinningActivity",
    "TwinningActivityKpi",
    "TwinningKpi",
    "TwinningOutcome",
    "TwinningStatus",
    "User",
    "Vendor",
    "VendorSize",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
]

# Every ORM session records changes to searchable content in the outbox (app/search_index/outbox.py).
# ... and every audited write raises its catalogue event in the same transaction (app/notifications/outbox.py).
import app.notifications.outbox
import app.search_index.outbox  # noqa: F401
